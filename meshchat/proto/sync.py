"""Replication between two nodes: a pure state machine over sync messages, owning no storage.

What each side says and sends (the wire format is in docs/formats.md, "Sync messages"):

- **Notes.** Each side tells the other what it holds of each author, first all of it, then as it learns
  more, and marks the authors it wants *pushed* by this peer. A node takes each author's entries from one
  peer at a time (its *source* for that author, chosen by ``meshchat.proto.sources``): it marks the author
  for push on that link only. Its other links just hear, in notes, how far it has got (Plumtree's lazy
  "I have", Scuttlebutt's EBT notes), so an entry crosses each link about once. Notes about authors a peer
  does not want pushed wait up to :data:`NOTE_DELAY` (or go with anything else sent sooner), so a burst of
  entries costs one Notes message, not one each.
- **Entries.** A side pushes what the other lacks of the authors it wants pushed, per author in seq order:
  authors new to the peer in admission order (the founder first, then as the membership admitted them, each
  log whole before the next, so the entries that admit an author arrive before the author's own), authors it
  knows taking turns (one busy author cannot hold the others back). An author with only a few entries to send
  (:data:`LIVE_ENTRIES`: what a person just wrote) goes ahead of every backlog and may exceed the window by
  :data:`LIVE_ALLOWANCE`: live messages do not queue behind a catch-up (if the peer does not know the author
  yet, its store keeps them in quarantine until the entry that admits the author arrives).
- **Flow control and pacing.** The receiver acknowledges each Entries message once it has stored it; at
  most :data:`~meshchat.proto.messages.WINDOW` messages and ``pacer.window`` bytes may be unacknowledged,
  and each batch is ``pacer.batch`` bytes: both follow the rate the link is measured to deliver
  (``meshchat.proto.pacing``), so a 9.6 kbit/s radio link carries batches of a few hundred bytes with about
  a second queued, and a LAN batches of 128 KiB with megabytes in flight.
- **Idle.** A side that has sent everything the other wanted says Idle; the other has then caught up.

The link then stays open, and live pushes are the same mechanism: the node reports new heads with
:meth:`SyncSession.local_advanced` and what the peer wants and lacks goes out. Entries received from one
peer are new heads for the sessions with the others: store-and-forward falls out.

A note is the truth about what its sender holds, with one exception this side can see: entries in our
Entries messages the peer had not yet acknowledged when it wrote the note (they cross on the wire). A lower
seq than before is then how a peer asks again for entries it could not keep (a gap, a full quarantine).

Fork proofs (two entries one author signed with one seq) go to the peer once it holds an entry at that seq
(ours, sent in the normal stream, or its own other branch): it then stores the one it lacks as the proof.
Sent earlier, they could reach a peer that does not yet know the author, whose quarantine keeps one entry
per seq.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from meshchat.proto.blobs import BLOB_MESSAGES, BlobEvent, BlobLane
from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError
from meshchat.proto.events import CaughtUp, EntriesReceived, NeedEntries, NotesReceived, SyncStarted
from meshchat.proto.messages import (
    MAX_AUTHORS,
    MAX_BATCH_ENTRIES,
    WINDOW,
    Ack,
    CompactEntries,
    Entries,
    Idle,
    Message,
    Notes,
    Ping,
)
from meshchat.proto.pacing import ENTRIES, Pacer

NOTE_DELAY = 0.25  # seconds a note about an author the peer does not want pushed may wait for company
LIVE_ENTRIES = 4  # an author with at most this many entries to send is live: it goes ahead of backlogs
LIVE_ALLOWANCE = 16 * 1024  # bytes live entries may add beyond the window

SyncEvent = SyncStarted | NotesReceived | NeedEntries | EntriesReceived | CaughtUp | BlobEvent


@dataclass(frozen=True, slots=True)
class ForkProof:
    """Two different entries signed by ``author`` for ``seq``: the one stored, and the other one."""

    author: bytes
    seq: int
    raws: tuple[bytes, bytes]


class SyncSession:
    """One side of the sync with one peer. Feed it the peer's messages and the node's news; drain
    :meth:`next_event` (requests and reports for the node) and :meth:`outgoing` (messages for the peer).

    ``local`` is what we may send, per author (capped at removals and forks); ``held`` what we hold, told in
    notes (by default ``local``); ``priority`` the admission order of authors; ``wants`` the authors we want
    this peer to push to us (``None``: every author it tells us of, for a node with one peer)."""

    def __init__(
        self,
        local: Mapping[bytes, int],
        *,
        held: Mapping[bytes, int] | None = None,
        priority: Sequence[bytes] = (),
        fork_proofs: Iterable[ForkProof] = (),
        wants: Iterable[bytes] | None = None,
        clock: Callable[[], float],
        pacer: Pacer | None = None,
    ) -> None:
        self.clock = clock
        self.local = dict(local)  # what we hold and may send, per author
        self.held = dict(local if held is None else held)  # what we hold, per author (told in notes)
        self.peer_has: dict[bytes, int] = {}  # what the peer holds, as far as we know
        self.peer_wants: set[bytes] = set()  # authors the peer wants us to push
        self.want_all = wants is None
        self.wants: set[bytes] = set(self.held if wants is None else wants)  # authors we want this peer to push
        self.rank = {author: i for i, author in enumerate(priority)}
        self.pacer = pacer or Pacer(clock)
        self.unprocessed = 0  # the peer's Entries messages we have not yet reported processed
        self.batch_entries = MAX_BATCH_ENTRIES
        self._started = False  # the peer's first notes arrived
        self._outbox: list[Message] = []
        self._events: deque[SyncEvent] = deque()
        self._pending: set[bytes] = set()  # authors the peer wants and lacks
        self._asked: NeedEntries | None = None  # the request the node has not answered yet
        self._last_served: tuple[int, bytes] = (-1, b"")  # the known author served last (they take turns)
        self._busy = True  # owe the peer an Idle: it asked for more, or we sent it backlog, since our last Idle
        self._asked_live = False  # the request the node has not answered is for a live author
        self._peer_idle = False  # the peer said Idle; CaughtUp once its batches are processed
        self._notes: dict[bytes, int] = {}  # notes to send: author -> the seq we hold
        self._asks: dict[bytes, int] = {}  # notes that ask again: author -> a seq below what we hold
        self._notes_due: float | None = None  # when waiting notes must go (None: none wait)
        self._told: dict[bytes, tuple[int, bool]] = {}  # what our notes said last: (seq, push)
        self._proofs: dict[bytes, list[ForkProof]] = {}
        self._proofs_sent: set[tuple[bytes, bytes]] = set()
        self.blobs = BlobLane(clock, self.pacer, self._events.append)  # files: see meshchat.proto.blobs
        self.add_fork_proofs(fork_proofs)
        self._note(self.held.keys() | self.wants)
        self._outbox.append(self._take_notes())  # our first message: what we hold, what we want (maybe nothing)

    # ---- the peer's messages ---------------------------------------------------------------------------

    def receive(self, message: Message | CompactEntries) -> None:
        if type(message) is Entries or type(message) is CompactEntries:
            if not self._started:
                raise RemoteProtocolError("entries before notes")
            if self.unprocessed >= WINDOW:
                raise RemoteProtocolError(f"flow control violated: more than {WINDOW} unacknowledged batches")
            self.unprocessed += 1
            self._events.append(EntriesReceived(message))
        elif type(message) is Notes:
            self._on_notes(message)
        elif type(message) is Ack:
            if message.batches > self.pacer.flights(ENTRIES):
                raise RemoteProtocolError("acknowledged more batches than were sent")
            self.pacer.acknowledged(message.batches)
        elif type(message) is Idle:
            if not self._started:
                raise RemoteProtocolError("idle before notes")
            self._peer_idle = True
            self._check_caught_up()
        elif type(message) in BLOB_MESSAGES:
            if not self._started:
                raise RemoteProtocolError("a blob message before notes")
            self.blobs.receive(message)  # type: ignore[arg-type]
        elif type(message) is not Ping:
            raise LocalProtocolError(f"not a sync message: {message!r}")

    def _on_notes(self, notes: Notes) -> None:
        peer, pacer = self.peer_has, self.pacer
        if not self._started:
            self._started = True
            expected = sum(max(0, seq - self.held.get(a, 0)) for a, seq in notes.heads.items())
            self._events.append(SyncStarted(expected))
            self._busy = True
        for author, seq in notes.heads.items():
            # Entries we sent that the peer had not acknowledged when it wrote this are still on their way.
            peer[author] = max(seq, pacer.in_flight_seq(author)) if pacer.in_flight else seq
            if author in notes.push:
                if author not in self.peer_wants or seq < self.local.get(author, 0):  # asked for more: an Idle
                    self._busy = True  # will say when it has all of it
                self.peer_wants.add(author)
            else:
                self.peer_wants.discard(author)
            self._update_pending(author)
        if len(peer) > MAX_AUTHORS:  # what a peer tells us is kept per author: a bounded number of them
            raise RemoteProtocolError(f"notes about more than {MAX_AUTHORS} authors")
        if self.want_all:
            self._want(notes.heads)
        self._events.append(NotesReceived(dict(notes.heads)))

    def _update_pending(self, author: bytes) -> None:
        if author in self.peer_wants and self.local.get(author, 0) > self.peer_has.get(author, 0):
            self._pending.add(author)
        else:
            self._pending.discard(author)

    # ---- the node's news -------------------------------------------------------------------------------

    def local_advanced(self, heads: Mapping[bytes, int], held: Mapping[bytes, int] | None = None) -> None:
        """We now hold ``held`` and may send ``heads`` (``{author: seq}``): push what the peer wants and
        lacks, and tell it of the rest."""
        news = []
        for author, seq in (heads if held is None else held).items():
            if seq > self.held.get(author, 0):
                self.held[author] = seq
                news.append(author)
        for author, seq in heads.items():
            if seq > self.local.get(author, 0):
                self.local[author] = seq
                self._update_pending(author)
        self._note(a for a in news if a not in self.peer_wants and self.peer_has.get(a, 0) < self.held[a])

    def set_wants(self, wanted: Iterable[bytes], unwanted: Iterable[bytes] = ()) -> None:
        """From now on, ask this peer to push ``wanted`` and no longer ``unwanted`` (the node's choice of
        sources: see ``meshchat.proto.sources``)."""
        self.want_all = False
        self._want(wanted)
        gone = [a for a in unwanted if a in self.wants]
        self.wants.difference_update(gone)
        self._note(gone, now=True)

    def _want(self, authors: Iterable[bytes]) -> None:
        new = [a for a in authors if a not in self.wants]
        self.wants.update(new)
        self._note(new, now=True)

    def ask_again(self, author: bytes, after: int) -> None:
        """Ask the peer to send ``author``'s entries after ``after`` again (we hold more, but some of them did
        not link: the peer's entry at ``after + 1`` is a fork proof to keep)."""
        self._asks[author] = min(after, self._asks.get(author, after))
        self._notes_due = self.clock()

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
        size = sum(map(len, raws))
        if len(raws) > request.max_entries or (len(raws) > 1 and size > request.max_bytes):
            raise LocalProtocolError("more entries than were asked for")
        if not raws:  # nothing more after all: stop offering until the node reports more
            self.local[author] = request.after
            self._pending.discard(author)
            return
        sent_upto = request.after + len(raws)
        held = self.peer_has.get(author, 0)
        if request.after <= held:  # contiguous with what the peer holds (a new note may have lowered it)
            self.peer_has[author] = max(held, sent_upto)
        self._update_pending(author)
        self._send(raws, {author: sent_upto}, limited=bool(self._pending))
        if not self._asked_live:  # a live entry needs no Idle after it: the peer is caught up already
            self._busy = True

    def entries_processed(self, batches: int, seen: Mapping[bytes, int] = {}) -> None:
        """We stored (or judged) ``batches`` more of the peer's Entries messages. ``seen``: the highest seq of
        each author that arrived in them, which the peer therefore holds (so we never echo them back)."""
        if not 0 < batches <= self.unprocessed:
            raise LocalProtocolError(f"{batches} batches processed, but only {self.unprocessed} received")
        self.unprocessed -= batches
        self._outbox.append(Ack(batches))
        peer = self.peer_has
        for author, seq in seen.items():
            if seq > peer.get(author, 0):
                peer[author] = seq
                self._update_pending(author)
        self._check_caught_up()

    def resync(self, local: Mapping[bytes, int], held: Mapping[bytes, int] | None = None) -> None:
        """Tell the peer again what we hold of every author either of us knows, so that it resends what we
        lack (entries we had to defer)."""
        self.local_advanced(local, held)
        self._told.clear()
        self._note(self.held.keys() | self.peer_has.keys() | self.wants, now=True)

    def ping(self) -> None:
        self._outbox.append(Ping())

    # ---- output ----------------------------------------------------------------------------------------

    def next_event(self) -> SyncEvent | None:
        if self._events:
            return self._events.popleft()
        if not self._started or self._asked is not None:
            return None
        self._queue_fork_proofs()
        pacer = self.pacer
        if pacer.flights(ENTRIES) < WINDOW and self._pending:
            live = self._live_author()
            room = pacer.room()
            if live is not None and room + LIVE_ALLOWANCE > 0:
                return self._ask(live, max(1, min(pacer.batch, room + LIVE_ALLOWANCE)), live=True)
            if room > 0:
                return self._ask(self._pick_author(), min(pacer.batch, room), live=False)
        if not self._pending and (request := self.blobs.next_request()) is not None:
            return request  # pieces of files only when no entry waits for the peer
        if self._busy and not self._pending:
            self._busy = False
            self._outbox.append(Idle())
        return None

    def has_output(self) -> bool:
        """Whether :meth:`outgoing` has something now, or notes that wait for their time."""
        return bool(self._outbox or self._notes or self._asks) or self.blobs.has_output()

    def next_deadline(self) -> float | None:
        """When :meth:`outgoing` will have notes to send that are not due now (None: nothing waits)."""
        due = [d for d in (self._notes_due, self.blobs.next_deadline()) if d is not None]
        return min(due) if due else None

    def outgoing(self) -> list[Message]:
        """Messages for the peer. Waiting notes go with them, or on their own once due."""
        out = self._outbox
        waiting = self._notes or self._asks
        if waiting and (out or (self._notes_due is not None and self.clock() >= self._notes_due)):
            self._queue_notes(out, self._take_notes())
        self._outbox = []
        out.extend(self.blobs.outgoing(flush=bool(out)))
        return out

    @staticmethod
    def _queue_notes(out: list[Message], notes: Notes) -> None:
        """Put ``notes`` ahead of the entries and Idle in ``out``, but after its Acks: a note is written after
        the batches acknowledged so far were stored (read before their Ack, a note that asks for some entries
        again looks written while they were still on the wire, and goes unheard). Notes still queued there
        (the first ones) take these in, so that the peer reads one message, where the later note wins."""
        at = max((i + 1 for i, message in enumerate(out) if type(message) is Ack), default=0)
        queued = next((i for i in range(at, len(out)) if type(out[i]) is Notes), None)
        if queued is not None:
            first = out[queued]
            assert type(first) is Notes
            heads = {**first.heads, **notes.heads}
            if len(heads) <= MAX_AUTHORS:
                out[queued] = Notes(heads, (first.push - notes.heads.keys()) | notes.push)
                return
            at = queued + 1
        out.insert(at, notes)

    # ---- internals -------------------------------------------------------------------------------------

    def _note(self, authors: Iterable[bytes], *, now: bool = False) -> None:
        """Queue a note about each of ``authors`` (what we hold, whether we want it pushed), to go ``now`` or
        within :data:`NOTE_DELAY`."""
        added = False
        for author in authors:
            self._notes[author] = self.held.get(author, 0)
            added = True
        if added:
            due = self.clock() + (0.0 if now else NOTE_DELAY)
            self._notes_due = due if self._notes_due is None else min(self._notes_due, due)

    def _take_notes(self) -> Notes:
        wants, told = self.wants, self._told
        heads: dict[bytes, int] = {}
        for author, seq in self._asks.items():
            heads[author] = seq
            told[author] = (seq, author in wants)
        for author, seq in self._notes.items():
            said = (seq, author in wants)
            if author not in heads and told.get(author) != said:
                heads[author] = seq
                told[author] = said
        self._notes.clear()
        self._asks.clear()
        self._notes_due = None
        return Notes(heads, frozenset(a for a in heads if a in wants))

    def _ask(self, author: bytes, max_bytes: int, *, live: bool) -> NeedEntries:
        self._asked_live = live
        after = self.peer_has.get(author, 0)
        self._asked = NeedEntries(author, after, self.local[author], self.batch_entries, max_bytes)
        return self._asked

    def _send(self, raws: Sequence[bytes], seqs: Mapping[bytes, int], *, limited: bool = False) -> None:
        self._outbox.append(Entries(tuple(raws)))
        self.pacer.sent(sum(map(len, raws)), seqs, limited=limited)

    def _check_caught_up(self) -> None:
        if self._peer_idle and self.unprocessed == 0:
            self._peer_idle = False
            self._events.append(CaughtUp())

    def _rank(self, author: bytes) -> tuple[int, bytes]:
        return (self.rank.get(author, len(self.rank)), author)

    def _live_author(self) -> bytes | None:
        """An author with only a few entries to send (what someone just wrote), in priority order."""
        peer, local = self.peer_has, self.local
        live = [a for a in self._pending if local[a] - peer.get(a, 0) <= LIVE_ENTRIES]
        return min(live, key=self._rank) if live else None

    def _pick_author(self) -> bytes:
        """Authors the peer knows take turns (in priority order); then new authors in admission order."""
        peer = self.peer_has
        known = [a for a in self._pending if peer.get(a, 0) > 0]
        if not known:
            return min(self._pending, key=self._rank)
        later = [a for a in known if self._rank(a) > self._last_served]
        author = min(later or known, key=self._rank)
        self._last_served = self._rank(author)
        return author

    def _queue_fork_proofs(self) -> None:
        peer, pacer = self.peer_has, self.pacer
        for author in list(self._proofs):
            if pacer.flights(ENTRIES) >= WINDOW:
                return
            ready = [p for p in self._proofs[author] if peer.get(author, 0) >= p.seq]
            for proof in ready[: WINDOW - pacer.flights(ENTRIES)]:
                self._proofs[author].remove(proof)
                self._proofs_sent.add(proof.raws)
                self._send(proof.raws, {author: proof.seq})
            if not self._proofs[author]:
                del self._proofs[author]
