"""The node's attachments: which files it fetches by itself, and its blob store as the links see it.

What a node fetches is its own decision (``meshchat.blobs.settings``): a file up to ``auto_fetch`` bytes as soon
as its message arrives, a larger one when a person asks (``Node.fetch_file``, ``meshchat fetch``, ``f`` in
the TUI). Smaller files go first, and a file a person asked for before all of them. Before a fetch starts
the disk must have room for the whole file (and :data:`~meshchat.blobs.store.RESERVE` to spare); if it has
not, the file is left and the node says why (a :class:`~meshchat.events.NodeProblem`, and the file's state).

Store and forward: every blob this node holds, whole or in part, is served to peers that ask
(``meshchat.net.blobs`` asks this service what it holds and reads parts from it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import trio

from meshchat.blobs.settings import BlobSettings
from meshchat.blobs.store import BlobStore, PartialBlob, human_size
from meshchat.events import AttachmentsChanged, NodeEvent, NodeProblem
from meshchat.log.attachments import HASH_SIZE, Attachment, AttachmentError, ChunkSet, chunk_count, chunk_span
from meshchat.net.blobs import BlobExchange, Buffer, Stored
from meshchat.proto.blobs import NeedPart
from meshchat.store import StorageFullError, StoreError

log = logging.getLogger(__name__)

INLINE_PART_BYTES = 64 * 1024  # parts (and whole files checked at the end) up to this size stay in the trio thread
CHANGES_INTERVAL = 0.25  # AttachmentsChanged for progress at most this often (a file now whole: at once)
REQUESTS_INTERVAL = 1.0  # how often files asked for from the command line are looked for


@dataclass(frozen=True, slots=True)
class FileState:
    """Where a file stands on this node: ``held`` (0.0 to 1.0), whether it is being fetched, from how many
    linked peers that hold some of it, and why not, if it cannot be."""

    held: float
    fetching: bool = False
    sources: int = 0
    problem: str | None = None

    @property
    def here(self) -> bool:
        return self.held >= 1.0

    def words(self) -> str:
        """The state as a person reads it beside the file's name."""
        if self.here:
            return "here"
        if self.problem:
            return f"not fetched: {self.problem}"
        if self.fetching:
            percent = int(self.held * 100)
            return f"fetching {percent}%" if self.sources else f"waiting for a peer that has it ({percent}%)"
        return "not fetched"


