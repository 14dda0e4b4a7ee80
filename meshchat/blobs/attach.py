"""Attaching a file: copied into the blob store, hashed, typed, and, for an image, a thumbnail made.

The message then carries the descriptor (``meshchat.log.attachments.Attachment``); the file waits in the
blob store for peers to fetch. Thumbnails share the entry's 64 KiB with the text and the other files, so the
budget of each shrinks as a message carries more images.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path

from meshchat.blobs.images import probe, thumbnail
from meshchat.blobs.store import BlobStore, BlobTooLarge
from meshchat.log.attachments import MAX_FILE_NAME, MAX_FILES, MAX_THUMB, MIME_PATTERN, Attachment
from meshchat.store import StoreError

ENTRY_ROOM_FOR_THUMBS = 44 * 1024  # of the 64 KiB entry, what thumbnails may take beside the text
OCTET_STREAM = "application/octet-stream"


class AttachError(ValueError):
    """A file that cannot be attached; the message says why (and the limit, if that is why)."""


def attach_files(store: BlobStore, paths: Sequence[Path], *, max_size: int, text: str = "") -> list[Attachment]:
    """Descriptors for ``paths``, each file copied into ``store``. Raises :class:`AttachError` (too many,
    too large, unreadable, no room on the disk: the message says which)."""
    if len(paths) > MAX_FILES:
        raise AttachError(f"a message carries at most {MAX_FILES} files; this one has {len(paths)}")
    room = max(0, ENTRY_ROOM_FOR_THUMBS - len(text.encode("utf-8")))
    budget = min(MAX_THUMB, room // max(1, len(paths)))
    out = []
    for path in paths:
        out.append(attach_file(store, path, max_size=max_size, thumb_budget=budget))
    return out


def attach_file(store: BlobStore, path: Path, *, max_size: int, thumb_budget: int = MAX_THUMB) -> Attachment:
    try:
        stored = store.add_file(path, max_size=max_size)
    except BlobTooLarge as exc:
        raise AttachError(str(exc)) from None
    except StoreError as exc:
        raise AttachError(f"cannot attach {path.name}: {exc}") from None
    except OSError as exc:
        reason = f"{path}: {exc.strerror}" if exc.strerror else str(exc)
        raise AttachError(f"cannot attach: {reason}") from None
    name = file_name(path.name)
    info = probe(stored.path)
    if info is None:
        return Attachment(stored.blob, stored.size, name, guess_type(name))
    thumb = thumbnail(stored.path, budget=thumb_budget) if thumb_budget >= 1024 else None
    return Attachment(stored.blob, stored.size, name, info.mime, thumb, info.width, info.height)


def file_name(name: str) -> str:
    """The name a message gives a file: the file's own, cut to the limit with its extension kept."""
    name = name.replace("\x00", "").strip() or "file"
    if len(name) <= MAX_FILE_NAME:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and 0 < len(ext) <= 16:
        return stem[: MAX_FILE_NAME - len(ext) - 1] + "." + ext
    return name[:MAX_FILE_NAME]


def guess_type(name: str) -> str:
    """A MIME type from the file's name (only images are told by their content; see ``images.probe``)."""
    guessed, _ = mimetypes.guess_type(name, strict=False)
    if guessed and MIME_PATTERN.fullmatch(guessed.lower()) and not guessed.startswith("image/"):
        return guessed.lower()
    return OCTET_STREAM
