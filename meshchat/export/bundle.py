"""Sneakernet: bundles of entries carried on a USB stick between nodes that never meet.

``write_frontier`` records what a node holds (``meshchat bundle frontier``); ``write_bundle`` writes what
another node lacks given its frontier (or everything, without one); ``import_stream`` feeds any log stream
(a bundle, or an export's ``log.msgpack`` and ``forks.msgpack``) through ``Store.accept_batch``: the same
checks as entries from the network, so a bundle from a stranger can do no more harm than a peer could.

Bundles merge: the store's accept path is a union, so importing bundles from several nodes, in any order, any
number of times, leaves every node with the same log.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from meshchat.export import manifest
from meshchat.export.bundlefiles import FilesRead
from meshchat.export.errors import BundleFormatError, ExportError
from meshchat.export.framing import StreamHeader, StreamWriter, read_entries, read_header
from meshchat.export.logs import author_entries, log_order, snapshot
from meshchat.export.problems import VerifyReport
from meshchat.export.progress import Progress
from meshchat.files import UnsafeFileError, open_untrusted
from meshchat.log.entry import ID_SIZE, MAX_SEQ
from meshchat.store import AcceptResult, Outcome, Store

FRONTIER_FORMAT = "meshchat/frontier"
FRONTIER_VERSION = 1
MAX_FRONTIER = 16 * 1024 * 1024
BATCH = 5000
MAX_PASSES = 50


# ---- frontiers ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frontier:
    """What a node held when it wrote its frontier file: ``{author: (seq, id)}``."""

    team: bytes
    node: bytes
    made: int
    heads: dict[bytes, tuple[int, bytes]]
    blobs: frozenset[bytes] = frozenset()  # the attached files it holds whole (a bundle need not carry them)


def store_frontier(store: Store) -> dict[bytes, tuple[int, bytes]]:
    """What the store holds and may pass on, with the id of each head (so a fork shows)."""
    out: dict[bytes, tuple[int, bytes]] = {}
    heads = store.heads()
    for author, seq in store.frontier().items():
        if seq == heads[author].seq:
            out[author] = (seq, heads[author].id)
        elif seq >= 1 and (entry := store.entry(author, seq)) is not None:
            out[author] = (seq, entry.id)
    return out


def write_frontier(
    store: Store, node: bytes, path: Path, *, now: int | None = None, blobs: Iterable[bytes] = ()
) -> Frontier:
    """``blobs``: the files this node holds whole (``BlobStore.held``)."""
    _check_target(path, "frontier")
    held = frozenset(blobs)
    frontier = Frontier(store.team_id, node, _now() if now is None else now, store_frontier(store), held)
    doc = {
        "format": FRONTIER_FORMAT,
        "v": FRONTIER_VERSION,
        "team": frontier.team.hex(),
        "node": frontier.node.hex(),
        "made": frontier.made,
        "heads": {a.hex(): [s, i.hex()] for a, (s, i) in sorted(frontier.heads.items())},
        "blobs": sorted(b.hex() for b in held),
    }
    _atomic_write(path, manifest.encode(doc))
    return frontier


def read_frontier(path: Path) -> Frontier:
    """Read a frontier file strictly: it comes from another node, on a stick."""
    where = path.name
    doc = manifest.parse_json(manifest.read_limited(path, MAX_FRONTIER), where=where)
    if not isinstance(doc, dict) or doc.get("format") != FRONTIER_FORMAT:
        raise BundleFormatError(f"{where} is not a meshchat frontier (made by 'meshchat bundle frontier')")
    if doc.get("v") != FRONTIER_VERSION:
        raise BundleFormatError(f"{where}: frontier version {doc.get('v')!r} is not supported")
    team, node, made, heads = doc.get("team"), doc.get("node"), doc.get("made"), doc.get("heads")
    if type(made) is not int or not isinstance(heads, dict):
        raise BundleFormatError(f"{where}: 'made' must be an integer and 'heads' a map")
    out: dict[bytes, tuple[int, bytes]] = {}
    for author, head in heads.items():
        if not (isinstance(head, list) and len(head) == 2 and type(head[0]) is int and 1 <= head[0] <= MAX_SEQ):
            raise BundleFormatError(f"{where}: the head of {author!r} must be [seq, id]")
        out[_key(author, where)] = (head[0], _key(head[1], where))
    blobs = doc.get("blobs", [])
    if not isinstance(blobs, list):
        raise BundleFormatError(f"{where}: 'blobs' must be a list of file ids")
    held = frozenset(_key(blob, where) for blob in blobs)
    return Frontier(_key(team, where), _key(node, where), made, out, held)


def _key(value: object, where: str) -> bytes:
    if isinstance(value, str) and len(value) == 2 * ID_SIZE:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    raise BundleFormatError(f"{where}: {value!r} is not 64 hex digits")


# ---- writing bundles ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BundleResult:
    path: Path
    entries: int
    fork_proofs: int
    bytes: int


def bundle_plan(store: Store, peer: Frontier | None) -> list[tuple[bytes, int, int]]:
    """``(author, after, upto)`` ranges the peer lacks, in log-stream order.

    Where the peer's head differs from our entry at that seq, the peer has seen a fork: we send our entry at
    that seq (it becomes a fork proof there) and nothing after it, which could not link on the peer's side.
    """
    ours = store_frontier(store)
    plan = []
    for author in log_order(store):
        if author not in ours:
            continue
        seq, _ = ours[author]
        theirs = peer.heads.get(author) if peer else None
        if theirs is None:
            plan.append((author, 0, seq))
            continue
        their_seq, their_id = theirs
        at = min(their_seq, seq)
        ours_at = ours[author][1] if at == seq else _id_at(store, author, at)
        if their_seq <= seq and ours_at != their_id:
            plan.append((author, at - 1, at))
        elif their_seq < seq:
            plan.append((author, their_seq, seq))
    return plan


def _id_at(store: Store, author: bytes, seq: int) -> bytes | None:
    entry = store.entry(author, seq)
    return entry.id if entry else None


def write_bundle(
    store: Store,
    made_by: bytes,
    path: Path,
    *,
    peer: Frontier | None = None,
    progress: Progress | None = None,
    now: int | None = None,
) -> BundleResult:
    """Write a bundle of everything ``peer`` lacks (everything, without a peer), plus every fork proof."""
    progress = progress or Progress.silent()
    _check_target(path, "bundle")
    if peer is not None and peer.team != store.team_id:
        raise ExportError(f"the frontier is of team {peer.team.hex()[:16]}, this node's is {store.team_id.hex()[:16]}")
    with snapshot(store):
        plan = bundle_plan(store, peer)
        proofs = [other for _, other in store.fork_proofs()]
        total = sum(upto - after for _, after, upto in plan) + len(proofs)
        header = StreamHeader(store.team_id, "bundle", total, made_by, _now() if now is None else now)
        progress.stage(f"writing {path.name}", total)
        tmp = path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
        try:
            with tmp.open("wb") as f:
                writer = StreamWriter(f, header)
                for author, after, upto in plan:
                    for raw in author_entries(store, author, after, upto):
                        writer.write(raw)
                        progress.advance()
                for raw in proofs:
                    writer.write(raw)
                    progress.advance()
                writer.finish()
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    progress.done()
    return BundleResult(path, total - len(proofs), len(proofs), writer.bytes)


# ---- importing ---------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    """What an import did. ``rejected`` details up to ``MAX_DETAILS`` rejections; ``counts`` has them all."""

    team: bytes
    counts: Counter[Outcome] = field(default_factory=Counter)
    rejected: list[AcceptResult] = field(default_factory=list)
    still_deferred: int = 0
    quarantined: int = 0
    verified: VerifyReport | None = None  # an export's verification before it was imported (HQ archive)
    files: FilesRead | None = None  # the files taken in beside the entries (HQ archive)

    MAX_DETAILS = 100

    def merge(self, other: ImportResult) -> None:
        self.counts.update(other.counts)
        self.rejected.extend(other.rejected[: self.MAX_DETAILS - len(self.rejected)])
        self.still_deferred += other.still_deferred
        self.quarantined += other.quarantined


def import_stream(store: Store, raws: Iterable[bytes], *, progress: Progress | None = None) -> ImportResult:
    """Accept entries through the store's one accept path, in batches.

    Entries that cannot be taken yet (their author's earlier entries come later in the stream) are offered
    again after the pass, until nothing more goes in. Entries of authors not yet known as members wait in the
    store's quarantine and are taken as soon as a membership entry admits them.
    """
    progress = progress or Progress.silent()
    result = ImportResult(store.team_id)
    quarantined_before = store.quarantine_count()
    deferred: list[bytes] = []
    batch: list[bytes] = []

    def feed(raws: list[bytes], retry: list[bytes]) -> int:
        outcome = store.accept_batch(raws)
        result.counts[Outcome.APPENDED] += len(outcome.appended)
        for other in outcome.others:
            if other.outcome is Outcome.DEFERRED and other.entry is not None:
                retry.append(other.entry.raw)
                continue
            result.counts[other.outcome] += 1
            if other.outcome is Outcome.REJECTED and len(result.rejected) < ImportResult.MAX_DETAILS:
                result.rejected.append(other)
        return len(outcome.appended)

    try:
        for raw in raws:
            batch.append(raw)
            if len(batch) >= BATCH:
                feed(batch, deferred)
                progress.advance(len(batch))
                batch = []
    except BundleFormatError as exc:
        feed(batch + deferred, [])
        raise BundleFormatError(
            f"{exc}; the {result.counts[Outcome.APPENDED]:,} new entries before the damage went in, checked as always"
        ) from None
    if batch:
        feed(batch, deferred)
        progress.advance(len(batch))
    for _ in range(MAX_PASSES):
        if not deferred:
            break
        retry: list[bytes] = []
        moved = feed(deferred, retry)
        deferred = retry
        if not moved:
            break
    result.still_deferred = len(deferred)
    result.counts[Outcome.DEFERRED] += len(deferred)
    result.quarantined = max(0, store.quarantine_count() - quarantined_before)
    return result


def stream_entries(path: Path, *, parts: tuple[str, ...]) -> tuple[StreamHeader, Iterator[bytes]]:
    """Open a log stream file and check its header; the iterator reads entries lazily and closes the file."""
    where = path.name
    try:
        f = open_untrusted(path)
    except UnsafeFileError as exc:
        raise ExportError(str(exc)) from None
    try:
        header = read_header(f, where=where)
    except BaseException:
        f.close()
        raise
    if header.part not in parts:
        f.close()
        raise BundleFormatError(f"{where} holds {header.part!r}, expected {' or '.join(parts)}")

    def entries() -> Iterator[bytes]:
        with f:
            for frame in read_entries(f, header, where=where):
                yield frame.data

    return header, entries()


def import_bundle(store: Store, path: Path, *, progress: Progress | None = None) -> ImportResult:
    """Import a bundle file (or an export's log stream) into ``store``, which must be of the same team."""
    progress = progress or Progress.silent()
    try:
        header, entries = stream_entries(path, parts=("bundle", "chains", "forks"))
    except BundleFormatError as exc:
        reason = str(exc).removeprefix(f"{path.name}: ").removeprefix(f"{path.name} ")
        raise BundleFormatError(f"{path.name} is not a meshchat bundle ({reason})") from None
    if header.team != store.team_id:
        raise ExportError(
            f"{path.name} holds entries of team {header.team.hex()[:16]}; this store is team {store.team_id.hex()[:16]}"
        )
    progress.stage(f"importing {path.name}", header.entries)
    result = import_stream(store, entries, progress=progress)
    progress.done()
    return result


def _now() -> int:
    return int(time.time() * 1000)


def _check_target(path: Path, what: str) -> None:
    """Before any work: a file can be written at ``path`` (not a directory, in a directory that exists)."""
    if path.is_dir():
        raise ExportError(f"{path} is a directory: give the {what} a file name, e.g. {path / ('team.' + what)}")
    if not path.parent.is_dir():
        raise ExportError(f"cannot write the {what}: there is no directory {path.parent}")


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
