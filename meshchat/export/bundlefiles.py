"""The files a bundle carries: beside ``BUNDLE``, a folder ``BUNDLE.files/`` of whole blobs, each named by its
id (64 hex digits).

Written: every file a message of this node's log carries that this node holds whole, less those the peer's
frontier says it holds already, less those above ``max_size`` if the person set one (a 4 GB stick, a video
nobody asked for). Read (and so an export's ``attachments/``, taken into an HQ archive): each file must be one
a message of the receiving store carries (after the entries went in), of the size the message says, and its
chunks must hash to its id; it moves into the blob store only then (``BlobStore.add_checked``: nothing
half-written is left). A file on a stick is untrusted: it is opened without following links, and never read
past the size its message states.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from meshchat.blobs.store import BlobStore
from meshchat.export.progress import Progress
from meshchat.files import UnsafeFileError, open_untrusted
from meshchat.log.attachments import Attachment, AttachmentError
from meshchat.store import Store, StoreError
from meshchat.store.queries import Views

FILES_SUFFIX = ".files"
_BLOB_NAME = re.compile(r"[0-9a-f]{64}")


def files_dir(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + FILES_SUFFIX)


def carried_files(store: Store) -> list[Attachment]:
    """Every file the log's messages carry (each blob once), as the posts describe them."""
    _, files = Views(store).files_since(0)
    return files


@dataclass
class FilesWritten:
    count: int = 0
    bytes: int = 0
    left_out: list[Attachment] = field(default_factory=list)  # above the size limit


def write_files(
    files: Iterable[Attachment],
    blobs: BlobStore,
    bundle: Path,
    *,
    peer_holds: frozenset[bytes] = frozenset(),
    max_size: int | None = None,
    progress: Progress | None = None,
) -> FilesWritten:
    """Copy the files the peer lacks into ``BUNDLE.files/`` (built under a temporary name, renamed at the end;
    a folder from an earlier bundle of the same name is replaced)."""
    progress = progress or Progress.silent()
    result = FilesWritten()
    chosen = []
    for file in files:
        if file.blob in peer_holds or not blobs.has(file.blob):
            continue
        if max_size is not None and file.size > max_size:
            result.left_out.append(file)
            continue
        chosen.append(file)
    target = files_dir(bundle)
    if not chosen:
        return result
    work = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}")
    work.mkdir()
    try:
        progress.stage(f"copying {len(chosen)} files beside the bundle", sum(f.size for f in chosen))
        for file in chosen:
            with blobs.open(file.blob) as src, (work / file.blob.hex()).open("xb") as out:
                while block := src.read(1 << 20):
                    out.write(block)
                    progress.advance(len(block))
                out.flush()
                os.fsync(out.fileno())
            result.count += 1
            result.bytes += file.size
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    progress.done()
    return result


@dataclass
class FilesRead:
    taken: int = 0
    held: int = 0  # already here
    refused: list[str] = field(default_factory=list)  # why each refused file was


def import_files(store: Store, blobs: BlobStore, bundle: Path, *, progress: Progress | None = None) -> FilesRead:
    """Take in the files beside ``bundle`` that this store's messages carry, each checked chunk by chunk."""
    return take_files(store, blobs, files_dir(bundle), progress=progress)


def take_files(store: Store, blobs: BlobStore, folder: Path, *, progress: Progress | None = None) -> FilesRead:
    """Take in the files of ``folder`` (each named by its blob id: a bundle's ``BUNDLE.files/``, an export's
    ``attachments/``) that this store's messages carry, each checked chunk by chunk on its way in."""
    progress = progress or Progress.silent()
    result = FilesRead()
    if not folder.is_dir():
        return result
    names = sorted(p.name for p in folder.iterdir())
    wanted = {f.blob: f for f in Views(store).files_of([bytes.fromhex(n) for n in names if _BLOB_NAME.fullmatch(n)])}
    progress.stage(f"checking {len(names)} files in {folder.name}/", len(names))
    for name in names:
        progress.advance()
        file = wanted.get(bytes.fromhex(name)) if _BLOB_NAME.fullmatch(name) else None
        if file is None:
            result.refused.append(f"{name[:70]}: no message here carries this file")
            continue
        if blobs.has(file.blob):
            result.held += 1
            continue
        try:
            with open_untrusted(Path(name), inside=folder) as src:
                blobs.add_checked(src, file.blob, file.size)
        except (UnsafeFileError, AttachmentError) as exc:
            result.refused.append(f"{name[:16]}… ({file.name}): {exc}")
            continue
        except StoreError as exc:  # the disk is full: the rest cannot go in either
            result.refused.append(f"{name[:16]}… ({file.name}): {exc}")
            break
        result.taken += 1
    progress.done()
    return result
