"""The lines under a message that carries files: one per file (name, size, type, where it stands here) and,
for an image, its preview from the thumbnail in the entry.

``▤ breach.jpg · 2.3 MB · JPEG 3000x2000 · fetching 40%``. The state says what a person can do next: a file
not fetched says ``f fetches`` (act mode), one held says nothing more (``o`` opens, ``s`` saves, ``v`` shows an
image: the action bar lists them). File names are member text: made safe (``tui.format.shown``); the type
was checked against a strict pattern when the entry was read.
"""

from __future__ import annotations

from textual.content import Content

from meshchat.blobs.service import FileState
from meshchat.blobs.store import human_size
from meshchat.log.attachments import Attachment
from tui.format import shown
from tui.widgets.attachments.preview import thumbnail_preview

MAX_NAME_CELLS = 48

STATE_STYLES = {"here": "$text-success", "fetching": "$text-accent", "problem": "bold $text-error"}


def state_words(state: FileState) -> tuple[str, str]:
    """What a file's state line says in the chat, and its style."""
    if state.here:
        return "here", STATE_STYLES["here"]
    if state.problem:
        return f"not fetched: {state.problem}", STATE_STYLES["problem"]
    if state.fetching:
        return state.words(), STATE_STYLES["fetching"]
    return "not fetched · f fetches", "$text-muted"


def type_words(file: Attachment) -> str:
    """``JPEG 3000x2000`` for an image, the MIME type otherwise."""
    if file.is_image and file.width and file.height:
        return f"{file.type.removeprefix('image/').upper()} {file.width}x{file.height}"
    return file.type


def file_name(file: Attachment) -> str:
    name = shown(file.name)
    return name if len(name) <= MAX_NAME_CELLS else name[: MAX_NAME_CELLS - 1] + "…"


def file_lines(files: tuple[Attachment, ...], states: tuple[tuple[str, str], ...]) -> Content:
    """The block under a message: each file's line (``states``: its words and style, from :func:`state_words`)
    and, for an image with a thumbnail, its preview under it."""
    parts: list[Content | str | tuple[str, str]] = []
    for index, file in enumerate(files):
        words, style = states[index] if index < len(states) else ("", "")
        parts.append("\n")
        parts.append(("▤ ", "$text-accent"))
        parts.append((file_name(file), "bold"))
        parts.append((f" · {human_size(file.size)} · {type_words(file)}", "$text-muted"))
        if words:
            parts.append(" · ")
            parts.append((words, style))
        preview = thumbnail_preview(file)
        if preview is not None:
            parts.append("\n")
            parts.append(preview)
    return Content.assemble(*parts)


def block_height(files: tuple[Attachment, ...]) -> int:
    """Lines :func:`file_lines` takes (a message with files folds only after its text's own lines)."""
    lines = 0
    for file in files:
        preview = thumbnail_preview(file)
        lines += 1 + (len(preview.plain.split("\n")) if preview is not None else 0)
    return lines
