"""Attachments in an export: which files the log's messages carry, which of them the export holds, and how
``verify`` checks both.

The manifest states two things about files (docs/hq.md "Attachments"):

- ``attachments``: every file any message of the log carries, by blob id and size, sorted by id. It is a
  function of the log alone, so the verifier computes it again and compares (a file cannot be left out of the
  list, nor one added, without the signature or the comparison failing).
- ``attachment_files``: ``{blob id: "attachments/<blob id>"}`` for the files the exporting node held and
  copied. Each is listed in ``files`` too (size and BLAKE2b digest, checked with every other file), and the
  verifier also hashes it chunk by chunk and checks that it *is* the blob its id names, the check every node
  makes on a fetch. A file the exporting node never fetched is listed in ``attachments`` and not here: HQ
  sees it as missing, by hash, never silently absent.

Files are stored under their id alone (``attachments/<64 hex digits>``): names are member text, and a hostile
one must not choose a path at HQ. Names, types and the messages that carry each file are in
``operation.sqlite`` (table ``attachments``), ``messages.csv`` and ``timeline.html``.

No store here (the verifier needs only the bundle).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from meshchat.export import manifest
from meshchat.export.chains import Add
from meshchat.export.problems import Severity
from meshchat.files import UnsafeFileError, open_untrusted
from meshchat.log.attachments import CHUNK_SIZE, Attachment, attachments_of, blob_id, chunk_hash
from meshchat.log.codec import Value

E = Severity.ERROR
W = Severity.WARNING
ATTACHMENTS_DIR = "attachments"
POST_FILES_MARK = b"\xa5files"  # msgpack "files": a post without it carries no file (no need to decode it)


def attachment_path(blob: bytes) -> str:
    """Where the export keeps a file, relative to its directory."""
    return f"{ATTACHMENTS_DIR}/{blob.hex()}"


class FileList:
    """The files the log's messages carry, gathered while the log is read (by the exporter and the verifier
    alike): every descriptor of every ``msg.post``, each blob once."""

    def __init__(self) -> None:
        self.sizes: dict[bytes, int] = {}

    def add_post(self, body: Mapping[str, Value]) -> None:
        for file in attachments_of(body):
            self.sizes.setdefault(file.blob, file.size)

    def add(self, files: Iterable[Attachment]) -> None:
        for file in files:
            self.sizes.setdefault(file.blob, file.size)

    def section(self) -> list[dict[str, Any]]:
        """The manifest's ``attachments``."""
        return [{"blob": blob.hex(), "size": size} for blob, size in sorted(self.sizes.items())]


def file_blob_id(path: Path, *, inside: Path | None = None) -> tuple[int, bytes]:
    """Size and blob id of a file, read a chunk at a time (opened the one safe way: no links, no pipes)."""
    hashes: list[bytes] = []
    size = 0
    with open_untrusted(path, inside=inside) as f:
        while chunk := f.read(CHUNK_SIZE):
            hashes.append(chunk_hash(chunk))
            size += len(chunk)
    if not hashes:
        hashes.append(chunk_hash(b""))
    return size, blob_id(size, b"".join(hashes))


def check_attachments(path: Path, doc: Mapping[str, Any], expected: FileList, add: Add) -> tuple[int, int]:
    """The manifest's files against the log's (``expected``), and each file the export holds against its id.
    Returns ``(held, missing)``."""
    section = expected.section()
    stated = doc.get("attachments", [])
    if stated != section:
        add(
            E,
            "manifest",
            f"the manifest's 'attachments' does not match the log: it lists {_count(stated)} files, the log's "
            f"messages carry {len(section)}",
            where=manifest.MANIFEST_FILE,
        )
    held = doc.get("attachment_files", {})
    if not isinstance(held, dict):
        add(E, "manifest", "the manifest's 'attachment_files' is malformed", where=manifest.MANIFEST_FILE)
        held = {}
    listed_files = doc.get("files") if isinstance(doc.get("files"), dict) else {}
    assert isinstance(listed_files, dict)
    found = 0
    for key, rel in sorted(held.items(), key=lambda item: str(item[0])):
        blob = _blob(key)
        if blob is None or blob not in expected.sizes or rel != attachment_path(blob):
            add(E, "attachment-unknown", f"the export holds a file no message carries: {str(key)[:80]!r}")
            continue
        if rel not in listed_files:
            add(E, "manifest", f"{rel} is not listed in the manifest's files", where=manifest.MANIFEST_FILE)
            continue
        try:
            size, actual = file_blob_id(Path(rel), inside=path)
        except UnsafeFileError:
            continue  # said by the check of every listed file (missing, or not a regular file)
        if actual != blob or size != expected.sizes[blob]:
            add(E, "attachment-corrupt", f"{rel} is not the file its id names (its chunks hash otherwise)", where=rel)
            continue
        found += 1
    missing = [blob for blob in sorted(expected.sizes) if blob.hex() not in held]
    for blob in missing:
        add(
            W,
            "attachment-missing",
            f"file {blob.hex()} ({expected.sizes[blob]} bytes) is carried by a message but not in the export: the "
            "exporting node never fetched it (another node's export may hold it)",
        )
    return found, len(missing)


def _blob(key: object) -> bytes | None:
    if not isinstance(key, str) or len(key) != 64:
        return None
    try:
        return bytes.fromhex(key)
    except ValueError:
        return None


def _count(value: object) -> str:
    return str(len(value)) if isinstance(value, list) else "no"
