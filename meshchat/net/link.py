"""One link to one peer: pumps bytes between a trio stream and a pure protocol :class:`Connection`.

Four tasks per link, all cancelled together when the link ends:

- the reader reads the socket into the connection's buffer (``Connection.receive_buffer``: a frame of a file
  lands where it is opened) and answers its events at once (reads for ``NeedEntries`` are quick SQLite
  lookups; batches received go to the ingest task; a peer's notes go to the peer manager, which chooses
  which peer pushes us which author, and to the replica);
- the ingest task hands received batches, merged and still compact, to :meth:`Replica.accept` (which rebuilds
  and stores them in a worker thread), then tells the connection they were processed, which acknowledges
  them to the peer (flow control);
- the writer sends whatever the connection has queued, small frames joined, each call of the socket's send
  under the idle deadline (``meshchat.net.sending``): a slow link is judged by its progress, never by how
  long a whole batch takes; it also wakes when notes that were waiting for company fall due;
- the watchdog enforces the handshake deadline, pings an idle link, drops a silent peer, and asks the peer
  to resend if entries had to be deferred;
- the piece task hands pieces of files the peer sends to the node's blob exchange (``meshchat.net.blobs``),
  apart from entries: an entries batch is stored and acknowledged at once, even behind pieces being written.

Whatever a peer sends can end only its own link: protocol errors, bad entries and timeouts become a reason,
logged by the peer manager, and the stream is closed.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import trio

from meshchat.net.blobs import BlobExchange
from meshchat.net.sending import partial_sender, send_buffers
from meshchat.proto.blobs import PIECE_WINDOW, BlobEvent, BlobsAsked, BlobsHeld, NeedPart, PieceReceived
from meshchat.proto.connection import Connection
from meshchat.proto.connection import State as ConnectionState
from meshchat.proto.errors import LocalProtocolError, ProtocolError
from meshchat.proto.events import (
    CaughtUp,
    ConnectionClosed,
    EntriesReceived,
    HandshakeComplete,
    NeedEntries,
    NotesReceived,
    SyncStarted,
)
from meshchat.proto.handshake import Credentials, Side
from meshchat.proto.messages import WINDOW, ReceivedEntries, claimed_heads
from meshchat.proto.sync import ForkProof

log = logging.getLogger(__name__)

RECEIVE_SIZE = 256 * 1024
STORE_BATCH = PIECE_WINDOW // 4  # pieces of files stored and acknowledged together (the rest keep coming)
MERGE_BATCHES = WINDOW // 2  # received batches stored together in one transaction, at most
MERGE_ENTRIES = 4_000  # and entries: the store takes batches of a few thousand fastest (bench/sync.py)
MAX_RESYNC_DELAY = 600.0


@dataclass(frozen=True)
class LinkSettings:
    handshake_timeout: float = 5.0  # a peer must prove itself this fast (slowloris)
    keepalive: float = 15.0  # ping after this long without sending
    idle_timeout: float = 45.0  # drop a peer silent for this long, or that will not take our bytes
    resync_after: float = 10.0  # after deferred entries, ask the peer to send them again (doubling up to 10 min)


@dataclass(frozen=True)
class SyncStart:
    """Our side of a new sync: what we may send (``local``), what we hold, the admission order, and the
    team (compact entries leave its id out)."""

    local: Mapping[bytes, int]
    held: Mapping[bytes, int]
    priority: Sequence[bytes] = ()
    fork_proofs: Sequence[ForkProof] = ()
    team_id: bytes = b""


@dataclass(frozen=True)
class Accepted:
    """What became of a peer's batch: counted, and judged."""

    appended: int
    seen: Mapping[bytes, int] = field(default_factory=dict)  # highest seq per author the peer sent
    deferred: int = 0  # valid but not storable now (gaps, full quarantine): worth a resync later
    bad: str | None = None  # the peer sent entries no honest node sends: end the link
    duplicates: int = 0  # entries we held already (shown in ``meshchat peers``)
    unlinked: Mapping[bytes, int] = field(default_factory=dict)  # author -> seq that did not link to our head


class Replica(Protocol):
    """What a link needs from the node (``meshchat.replica`` implements it over the store)."""

    def credentials(self) -> Credentials: ...

    def authorize(self, peer_key: bytes, evidence: tuple[bytes, ...], invite: bytes | None) -> str | None: ...

    def sync_start(self) -> SyncStart: ...

    def read_entries(self, request: NeedEntries) -> list[bytes]: ...

    async def accept(self, batches: Sequence[ReceivedEntries], peer_key: bytes) -> Accepted:
        """Store a peer's Entries messages, rebuilding those that came compact (``messages.rebuilt``: raises
        :class:`RemoteProtocolError` for an invalid entry, which ends the link)."""
        ...

    def peer_holds(self, peer_key: bytes, heads: Mapping[bytes, int]) -> None:
        """What a peer says it holds (all of it, then as it learns more): e.g. more of our own log than we do."""
        ...


