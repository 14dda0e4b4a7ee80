"""Replication between two nodes: a pure state machine over sync messages, owning no storage.

Each side starts by sending its :class:`~meshchat.proto.messages.Frontier` (``{author: head_seq}`` of what it
holds and may pass on). From the peer's frontier each side knows what the peer lacks and streams it, per
author in seq order, in :class:`~meshchat.proto.messages.Entries` batches. Flow control is a window of
:data:`~meshchat.proto.messages.WINDOW` unacknowledged batches: the receiver acknowledges a batch once it has
stored it, so a slow disk slows the sender instead of filling memory. When a side has sent all the peer lacks
it says :class:`~meshchat.proto.messages.Idle`; the peer then knows it has caught up.

The link then stays open and live pushes are the same mechanism: the node reports new local heads with
:meth:`SyncSession.local_advanced` and whatever the peer lacks is streamed. Store-and-forward falls out:
entries received from one peer are new local heads for the sessions with all the others.

Which author is sent first matters to the receiver, whose store quarantines entries of authors it does not
yet know to be members: authors the peer has never seen are sent in admission order (the founder first, then
in the order the membership admitted them), each log whole before the next, so the entries that admit an
author arrive before the author's own. Authors the peer already knows take turns, so one busy author cannot
hold the others back. Turns alone are not enough on a slow link: whatever is already in flight is ahead of
a calm author's next batch, so the sender also keeps the entry bytes in flight under
:data:`WINDOW_BYTES` per link (at 256 kbit/s, 128 KiB drain in about 4 s; on a LAN it costs no catch-up speed:
``bench/sync.py`` under ``taskset -c 0`` still takes 4 s for 100,000 entries; ``bench/flood.py --rate-kbit``).

Fork proofs (two entries one author signed with one seq) go to the peer once it holds an entry at that seq
(ours, sent in the normal stream, or its own other branch): it then stores the one it lacks as the proof.
Sent earlier, they could reach a peer that does not yet know the author, whose quarantine keeps one entry
per seq.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from meshchat.log.entry import MAX_ENTRY_SIZE
from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError
from meshchat.proto.events import CaughtUp, EntriesReceived, NeedEntries, SyncStarted
from meshchat.proto.messages import (
    MAX_BATCH_BYTES,
    WINDOW,
    Ack,
    Entries,
    Frontier,
    Idle,
    Message,
    Ping,
)

BATCH_ENTRIES = 2_000  # entries asked for per batch (bounded by MAX_BATCH_BYTES as well)
WINDOW_BYTES = 128 * 1024  # entry bytes we keep unacknowledged: bounds how long a new batch waits behind others

SyncEvent = SyncStarted | NeedEntries | EntriesReceived | CaughtUp


@dataclass(frozen=True, slots=True)
class ForkProof:
    """Two different entries signed by ``author`` for ``seq``: the one stored, and the other one."""

    author: bytes
    seq: int
    raws: tuple[bytes, bytes]


class SyncSession:
    """One side of the sync with one peer. Feed it the peer's messages and the node's news; drain
    :meth:`next_event` (requests and reports for the node) and :meth:`outgoing` (messages for the peer).

    ``local`` is what we may send, per author (capped at removals and forks); ``held`` what we hold, sent
    as our frontier (by default ``local``); ``priority`` the admission order of authors."""

    def __init__(
        self,
        local: Mapping[bytes, int],
        *,
        held: Mapping[bytes, int] | None = None,
        priority: Sequence[bytes] = (),
        fork_proofs: Iterable[ForkProof] = (),
        batch_entries: int = BATCH_ENTRIES,
        window_bytes: int = WINDOW_BYTES,
    ) -> None:
        self.local = dict(local)  # what we hold and may send, per author
        self.peer_has: dict[bytes, int] | None = None  # what the peer holds, as far as we know
        self.rank = {author: i for i, author in enumerate(priority)}
        self.batch_entries = batch_entries
        self.in_flight = 0  # our Entries messages the peer has not acknowledged
        self.window_bytes = window_bytes
        self.in_flight_bytes = 0  # entry bytes in them
        self._in_flight_sizes: deque[int] = deque()  # per message, oldest first (acks come in order)
        self.unprocessed = 0  # the peer's Entries messages we have not yet reported processed
        self._outbox: list[Message] = [Frontier(dict(local if held is None else held))]
        self._events: deque[SyncEvent] = deque()
        self._pending: set[bytes] = set()  # authors with entries the peer lacks
        self._asked: NeedEntries | None = None  # the request the node has not answered yet
        self._last_served: tuple[int, bytes] = (-1, b"")  # the known author served last (they take turns)
        self._busy = True  # sent something (or got a frontier) since our last Idle
        self._peer_idle = False  # the peer said Idle; CaughtUp once its batches are processed
        self._proofs: dict[bytes, list[ForkProof]] = {}
        self._proofs_sent: set[tuple[bytes, bytes]] = set()
        self.add_fork_proofs(fork_proofs)

    # ---- the peer's messages ---------------------------------------------------------------------------

    def receive(self, message: Message) -> None:
        if type(message) is Entries:
            if self.peer_has is None:
                raise RemoteProtocolError("entries before a frontier")
            if self.unprocessed >= WINDOW:
                raise RemoteProtocolError(f"flow control violated: more than {WINDOW} unacknowledged batches")
            self.unprocessed += 1
            self._events.append(EntriesReceived(message.raws))
        elif type(message) is Frontier:
            self._on_frontier(message.heads)
        elif type(message) is Ack:
            if message.batches > self.in_flight:
                raise RemoteProtocolError("acknowledged more batches than were sent")
            self.in_flight -= message.batches
            for _ in range(message.batches):
                self.in_flight_bytes -= self._in_flight_sizes.popleft()
        elif type(message) is Idle:
            if self.peer_has is None:
                raise RemoteProtocolError("idle before a frontier")
            self._peer_idle = True
            self._check_caught_up()
        elif type(message) is not Ping:
            raise LocalProtocolError(f"not a sync message: {message!r}")

    def _on_frontier(self, heads: Mapping[bytes, int]) -> None:
        expected = sum(max(0, seq - self.local.get(author, 0)) for author, seq in heads.items())
        self.peer_has = dict(heads)
        self._pending = {a for a, seq in self.local.items() if seq > heads.get(a, 0)}
        self._busy = True
        self._events.append(SyncStarted(expected))

    # ---- the node's news -------------------------------------------------------------------------------

    def local_advanced(self, heads: Mapping[bytes, int]) -> None:
        """We now hold ``heads`` (``{author: seq}``, sendable): push what the peer lacks."""
        peer = self.peer_has
        for author, seq in heads.items():
            if seq > self.local.get(author, 0):
                self.local[author] = seq
                if peer is not None and seq > peer.get(author, 0):
                    self._pending.add(author)

    def add_fork_proofs(self, proofs: Iterable[ForkProof]) -> None:
        for proof in proofs:
            if proof.raws not in self._proofs_sent:
                self._proofs.setdefault(proof.author, []).append(proof)

    def send_entries(self, request: NeedEntries, raws: Sequence[bytes]) -> None:
        """Answer the last :class:`NeedEntries`: ``raws`` are the entries after ``request.after`` in seq
        order (fewer than asked, or none, if that is all there is)."""
        if request is not self._asked:
            raise LocalProtocolError("send_entries answers the last NeedEntries")
        self._asked = None
        author = request.author
        if len(raws) > request.max_entries or sum(map(len, raws)) > request.max_bytes:
            raise LocalProtocolError("more entries than were asked for")
        assert self.peer_has is not None
        if not raws:  # nothing more after all: stop offering until the node reports more
            self.local[author] = request.after
            self._pending.discard(author)
            return
        self._send(raws)
        sent_upto = request.after + len(raws)
        held = self.peer_has.get(author, 0)
        if request.after <= held:  # contiguous with what the peer holds (a new frontier may have lowered it)
            self.peer_has[author] = held = max(held, sent_upto)
        if held >= self.local.get(author, 0):
            self._pending.discard(author)

    def entries_processed(self, batches: int, seen: Mapping[bytes, int] = {}) -> None:
        """We stored (or judged) ``batches`` more of the peer's Entries messages. ``seen``: the highest seq of
        each author that arrived in them, which the peer therefore holds (so we never echo them back)."""
        if not 0 < batches <= self.unprocessed:
            raise LocalProtocolError(f"{batches} batches processed, but only {self.unprocessed} received")
        self.unprocessed -= batches
        self._outbox.append(Ack(batches))
        peer = self.peer_has
        assert peer is not None
        for author, seq in seen.items():
            if seq > peer.get(author, 0):
                peer[author] = seq
                if seq >= self.local.get(author, 0):
                    self._pending.discard(author)
        self._check_caught_up()

    def resync(self, local: Mapping[bytes, int], held: Mapping[bytes, int] | None = None) -> None:
        """Send our frontier again, so the peer resends what we lack (e.g. entries we had to defer)."""
        self.local_advanced(local)
        self._outbox.append(Frontier(dict(local if held is None else held)))

    def ping(self) -> None:
        self._outbox.append(Ping())

    # ---- output ----------------------------------------------------------------------------------------

    def next_event(self) -> SyncEvent | None:
        if self._events:
            return self._events.popleft()
        if self.peer_has is None or self._asked is not None:
            return None
        self._queue_fork_proofs()
        if self.in_flight < WINDOW and self.in_flight_bytes < self.window_bytes and self._pending:
            author = self._pick_author()
            after = self.peer_has.get(author, 0)
            room = max(MAX_ENTRY_SIZE, min(MAX_BATCH_BYTES, self.window_bytes - self.in_flight_bytes))
            self._asked = NeedEntries(author, after, self.local[author], self.batch_entries, room)
            return self._asked
        if self._busy and not self._pending:
            self._busy = False
            self._outbox.append(Idle())
        return None

    def outgoing(self) -> list[Message]:
        out, self._outbox = self._outbox, []
        return out

    # ---- internals -------------------------------------------------------------------------------------

    def _send(self, raws: Sequence[bytes]) -> None:
        size = sum(map(len, raws))
        self._outbox.append(Entries(tuple(raws)))
        self.in_flight += 1
        self.in_flight_bytes += size
        self._in_flight_sizes.append(size)
        self._busy = True

    def _check_caught_up(self) -> None:
        if self._peer_idle and self.unprocessed == 0:
            self._peer_idle = False
            self._events.append(CaughtUp())

    def _rank(self, author: bytes) -> tuple[int, bytes]:
        return (self.rank.get(author, len(self.rank)), author)

    def _pick_author(self) -> bytes:
        """Authors the peer knows take turns (in priority order); then new authors in admission order."""
        peer = self.peer_has
        assert peer is not None
        known = [a for a in self._pending if peer.get(a, 0) > 0]
        if not known:
            return min(self._pending, key=self._rank)
        later = [a for a in known if self._rank(a) > self._last_served]
        author = min(later or known, key=self._rank)
        self._last_served = self._rank(author)
        return author

    def _queue_fork_proofs(self) -> None:
        peer = self.peer_has
        assert peer is not None
        for author in list(self._proofs):
            if self.in_flight >= WINDOW:
                return
            ready = [p for p in self._proofs[author] if peer.get(author, 0) >= p.seq]
            for proof in ready[: WINDOW - self.in_flight]:
                self._proofs[author].remove(proof)
                self._proofs_sent.add(proof.raws)
                self._send(proof.raws)
            if not self._proofs[author]:
                del self._proofs[author]
