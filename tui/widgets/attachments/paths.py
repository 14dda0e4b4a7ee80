"""A path field that completes what is typed from the disk, as a shell does: ``~/Pho`` suggests
``~/Photos/``, Tab takes the suggestion (and, where several names fit, as much as they share).

No file manager: a person under stress types the start of a name and presses Tab. Names on the disk are
shown made safe (a file name can hold anything but ``/`` and NUL).
"""

from __future__ import annotations

import os
from pathlib import Path

from textual import events
from textual.suggester import Suggester

from tui.format import shown
from tui.widgets.fields import Field

MAX_LISTED = 400  # entries of one directory read for completing (a huge folder stays quick)


def expand(text: str) -> Path:
    """What a person typed as a path (``~`` is their home)."""
    return Path(os.path.expanduser(text.strip()))


def candidates(text: str) -> list[str]:
    """The completions of ``text`` in its directory: whole names (a directory's ends with ``/``), sorted,
    hidden files only when the name typed starts with a dot."""
    if not text:
        return []
    head, _, prefix = text.rpartition("/")
    folder = expand(head + "/") if head or text.startswith("/") else Path.cwd()
    out: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= MAX_LISTED:
                    break
                name = entry.name
                if not name.startswith(prefix) or (name.startswith(".") and not prefix.startswith(".")):
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                out.append(name + "/" if is_dir else name)
    except OSError:
        return []
    base = head + "/" if head or text.startswith("/") else ""
    return sorted(base + name for name in out)


def completion(text: str) -> str | None:
    """What Tab makes of ``text``: the one name that fits, or the longest start all fitting names share
    (``None``: nothing to add)."""
    found = candidates(text)
    if not found:
        return None
    common = os.path.commonprefix(found)  # noqa: RUF071  (as a shell completes: by characters)
    return common if len(common) > len(text) else None


class PathSuggester(Suggester):
    """Suggests :func:`completion` as the person types (shown dimmed after the cursor)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return completion(value)


class PathField(Field):
    """A :class:`~tui.widgets.fields.Field` for a path: Tab completes (moves on only when nothing is left to
    complete)."""

    def __init__(self, value: str | None = None, placeholder: str = "", **options: object) -> None:
        super().__init__(value, placeholder, suggester=PathSuggester(), **options)  # type: ignore[arg-type]

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "tab" and self.screen.focused is self:
            done = completion(self.value)
            if done is not None:
                event.stop()
                event.prevent_default()
                self.value = done
                self.cursor_position = len(done)
                return
        await super()._on_key(event)

    def matches_text(self, limit: int = 6) -> str:
        """``3 fit: a.jpg  b.jpg  c.pdf`` under the field, when more than one name fits what is typed."""
        found = candidates(self.value)
        if len(found) < 2:
            return ""
        names = [shown(Path(name.rstrip("/")).name) + ("/" if name.endswith("/") else "") for name in found]
        more = f"  … {len(names) - limit} more" if len(names) > limit else ""
        return f"{len(names)} fit: " + "  ".join(names[:limit]) + more
