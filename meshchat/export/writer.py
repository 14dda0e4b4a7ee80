"""``export``: write a team's whole log, its fork proofs, the reports and a signed manifest into a directory.

The directory is built under a temporary name beside the target and renamed into place at the end, so a
half-written export never looks like a finished one. Everything is read in one snapshot of the store, so a
node that keeps running meanwhile cannot make the log, the manifest and the reports disagree.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from meshchat import __version__
from meshchat.blobs.store import BlobStore
from meshchat.export import manifest
from meshchat.export.attachments import ATTACHMENTS_DIR, POST_FILES_MARK, FileList, attachment_path
from meshchat.export.entries import ENTRIES_FILE, write_entries
from meshchat.export.errors import ExportError
from meshchat.export.framing import StreamHeader, StreamWriter
from meshchat.export.logs import author_rows, log_order, snapshot, team_order
from meshchat.export.operation import OPERATION_FILE
from meshchat.export.operation.rows import Source
from meshchat.export.operation.source import operation_source
from meshchat.export.operation.sqlfile import write_operation
from meshchat.export.places import GEOJSON_FILE, KML_FILE
from meshchat.export.places.model import places_of
from meshchat.export.places.render import render
from meshchat.export.progress import Progress
from meshchat.export.reports import ReportFilter, collect, write_reports
from meshchat.export.summary import AuthorHead, ForkRecord, LogSummary, role_label
from meshchat.log.attachments import CHUNK_SIZE, blob_id, chunk_hash
from meshchat.log.entry import Entry, Signer, decode_entry
from meshchat.store import Store

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ExportResult:
    out: Path
    entries: int
    fork_proofs: int
    log_bytes: int
    files: tuple[str, ...]  # every file but the manifest, its signature and the attachments, relative to ``out``
    data_files: tuple[str, ...] = ()  # the machine-readable ones (entries.jsonl, ...)
    attachment_files: tuple[str, ...] = ()  # the files of messages the exporting node held, copied
    attachments_missing: int = 0  # files messages carry that the exporting node never fetched (listed by id)


def export_store(
    store: Store,
    signer: Signer,
    out: Path,
    *,
    report_filter: ReportFilter | None = None,
    heads_entry: Entry | None = None,
    progress: Progress | None = None,
    now: int | None = None,
    blobs: BlobStore | None = None,
) -> ExportResult:
    """Export ``store`` into the new directory ``out``, signing the manifest with ``signer``; the files of
    messages that ``blobs`` holds are copied in (``None``: none, every file is listed as missing)."""
    progress = progress or Progress.silent()
    report_filter = report_filter or ReportFilter()
    _check_target(out)
    work = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    work.mkdir(parents=True)
    try:
        with snapshot(store):
            result = _write(store, signer, work, report_filter, heads_entry, progress, now, blobs)
        if out.exists():
            out.rmdir()  # empty, checked above
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportResult(
        out,
        result.entries,
        result.fork_proofs,
        result.log_bytes,
        result.files,
        result.data_files,
        result.attachment_files,
        result.attachments_missing,
    )


def _check_target(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} exists and is not an empty directory; choose a new --out")
    if not out.parent.exists():
        raise ExportError(f"{out.parent} does not exist")


def _write(
    store: Store,
    signer: Signer,
    work: Path,
    report_filter: ReportFilter,
    heads_entry: Entry | None,
    progress: Progress,
    now: int | None,
    blobs: BlobStore | None,
) -> ExportResult:
    made = int(time.time() * 1000) if now is None else now
    summary = LogSummary(store.team_id)
    carried = FileList()
    heads = store.heads()
    authors = log_order(store)
    total = sum(heads[a].seq for a in authors)
    log_bytes = _write_log(store, signer, work, made, authors, total, summary, carried, progress)

    proofs = store.fork_proofs()
    progress.stage("writing forks.msgpack", len(proofs))
    forks: dict[tuple[bytes, int], set[bytes]] = {}
    with (work / manifest.FORKS_FILE).open("wb") as f:
        writer = StreamWriter(f, StreamHeader(store.team_id, "forks", len(proofs), signer.public_key, made))
        for stored_raw, other_raw in proofs:
            stored, other = decode_entry(stored_raw), decode_entry(other_raw)
            forks.setdefault((stored.author, stored.seq), {stored.id}).add(other.id)
            writer.write(other_raw)
            progress.advance()
        writer.finish()

    membership = summary.membership(store.forked_authors())
    progress.stage(f"writing {ENTRIES_FILE}", total)
    with (work / ENTRIES_FILE).open("w", encoding="utf-8", newline="\n") as f:
        write_entries(_advancing(team_order(store), progress), membership, f)
    progress.stage("reading the views")
    everything = collect(store, report_filter=ReportFilter(), exported_at=made, exported_by=signer.public_key)
    copied = _copy_attachments(carried, blobs, work, progress)
    everything.files_here = frozenset(copied)
    data_files = [ENTRIES_FILE, *_write_data(work, operation_source(store, everything), progress)]
    data = everything
    if report_filter != ReportFilter():  # the data files are whole; narrowed reports read the views again
        progress.stage("reading the views for the narrowed reports")
        data = collect(store, report_filter=report_filter, exported_at=made, exported_by=signer.public_key)
        data.files_here = everything.files_here
    files = data_files + write_reports(data, work, progress=progress)

    progress.stage("signing the manifest")
    doc: dict[str, Any] = manifest.log_sections(
        team_id=store.team_id,
        team_name=summary.team_name(),
        heads=[AuthorHead(a, heads[a].seq, heads[a].seq, heads[a].id) for a in authors],
        forks=[ForkRecord(a, s, tuple(ids)) for (a, s), ids in forks.items()],
        fork_proofs=len(proofs),
        retractions=summary.retractions,
        membership=membership,
    )
    doc.update(
        {
            "format": manifest.FORMAT,
            "v": manifest.VERSION,
            "software": f"meshchat {__version__}",
            "exported_by": {
                "key": signer.public_key.hex(),
                "name": membership.display_name(signer.public_key),
                "role": role_label(membership, signer.public_key),
            },
            "exported_at": made,
            "exported_at_utc": manifest.utc_text(made),
            "reports_filter": {
                "since": report_filter.since,
                "room": report_filter.room.hex() if report_filter.room else None,
            },
            "heads_entry": (
                {"author": heads_entry.author.hex(), "seq": heads_entry.seq, "id": heads_entry.id.hex()}
                if heads_entry
                else None
            ),
            "data_files": data_files,
            "attachments": carried.section(),
            "attachment_files": {blob.hex(): attachment_path(blob) for blob in sorted(copied)},
            "files": {},
        }
    )
    attachment_files = [attachment_path(blob) for blob in sorted(copied)]
    for name in [manifest.LOG_FILE, manifest.FORKS_FILE, *files, *attachment_files]:
        size, digest = manifest.file_digest(work / name)
        doc["files"][name] = {"bytes": size, "blake2b": digest}
    body = manifest.encode(doc)
    (work / manifest.MANIFEST_FILE).write_bytes(body)
    (work / manifest.SIGNATURE_FILE).write_bytes(manifest.sign(body, signer))
    progress.done()
    listed = (manifest.LOG_FILE, manifest.FORKS_FILE, *files)
    missing = len(carried.sizes) - len(copied)
    return ExportResult(
        work, total, len(proofs), log_bytes, listed, tuple(data_files), tuple(attachment_files), missing
    )


def _write_log(
    store: Store,
    signer: Signer,
    work: Path,
    made: int,
    authors: list[bytes],
    total: int,
    summary: LogSummary,
    carried: FileList,
    progress: Progress,
) -> int:
    """``log.msgpack``: every author's chain in order; ``summary`` and ``carried`` (the files of posts) learn
    the log on the way. Returns its size."""
    heads = store.heads()
    progress.stage("writing log.msgpack", total)
    with (work / manifest.LOG_FILE).open("wb") as f:
        writer = StreamWriter(f, StreamHeader(store.team_id, "chains", total, signer.public_key, made))
        for author in authors:
            for kind, raw in author_rows(store, author, 0, heads[author].seq):
                if summary.needs(kind):
                    summary.add(decode_entry(raw))
                else:
                    summary.kinds[kind] += 1
                if kind == "msg.post" and POST_FILES_MARK in raw:
                    carried.add_post(decode_entry(raw).decoded_body)
                writer.write(raw)
                progress.advance()
        writer.finish()
    return writer.bytes


def _copy_attachments(carried: FileList, blobs: BlobStore | None, work: Path, progress: Progress) -> list[bytes]:
    """Copy in every file a message carries that ``blobs`` holds whole (a partial fetch is not a file)."""
    held = [b for b in sorted(carried.sizes) if blobs is not None and blobs.has(b)]
    progress.stage(f"copying {len(held)} attached files", sum(carried.sizes[b] for b in held))
    if not held:
        return []
    assert blobs is not None
    (work / ATTACHMENTS_DIR).mkdir()
    copied = []
    for blob in held:
        target = work / attachment_path(blob)
        hashes, size = [], 0
        with blobs.open(blob) as src, target.open("xb") as out:
            while chunk := src.read(CHUNK_SIZE):
                hashes.append(chunk_hash(chunk))
                size += len(chunk)
                out.write(chunk)
                progress.advance(len(chunk))
        if blob_id(size, b"".join(hashes) or chunk_hash(b"")) != blob:  # changed on this disk since it was checked
            target.unlink()
            continue
        copied.append(blob)
    return copied


def _write_data(work: Path, source: Source, progress: Progress) -> list[str]:
    """``operation.sqlite``, ``positions.geojson`` and ``positions.kml``, from one unfiltered model."""
    progress.stage(f"writing {OPERATION_FILE}")
    write_operation(work / OPERATION_FILE, source)
    progress.stage(f"writing {GEOJSON_FILE} and {KML_FILE}")
    places = render(places_of(source.data, source.team_name))
    for name, content in places.items():
        (work / name).write_bytes(content)
    return [OPERATION_FILE, *places]


def _advancing(entries: Iterable[T], progress: Progress) -> Iterator[T]:
    for entry in entries:
        yield entry
        progress.advance()