class BlobService:
    """Create with the node's blob store; :meth:`consider` each attachment that arrives; run :meth:`run`."""

    def __init__(
        self,
        store: BlobStore,
        *,
        settings: Callable[[], BlobSettings],
        publish: Callable[[NodeEvent], None],
        requests: Callable[[], list[Attachment]] = list,
    ) -> None:
        self.store = store
        self.settings = settings
        self.publish = publish
        self.requests = requests  # files asked for from another process (``meshchat fetch``)
        self.exchange = BlobExchange(self)
        self.sizes: dict[bytes, int] = {}  # blobs being fetched, and their sizes
        self.problems: dict[bytes, str] = {}  # blobs not fetched, and why
        self._whole_sizes: dict[bytes, int] = {}  # sizes of whole blobs served (a whole blob never changes)
        self._changed: set[bytes] = set()
        self._wakeup = trio.Event()

    # ---- what to fetch -----------------------------------------------------------------------------------

    def consider(self, files: Iterable[Attachment]) -> None:
        """Attachments this node learned of: fetch those its settings say to fetch unasked."""
        limit = self.settings().auto_fetch
        for file in files:
            if file.size <= limit and file.blob not in self.sizes and not self.store.has(file.blob):
                self.fetch(file.blob, file.size, asked=False)

    def fetch(self, blob: bytes, size: int, *, asked: bool = True) -> FileState:
        """Fetch a file (``asked``: a person wants it: before the files fetched unasked). Returns its state;
        a disk too full for it is a problem of its state (and a :class:`NodeProblem`), not an error."""
        if self.store.has(blob):
            return FileState(1.0)
        if blob not in self.sizes:
            try:
                self.store.check_room(size)
                partial = self.store.partial(blob, size)
            except StoreError as exc:
                self.problems[blob] = str(exc)
                self.publish(NodeProblem(f"cannot fetch a file of {human_size(size)}: {exc}"))
                self._change(blob)
                return self.state(blob, size)
            self.problems.pop(blob, None)
            self.sizes[blob] = size
            held = partial.held.copy()
            self.exchange.want(blob, size, rank=(0 if asked else 1,), held=held, index_known=partial.index is not None)
        elif asked:
            self.exchange.fetcher.want(blob, size, rank=(0,), held=ChunkSet(chunk_count(size)), index_known=False)
        self._change(blob)
        return self.state(blob, size)

    def resume(self, files: Iterable[Attachment]) -> None:
        """After a restart: go on with the fetches the disk holds a part of (and files asked for before)."""
        under_way = set(self.store.partial_blobs())
        for file in files:
            if file.blob in under_way and file.blob not in self.sizes:
                self.fetch(file.blob, file.size, asked=False)

    def state(self, blob: bytes, size: int) -> FileState:
        if self.store.has(blob):
            return FileState(1.0)
        fetching = blob in self.sizes
        if fetching:
            held, count = self.exchange.progress(blob)
            fraction = held / count if count else 0.0
        else:
            fraction = self.store.fraction_held(blob, size)
        return FileState(fraction, fetching, self.exchange.sources(blob), self.problems.get(blob))

    async def run(self) -> None:
        """Stall checks, and :class:`AttachmentsChanged` for the UI at most every :data:`CHANGES_INTERVAL`."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.exchange.run)
            nursery.start_soon(self._follow_requests)
            while True:
                await self._wakeup.wait()
                self._wakeup = trio.Event()
                changed, self._changed = frozenset(self._changed), set()
                if changed:
                    self.publish(AttachmentsChanged(changed))
                await trio.sleep(CHANGES_INTERVAL)

    async def _follow_requests(self) -> None:
        asked: set[bytes] = set()
        while True:
            for file in self.requests():
                if file.blob not in asked:
                    asked.add(file.blob)
                    self.fetch(file.blob, file.size, asked=True)
            await trio.sleep(REQUESTS_INTERVAL)

    def _change(self, blob: bytes) -> None:
        self._changed.add(blob)
        self._wakeup.set()

    # ---- the disk, as links see it (meshchat.net.blobs.BlobDisk) -----------------------------------------

    def holdings(self, blobs: Iterable[bytes]) -> dict[bytes, bytes]:
        out = {}
        for blob in blobs:
            size = self._size(blob)
            out[blob] = b"" if size is None else self.store.holdings(blob, size).encode()
        return out

    def read_part(self, request: NeedPart) -> tuple[bytes | None, bool]:
        size = self._size(request.blob)
        if size is None:
            return None, True
        if request.part == 0:
            length = chunk_count(size) * HASH_SIZE
        elif request.part <= chunk_count(size):
            length = chunk_span(size, request.part)[1]
        else:
            return None, True
        if request.offset >= length:
            return None, True
        data = self.store.read_part(request.blob, size, request.part, request.offset, request.max_bytes)
        return data, data is not None and request.offset + len(data) >= length

    def part_length(self, blob: bytes, part: int) -> int | None:
        size = self.sizes.get(blob)
        if size is None:
            return None
        if part == 0:
            return chunk_count(size) * HASH_SIZE
        return chunk_span(size, part)[1] if part <= chunk_count(size) else None

    async def store_parts(self, parts: Sequence[tuple[bytes, int, Buffer]]) -> list[Stored]:
        """Check and write whole parts. The chunks of one call are written by one worker-thread call (or here,
        if they are small): a round trip to a worker and back cost more than hashing and writing a chunk."""
        out: list[Stored | None] = [None] * len(parts)
        jobs: list[tuple[int, PartialBlob, int, Buffer]] = []
        for k, (blob, part, data) in enumerate(parts):
            size = self.sizes.get(blob)
            if size is None:
                out[k] = Stored(problem="no longer fetched")
            elif part == 0:
                out[k] = self._store_index(blob, size, bytes(data))
            else:
                jobs.append((k, self.store.partial(blob, size), part, data))
        if sum(len(data) for *_, data in jobs) <= INLINE_PART_BYTES:
            written = _write_chunks(jobs)
        else:
            written = await trio.to_thread.run_sync(_write_chunks, jobs)
        for (k, partial, _, _), outcome in zip(jobs, written, strict=True):
            out[k] = await self._chunk_stored(partial, outcome)
        told = {partial.blob: partial for _, partial, _, _ in jobs if partial.blob in self.sizes}
        if told:  # store and forward, chunk by chunk: what we hold now, once per blob
            self.exchange.advanced({blob: partial.held.encode() for blob, partial in told.items()})
        return [stored for stored in out if stored is not None]

    def _store_index(self, blob: bytes, size: int, index: bytes) -> Stored:
        try:
            self.store.partial(blob, size).set_index(index)
        except AttachmentError as exc:
            return Stored(bad=str(exc))
        except StoreError as exc:
            return Stored(problem=self._give_up(blob, size, exc))
        self._change(blob)
        return Stored()

    async def _chunk_stored(self, partial: PartialBlob, outcome: bool | AttachmentError | StoreError) -> Stored:
        """What became of a chunk written (``outcome``: whether the blob is now whole, or why it was not kept)."""
        blob, size = partial.blob, partial.size
        if isinstance(outcome, AttachmentError):
            return Stored(bad=str(outcome))
        if isinstance(outcome, StoreError):
            if blob not in self.sizes:
                return Stored(problem="no longer fetched")
            return Stored(problem=self._give_up(blob, size, outcome))
        self._change(blob)
        if not outcome or blob not in self.sizes:
            return Stored()
        try:
            path = partial.finish() if size <= INLINE_PART_BYTES else await trio.to_thread.run_sync(partial.finish)
        except StoreError as exc:
            return Stored(problem=self._give_up(blob, size, exc))
        if path is None:  # chunks a crash lost: fetch them again
            for lost in partial.held.missing():
                self.exchange.fetcher.part_lost(blob, lost)
            return Stored()
        del self.sizes[blob]
        self._changed.discard(blob)  # whole now: said at once (someone may be waiting for it), not at the next tick
        self.publish(AttachmentsChanged(frozenset({blob})))
        log.info("fetched a file of %s (blob %s)", human_size(size), blob.hex()[:16])
        self.exchange.advanced({blob: ChunkSet.full(chunk_count(size)).encode()})
        return Stored(complete=True)

    def _give_up(self, blob: bytes, size: int, exc: StoreError) -> str:
        """The disk cannot take the blob: stop fetching it, and say why (it is fetched again when asked)."""
        reason = str(exc)
        self.sizes.pop(blob, None)
        self.problems[blob] = reason
        if isinstance(exc, StorageFullError):
            self.publish(NodeProblem(f"stopped fetching a file of {human_size(size)}: {reason}"))
        else:
            log.warning("cannot store a file being fetched: %s", reason)
        self._change(blob)
        return reason

    def _size(self, blob: bytes) -> int | None:
        """The size of a blob we hold whole or in part."""
        if blob in self.sizes:
            return self.sizes[blob]
        size = self._whole_sizes.get(blob)
        if size is None:
            try:
                size = self._whole_sizes[blob] = self.store.path_of(blob).stat().st_size
            except OSError:
                return None
        return size


def _write_chunks(
    jobs: Sequence[tuple[int, PartialBlob, int, Buffer]],
) -> list[bool | AttachmentError | StoreError]:
    """Check and write each chunk (in a worker thread): whether its blob is now whole, or why it was not kept."""
    out: list[bool | AttachmentError | StoreError] = []
    for _, partial, part, data in jobs:
        try:
            out.append(partial.store_chunk(part, data))
        except (AttachmentError, StoreError) as exc:
            out.append(exc)
    return out