class LinkObserver(Protocol):
    """The peer manager: told about each step of a link's life."""

    def authenticated(self, link: Link) -> str | None:
        """The peer is proven; return a reason to drop the link (e.g. a duplicate), or None to sync."""
        ...

    def syncing(self, link: Link, start: SyncStart) -> Iterable[bytes]:
        """The link starts syncing from ``start``: the authors to want pushed from it from the start."""
        ...

    def notes(self, link: Link, heads: Mapping[bytes, int]) -> None:
        """The peer said what it holds."""
        ...

    def arriving(self, link: Link, seqs: Mapping[bytes, int]) -> None:
        """Entries up to these seqs (``{author: seq}``) arrived and wait to be stored."""
        ...

    def progress(self, link: Link) -> None: ...

    def caught_up(self, link: Link) -> None: ...


def _receiver_into(stream: trio.abc.Stream) -> Callable[[memoryview], Awaitable[int]] | None:
    """A socket's ``recv_into``: the bytes land where the connection wants them (a frame of a file, in the
    buffer it is opened in: no copy on the way in). ``None`` for a stream that only hands out bytes (the
    in-memory streams of tests)."""
    return stream.socket.recv_into if isinstance(stream, trio.SocketStream) else None


class LinkEnded(Exception):
    """Raised inside a link's tasks (or by the replica) to end the link, with the reason."""


