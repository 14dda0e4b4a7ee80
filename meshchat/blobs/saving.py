"""Saving a copy of an attached file where a person says: under a name made safe, never over another file."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from meshchat.blobs.store import BlobStore
from meshchat.log.attachments import Attachment
from meshchat.profile import ProfileError


def save_name(file: Attachment) -> str:
    """The file's own name, made safe to create: no path, no hidden file, no control or format characters."""
    name = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in file.name).strip().lstrip(".")
    return name or f"file-{file.blob.hex()[:12]}"


def save_copy(store: BlobStore, file: Attachment, target: Path) -> Path:
    """Copy ``file`` (held in ``store``) to ``target``, or into it under :func:`save_name` if it is a directory.
    Raises :class:`ProfileError` if the file is not here, ``target`` exists, or it cannot be written."""
    if not store.has(file.blob):
        raise ProfileError(f"{file.name} is not here yet: fetch it first")
    path = target / save_name(file) if target.is_dir() else target
    created = False
    try:
        with store.open(file.blob) as src, path.open("xb") as out:
            created = True
            shutil.copyfileobj(src, out, 1024 * 1024)
    except FileExistsError:
        raise ProfileError(f"{path} exists already: give another name") from None
    except OSError as exc:
        if created:
            with contextlib.suppress(OSError):
                os.unlink(path)  # nothing half-written left behind
        raise ProfileError(f"cannot save to {path}: {exc.strerror or exc}") from None
    return path


OPEN_DIR = "open"  # under the blob store: read-only copies under their own names, for the system's viewer


def viewable_copy(store: BlobStore, file: Attachment) -> Path:
    """A read-only copy of ``file`` under its own (safe) name, for a system viewer that goes by the name's
    extension. A copy, not the blob itself: a viewer or an editor that writes to what it opened must not
    change a blob (it is served to peers by its hash). Made once per file; raises :class:`ProfileError`."""
    folder = store.root / OPEN_DIR / file.blob.hex()[:32]
    path = folder / save_name(file)
    if path.is_file() and path.stat().st_size == file.size:
        return path
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        save_copy(store, file, path)
        os.chmod(path, 0o400)
    except OSError as exc:
        raise ProfileError(f"cannot make a copy to open: {exc.strerror or exc}") from None
    return path