class Link:
    """Run with :meth:`run`; returns the reason the link ended."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        side: Side,
        replica: Replica,
        observer: LinkObserver,
        settings: LinkSettings,
        *,
        address: str,
        blobs: BlobExchange | None = None,
    ) -> None:
        self.stream = stream
        self.blobs = blobs  # the node's files: what it fetches over this link, and serves
        self.side = side
        self.replica = replica
        self.observer = observer
        self.settings = settings
        self.address = address
        self.conn = Connection(side, replica.credentials(), replica.authorize, clock=trio.current_time)
        self.peer_key: bytes | None = None
        self.syncing = False  # catching up (until the peer's first Idle is processed)
        self.expected = 0
        self.received = 0  # entries appended from this peer in the current catch-up
        self.entries_in = 0
        self.entries_out = 0
        self.duplicates_in = 0  # entries the peer sent that we held already
        self.bytes_in = 0
        self.bytes_out = 0
        self.reason = ""
        self._asked_again: set[bytes] = set()  # authors asked once for a fork proof on this link
        self._batches: list[ReceivedEntries] = []
        self._batches_ready = trio.Event()
        self._dirty = trio.Event()
        self._authenticated = trio.Event()
        self._scope: trio.CancelScope | None = None
        self._last_received = trio.current_time()
        self._last_sent = trio.current_time()
        self._resync_at: float | None = None
        self._resync_delay = settings.resync_after
        self._pieces: list[PieceReceived] = []
        self._pieces_ready = trio.Event()
        self._blobs_up = False  # the blob exchange knows this link
        self._pumping = False
        self._pump_again = False

    @property
    def established(self) -> bool:
        return self._authenticated.is_set()

    async def run(self) -> str:
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                nursery.start_soon(self._guard, self._reader)
                nursery.start_soon(self._guard, self._writer)
                nursery.start_soon(self._guard, self._ingest)
                nursery.start_soon(self._guard, self._watchdog)
                nursery.start_soon(self._guard, self._take_pieces)
                self._dirty.set()  # the client hello
        finally:
            if self.blobs is not None and self._blobs_up:
                self._blobs_up = False
                self.blobs.link_down(self)
            with trio.CancelScope(shield=True):
                await self._farewell()
        return self.reason or "link closed"

    def end(self, reason: str) -> None:
        """End the link from outside (shutdown, duplicate): the peer gets an authenticated close."""
        self.conn.close(reason)
        self._stop(reason)

    def _stop(self, reason: str) -> None:
        if not self.reason:
            self.reason = reason
        if self._scope is not None:
            self._scope.cancel()

    async def _guard(self, task: Callable[[], Awaitable[None]]) -> None:
        try:
            await task()
        except LinkEnded as exc:
            self._stop(str(exc))
        except LocalProtocolError as exc:  # our bug, not the peer's: say so loudly, and end only this link
            log.exception("%s: protocol misuse", self.address)
            self._stop(f"internal error: {exc}")
        except ProtocolError as exc:
            self._stop(str(exc))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._stop(f"connection lost: {exc or type(exc).__name__}")
        except trio.TooSlowError:
            self._stop("the peer stopped taking our data")

    async def _farewell(self) -> None:
        """Send what is still queued (a close frame, a refusal) within a second, then close the stream."""
        with trio.move_on_after(1.0):
            data = self.conn.data_to_send()
            if data:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    await self.stream.send_all(data)
        with trio.move_on_after(1.0):
            await self.stream.aclose()

    # ---- the tasks -------------------------------------------------------------------------------------

    async def _reader(self) -> None:
        receive_into = _receiver_into(self.stream)
        while True:
            if receive_into is not None:
                count = await receive_into(self.conn.receive_buffer())
                self.conn.received(count)
            else:
                data = await self.stream.receive_some(RECEIVE_SIZE)
                count = len(data)
                self.conn.receive_data(data)
            self._last_received = trio.current_time()
            self.bytes_in += count
            self._pump()
            if not count:
                raise LinkEnded("the peer closed the connection")

    async def _writer(self) -> None:
        send = partial_sender(self.stream)
        while True:
            due = self.conn.next_deadline()  # notes waiting for company go at this time anyway
            with trio.move_on_at(math.inf if due is None else due):
                await self._dirty.wait()
            self._dirty = trio.Event()
            await send_buffers(send, self.conn.buffers_to_send(), self.settings.idle_timeout, self._sent)

    def _sent(self, count: int) -> None:
        self.bytes_out += count
        self._last_sent = trio.current_time()

    async def _ingest(self) -> None:
        while True:
            await self._batches_ready.wait()
            # At most half the window per accept (the peer refills one half while we store the other), and a
            # few thousand entries: one transaction of 10,000 stores 13% slower than five of 2,000.
            take, count = 0, 0
            while take < min(MERGE_BATCHES, len(self._batches)) and (
                not take or count + self._batches[take].count <= MERGE_ENTRIES
            ):
                count += self._batches[take].count
                take += 1
            batches, self._batches = self._batches[:take], self._batches[take:]
            if not self._batches:
                self._batches_ready = trio.Event()
            if not batches:
                continue
            assert self.peer_key is not None  # entries arrive only after the handshake
            accepted = await self.replica.accept(batches, self.peer_key)
            if accepted.bad:
                raise LinkEnded(f"the peer sent invalid entries ({accepted.bad})")
            self.entries_in += accepted.appended
            self.received += accepted.appended
            self.duplicates_in += accepted.duplicates
            if self.conn.state is not ConnectionState.SYNCING:
                return  # the link was closed while the batch was stored: stored, but nobody to acknowledge
            if accepted.deferred and self._resync_at is None:
                # Ask again later, and later each time: a full quarantine does not empty itself.
                self._resync_at = trio.current_time() + self._resync_delay
                self._resync_delay = min(2 * self._resync_delay, MAX_RESYNC_DELAY)
            for author, seq in accepted.unlinked.items():  # the entry before is a fork proof: ask for it once
                if author not in self._asked_again and seq >= 2:
                    self._asked_again.add(author)
                    self.conn.ask_again(author, seq - 2)
            self.conn.entries_processed(len(batches), accepted.seen)
            self.observer.progress(self)
            self._pump()

    async def _take_pieces(self) -> None:
        """Pieces of files, to the blob exchange in order; each acknowledged (Got) as soon as it was taken, so
        the peer sends the next while a chunk is written (acknowledged together, the window stood still)."""
        while True:
            await self._pieces_ready.wait()
            self._pieces_ready = trio.Event()
            pieces, self._pieces = self._pieces, []
            for start in range(0, len(pieces), STORE_BATCH):
                batch = pieces[start : start + STORE_BATCH]
                if self.blobs is not None:
                    reason = await self.blobs.received(self, batch)
                    if reason is not None:
                        raise LinkEnded(reason)
                if self.conn.state is not ConnectionState.SYNCING:
                    return
                self.conn.pieces_processed(len(batch))
                self._pump()

    async def _watchdog(self) -> None:
        settings = self.settings
        with trio.move_on_after(settings.handshake_timeout):
            await self._authenticated.wait()
        if not self._authenticated.is_set():
            raise LinkEnded(self.conn.handshake_failure or f"no handshake within {settings.handshake_timeout:g} s")
        tick = min(settings.keepalive, settings.idle_timeout, settings.resync_after) / 3
        while True:
            await trio.sleep(tick)
            now = trio.current_time()
            if now - self._last_received > settings.idle_timeout:
                raise LinkEnded(f"the peer was silent for {settings.idle_timeout:g} s")
            if now - self._last_sent > settings.keepalive:
                self.conn.ping()
                self._last_sent = now
                self._dirty.set()
            if self._resync_at is not None and now >= self._resync_at:
                self._resync_at = None
                start = self.replica.sync_start()
                self.conn.resync(start.local, start.held)
                self._pump()

    def _answer_blob_event(self, event: BlobEvent) -> None:
        """Files (``meshchat.proto.blobs``): reads for the peer, pieces to take, what the peer holds or asks."""
        conn, blobs = self.conn, self.blobs
        if type(event) is NeedPart:
            data, done = blobs.read_part(event) if blobs is not None else (None, True)
            conn.send_part(event, data, done=done)
        elif type(event) is PieceReceived:
            self._pieces.append(event)
            self._pieces_ready.set()
        elif type(event) is BlobsHeld:
            if blobs is not None and (reason := blobs.held(self, event.held)) is not None:
                raise LinkEnded(reason)
        elif type(event) is BlobsAsked:
            held = blobs.asked(self, event.blobs) if blobs is not None else {}
            conn.blobs_held(held or dict.fromkeys(event.blobs, b""))

    # ---- events ----------------------------------------------------------------------------------------

    def local_advanced(self, heads: Mapping[bytes, int], held: Mapping[bytes, int] | None = None) -> None:
        if self.conn.state is ConnectionState.SYNCING:
            self.conn.local_advanced(heads, held)
            self._pump()

    def set_wants(self, wanted: Iterable[bytes], unwanted: Iterable[bytes] = ()) -> None:
        """Ask the peer to push ``wanted`` authors from now on, and no longer ``unwanted`` ones."""
        if self.conn.state is ConnectionState.SYNCING:
            self.conn.set_wants(wanted, unwanted)
            self._pump()

    def add_fork_proofs(self, proofs: Sequence[ForkProof]) -> None:
        if self.conn.state is ConnectionState.SYNCING:
            self.conn.add_fork_proofs(proofs)
            self._pump()

    def ask_blobs(self, want: Iterable[bytes], drop: Iterable[bytes] = ()) -> None:
        if self.conn.state is ConnectionState.SYNCING:
            self.conn.ask_blobs(want, drop)
            self._pump()

    def fetch_parts(self, add: Mapping[bytes, list[tuple[int, int]]], cancel: Mapping[bytes, list[int]]) -> None:
        if self.conn.state is ConnectionState.SYNCING:
            self.conn.fetch_parts(add, cancel)
            self._pump()

    def blobs_advanced(self, held: Mapping[bytes, bytes]) -> None:
        if self.conn.state is ConnectionState.SYNCING:
            self.conn.blobs_advanced(held)
            self._pump()

    def _pump(self) -> None:
        """Answer every event the connection has, then wake the writer. Re-entered (an answer that makes more
        to answer, e.g. a Have that gives this link parts to fetch), it lets the outer call go round again."""
        if self._pumping:
            self._pump_again = True
            return
        self._pumping = True
        try:
            self._pump_again = True
            while self._pump_again:
                self._pump_again = False
                self._answer_events()
        finally:
            self._pumping = False
        if self.conn.has_output():
            self._dirty.set()

    def _answer_events(self) -> None:
        conn = self.conn
        while (event := conn.next_event()) is not None:
            kind = type(event)
            if kind is NeedEntries:
                assert isinstance(event, NeedEntries)
                raws = self.replica.read_entries(event)
                conn.send_entries(event, raws)
                self.entries_out += len(raws)
            elif kind is EntriesReceived:
                assert isinstance(event, EntriesReceived)
                self._batches.append(event.batch)
                self._batches_ready.set()
                self.observer.arriving(self, claimed_heads(event.batch))  # the batch is rebuilt when stored
            elif kind is HandshakeComplete:
                assert isinstance(event, HandshakeComplete)
                self.peer_key = event.peer_key
                self._authenticated.set()
                refusal = self.observer.authenticated(self)
                if refusal is not None:
                    self.end(refusal)
                    return
                start = self.replica.sync_start()
                conn.start_sync(
                    start.local,
                    team_id=start.team_id,
                    held=start.held,
                    priority=start.priority,
                    fork_proofs=start.fork_proofs,
                    wants=self.observer.syncing(self, start),
                )
                if self.blobs is not None:
                    self._blobs_up = True
                    self.blobs.link_up(self)
            elif kind is NotesReceived:
                assert isinstance(event, NotesReceived) and self.peer_key is not None
                self.replica.peer_holds(self.peer_key, event.heads)
                self.observer.notes(self, event.heads)
            elif kind is SyncStarted:
                assert isinstance(event, SyncStarted)
                self.syncing, self.expected, self.received = True, event.expected, 0
                self.observer.progress(self)
            elif kind is CaughtUp:
                self.observer.caught_up(self)
                self.syncing = False
            elif kind is ConnectionClosed:
                assert isinstance(event, ConnectionClosed)
                raise LinkEnded(event.reason if event.clean else f"connection cut: {event.reason}")
            else:
                self._answer_blob_event(event)  # type: ignore[arg-type]
