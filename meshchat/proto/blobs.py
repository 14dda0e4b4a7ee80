"""Blobs on a link: the messages that fetch a file's chunks (types 6 to 10), and one side's state for them.

A file travels after the message that names it, and only when a node wants it (its own policy: small files
at once, large ones when a person asks). Fetching is pull, as in BitTorrent, because the receiver decides
what it wants and from whom; it shares everything else with entries (``meshchat.proto.sync``):

- **Ask / Have.** A node asks each linked peer what it holds of the blobs it wants (``Ask``); the peer answers
  with a bitfield per blob (``Have``, empty: none) and keeps telling it as its holdings grow (it may hold
  the answers back :data:`HAVE_DELAY` to send several together), until asked to stop. A node that is still
  fetching a blob serves the chunks it already holds: a file crosses a chain of nodes chunk by chunk, not
  hop by hop.
- **Fetch.** The node asks one peer for each part it wants (*one source per part*, chosen by
  ``meshchat.proto.fetching``), so a blob comes from several peers at once and no chunk crosses two links.
  Part 0 is the blob's index (its chunk hashes), part ``i`` its chunk ``i``. A Fetch names, per blob, the
  parts wanted from this peer now and where to start in each (a resumed part goes on from the bytes the
  receiver kept); it replaces what was asked of that blob before (an empty list cancels).
- **Piece.** The sender sends each part in order, in pieces of at most one pacing batch (a quarter second of
  the link), never before the entries the peer lacks: pieces go only when no entry waits for that peer, and
  within the *same* window of bytes in flight as entries (``meshchat.proto.pacing``), so a message written
  during a transfer waits behind at most that window. Pieces are acknowledged by ``Got``, apart from entries'
  ``Ack``: a receiver stores an entries batch at once, even behind pieces still being written.

The receiver checks each part against the blob id once it is whole (that is the node's business: the index
against the id, each chunk against the index); a peer that sent a bad one has its link ended, as for any
bad data, and the part is fetched from another.
"""

from __future__ import annotations

import struct
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeVar

from meshchat.log.attachments import CHUNK_SIZE, HASH_SIZE, MAX_CHUNKS
from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError
from meshchat.proto.pacing import BATCH_TIME, PIECES, Pacer

MAX_BLOBS = 1024  # blobs named in one Ask, Have or Fetch
MAX_PARTS = 4096  # parts named in one Fetch, all blobs together
MAX_PIECE = CHUNK_SIZE  # bytes of one Piece (a part is at most a chunk: the index of the largest blob fits one)
MIN_PIECE = 1024  # a piece is at least this (or the rest of its part), however small the window
MAX_BITFIELD = -(-MAX_CHUNKS // 8)
PIECE_WINDOW = 16  # Piece messages a sender may have unacknowledged
HAVE_DELAY = 0.25  # seconds news of our holdings may wait for company
FETCH_GROUP = 64  # blobs in one Fetch we send (a node asks a link for at most 32 parts at a time)
MAX_FETCH_PARTS = MAX_PARTS // (2 * FETCH_GROUP)  # adds (and cancels) of one blob in one Fetch we send

_T = TypeVar("_T")


class BlobMessageType(IntEnum):
    ASK = 6
    HAVE = 7
    FETCH = 8
    PIECE = 9
    GOT = 10


def _check_ids(ids: Iterable[bytes], what: str) -> None:
    for blob in ids:
        if type(blob) is not bytes or len(blob) != HASH_SIZE:
            raise LocalProtocolError(f"{what} names blobs by 32-byte ids")


@dataclass(frozen=True, slots=True)
class Ask:
    """Tell me what you hold of ``want`` (now, and as it grows); stop telling me of ``drop``."""

    want: frozenset[bytes] = frozenset()
    drop: frozenset[bytes] = frozenset()

    def __post_init__(self) -> None:
        if len(self.want) > MAX_BLOBS or len(self.drop) > MAX_BLOBS or not (self.want or self.drop):
            raise LocalProtocolError(f"an Ask names 1 to {MAX_BLOBS} blobs of each sort")
        if self.want & self.drop:
            raise LocalProtocolError("an Ask cannot want and drop one blob")
        _check_ids(self.want | self.drop, "an Ask")


@dataclass(frozen=True, slots=True)
class Have:
    """What the sender holds of each blob: a bitfield of chunks (``meshchat.log.attachments.ChunkSet``;
    empty: none). Holding any chunk of a blob of several means holding its index (part 0) too."""

    held: Mapping[bytes, bytes]

    def __post_init__(self) -> None:
        if not 0 < len(self.held) <= MAX_BLOBS:
            raise LocalProtocolError(f"a Have names 1 to {MAX_BLOBS} blobs")
        _check_ids(self.held, "a Have")
        for bits in self.held.values():
            if type(bits) is not bytes or len(bits) > MAX_BITFIELD:
                raise LocalProtocolError("a Have's bitfield is at most 1,024 bytes")


@dataclass(frozen=True, slots=True)
class Fetch:
    """Send me these parts too (``add``: each from its offset, in this order, after what I asked before), and
    no longer these (``cancel``: a part under way stops)."""

    add: Mapping[bytes, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    cancel: Mapping[bytes, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        blobs = len(self.add) + len(self.cancel)
        parts = sum(map(len, self.add.values())) + sum(map(len, self.cancel.values()))
        if not 0 < blobs <= MAX_BLOBS or not 0 < parts <= MAX_PARTS:
            raise LocalProtocolError(f"a Fetch names 1 to {MAX_BLOBS} blobs and 1 to {MAX_PARTS} parts")
        _check_ids(self.add.keys() | self.cancel.keys(), "a Fetch")
        for wanted in self.add.values():
            if len({part for part, _ in wanted}) != len(wanted):
                raise LocalProtocolError("a Fetch names each part of a blob once")
            for part, offset in wanted:
                _check_part(part)
                if type(offset) is not int or not 0 <= offset < CHUNK_SIZE:
                    raise LocalProtocolError("an offset is within a chunk")
        for cancelled in self.cancel.values():
            if len(set(cancelled)) != len(cancelled):
                raise LocalProtocolError("a Fetch names each part of a blob once")
            for part in cancelled:
                _check_part(part)


def _check_part(part: object) -> None:
    if type(part) is not int or not 0 <= part <= MAX_CHUNKS:
        raise LocalProtocolError("a part is 0 (the index) to 8,192")


@dataclass(frozen=True, slots=True)
class Piece:
    """``data`` of part ``part`` of ``blob``, from ``offset`` (pieces of one part arrive in order). A piece
    received is a read-only view of the frame it arrived in (see :func:`decode_piece`)."""

    blob: bytes
    part: int
    offset: int
    data: bytes | memoryview

    def __post_init__(self) -> None:
        _check_ids((self.blob,), "a Piece")
        if type(self.part) is not int or not 0 <= self.part <= MAX_CHUNKS:
            raise LocalProtocolError("a Piece's part is 0 to 8,192")
        if type(self.offset) is not int or not 0 <= self.offset < CHUNK_SIZE:
            raise LocalProtocolError("a Piece's offset is within a chunk")
        if (
            type(self.data) not in (bytes, memoryview)
            or not 0 < len(self.data) <= MAX_PIECE
            or self.offset + len(self.data) > CHUNK_SIZE
        ):
            raise LocalProtocolError("a Piece carries 1 byte to the rest of its chunk")


@dataclass(frozen=True, slots=True)
class Got:
    """The sender has stored (or judged) ``pieces`` more of the other side's Piece messages."""

    pieces: int

    def __post_init__(self) -> None:
        if type(self.pieces) is not int or not 0 < self.pieces <= PIECE_WINDOW:
            raise LocalProtocolError(f"a Got covers 1 to {PIECE_WINDOW} pieces")


BlobMessage = Ask | Have | Fetch | Piece | Got
BLOB_MESSAGES = frozenset({Ask, Have, Fetch, Piece, Got})
BLOB_TYPES = frozenset(t.value for t in BlobMessageType)


def encode(message: BlobMessage) -> list[object]:
    """The msgpack value of a blob message (``meshchat.proto.messages`` packs it)."""
    if type(message) is Piece:
        return [BlobMessageType.PIECE, message.blob, message.part, message.offset, message.data]
    if type(message) is Got:
        return [BlobMessageType.GOT, message.pieces]
    if type(message) is Have:
        return [BlobMessageType.HAVE, dict(message.held)]
    if type(message) is Fetch:
        add = {b: [list(p) for p in parts] for b, parts in message.add.items()}
        return [BlobMessageType.FETCH, add, {b: list(parts) for b, parts in message.cancel.items()}]
    if type(message) is Ask:
        return [BlobMessageType.ASK, sorted(message.want), sorted(message.drop)]
    raise LocalProtocolError(f"not a blob message: {message!r}")


# A PIECE frame's body (``meshchat.proto.channel``): this header, then the piece's bytes as they are. Not
# msgpack: packing and unpacking a quarter-megabyte bin copied it twice more on each side, for a header that
# is always the same three fields.
PIECE_HEADER = struct.Struct(">32sII")  # blob id, part, offset


def piece_header(piece: Piece) -> bytes:
    """The header of ``piece``'s PIECE frame; its data follows it."""
    return PIECE_HEADER.pack(piece.blob, piece.part, piece.offset)


def decode_piece(body: memoryview) -> Piece:
    """The Piece a PIECE frame carries (``header || data``); its data is a read-only view of ``body`` (a
    view of the frame's own buffer, which nothing else writes: the bytes go from the socket to the disk
    without being copied). Raises :class:`RemoteProtocolError`."""
    if len(body) <= PIECE_HEADER.size:
        raise RemoteProtocolError("a PIECE frame is its header and 1 byte or more")
    blob, part, offset = PIECE_HEADER.unpack_from(body)
    if len(body) - PIECE_HEADER.size > MAX_PIECE:
        raise RemoteProtocolError(f"a Piece carries at most {MAX_PIECE} bytes")
    try:
        return Piece(blob, part, offset, body[PIECE_HEADER.size :].toreadonly())
    except LocalProtocolError as exc:
        raise RemoteProtocolError(f"invalid Piece: {exc}") from None


def decode(kind: int, args: Sequence[object]) -> BlobMessage:
    """A blob message from its decoded msgpack array (type first). Raises :class:`RemoteProtocolError`."""
    try:
        if kind == BlobMessageType.PIECE and len(args) == 4:
            return Piece(*args)  # type: ignore[arg-type]
        if kind == BlobMessageType.GOT and len(args) == 1:
            return Got(args[0])  # type: ignore[arg-type]
        if kind == BlobMessageType.HAVE and len(args) == 1 and type(args[0]) is dict:
            return Have(args[0])
        if kind == BlobMessageType.FETCH and len(args) == 2 and type(args[0]) is dict and type(args[1]) is dict:
            add = {blob: _pairs(parts) for blob, parts in args[0].items()}
            cancel = {blob: _ints(parts) for blob, parts in args[1].items()}
            return Fetch(add, cancel)
        if kind == BlobMessageType.ASK and len(args) == 2 and type(args[0]) is list and type(args[1]) is list:
            want, drop = frozenset(args[0]), frozenset(args[1])
            if len(want) != len(args[0]) or len(drop) != len(args[1]):
                raise RemoteProtocolError("an Ask names each blob once")
            return Ask(want, drop)
    except (LocalProtocolError, TypeError) as exc:
        raise RemoteProtocolError(f"invalid blob message: {exc}") from None
    raise RemoteProtocolError(f"malformed blob message of type {kind}")


def _pairs(value: object) -> tuple[tuple[int, int], ...]:
    if type(value) is not list or len(value) > MAX_PARTS:
        raise RemoteProtocolError("a Fetch adds [part, offset] pairs")
    out = []
    for pair in value:
        if type(pair) is not list or len(pair) != 2:
            raise RemoteProtocolError("a Fetch adds [part, offset] pairs")
        out.append((pair[0], pair[1]))
    return tuple(out)


def _ints(value: object) -> tuple[int, ...]:
    if type(value) is not list or len(value) > MAX_PARTS:
        raise RemoteProtocolError("a Fetch cancels a list of parts")
    return tuple(value)


# ---- what a connection reports -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlobsAsked:
    """The peer asked what we hold of ``blobs``: answer with ``Connection.blobs_held`` (then, as it grows,
    ``Connection.blobs_advanced``)."""

    blobs: frozenset[bytes]


@dataclass(frozen=True, slots=True)
class BlobsHeld:
    """The peer holds these chunks of these blobs (``{blob: bitfield}``, empty: none)."""

    held: Mapping[bytes, bytes]


@dataclass(frozen=True, slots=True)
class NeedPart:
    """Read up to ``max_bytes`` of part ``part`` of ``blob`` from ``offset`` and hand them to
    ``Connection.send_part`` (``None`` if we do not hold that part)."""

    blob: bytes
    part: int
    offset: int
    max_bytes: int


@dataclass(frozen=True, slots=True)
class PieceReceived:
    """A piece from the peer, unchecked: keep it, then call ``Connection.pieces_processed``. ``data`` is
    a read-only view of the frame it came in (no copy): keep it as long as needed, never longer."""

    blob: bytes
    part: int
    offset: int
    data: bytes | memoryview


BlobEvent = BlobsAsked | BlobsHeld | NeedPart | PieceReceived


def _chunked(items: tuple[_T, ...]) -> list[tuple[_T, ...]]:
    """``items`` in runs of at most :data:`MAX_FETCH_PARTS` (what one Fetch may carry of one blob)."""
    return [items[i : i + MAX_FETCH_PARTS] for i in range(0, len(items), MAX_FETCH_PARTS)]


# ---- one side's state ------------------------------------------------------------------------------------------


@dataclass
class _Serving:
    """The parts the peer fetches of one blob, the first one under way."""

    parts: deque[tuple[int, int]] = field(default_factory=deque)


class BlobLane:
    """The blob half of one side of a sync (``meshchat.proto.sync.SyncSession`` holds one): what the peer
    asked of us and fetches from us, what we asked of it. ``emit`` queues an event for the node."""

    def __init__(self, clock: Callable[[], float], pacer: Pacer, emit: Callable[[BlobEvent], None]) -> None:
        self.clock = clock
        self.pacer = pacer
        self._emit = emit
        self.peer_asked: set[bytes] = set()  # blobs the peer wants to hear about
        self.unprocessed = 0  # the peer's pieces not yet reported processed
        self._serving: OrderedDict[bytes, _Serving] = OrderedDict()  # the peer's fetches, taking turns
        self._request: NeedPart | None = None  # the read the node has not answered yet
        self._outbox: list[BlobMessage] = []
        self._told: dict[bytes, bytes] = {}  # what our Have said last, per blob the peer asked about
        self._news: dict[bytes, bytes] = {}  # holdings to tell, waiting for company
        self._news_due: float | None = None

    # ---- the peer's messages -------------------------------------------------------------------------------

    def receive(self, message: BlobMessage) -> None:
        if type(message) is Piece:
            if self.unprocessed >= PIECE_WINDOW:
                raise RemoteProtocolError(f"flow control violated: more than {PIECE_WINDOW} unacknowledged pieces")
            self.unprocessed += 1
            self._emit(PieceReceived(message.blob, message.part, message.offset, message.data))
        elif type(message) is Got:
            if message.pieces > self.pacer.flights(PIECES):
                raise RemoteProtocolError("acknowledged more pieces than were sent")
            self.pacer.acknowledged(message.pieces, lane=PIECES)
        elif type(message) is Fetch:
            for blob, cancelled in message.cancel.items():
                serving = self._serving.get(blob)
                if serving is not None:
                    serving.parts = deque(p for p in serving.parts if p[0] not in cancelled)
                    if not serving.parts:
                        del self._serving[blob]
            for blob, added in message.add.items():
                serving = self._serving.setdefault(blob, _Serving())
                queued = {part for part, _ in serving.parts}
                serving.parts.extend(p for p in added if p[0] not in queued)
        elif type(message) is Have:
            self._emit(BlobsHeld(dict(message.held)))
        elif type(message) is Ask:
            self.peer_asked -= message.drop
            for blob in message.drop:
                self._told.pop(blob, None)
                self._news.pop(blob, None)
            new = message.want - self.peer_asked
            self.peer_asked |= message.want
            if new:
                self._emit(BlobsAsked(frozenset(new)))
        else:
            raise LocalProtocolError(f"not a blob message: {message!r}")

    # ---- the node's side -----------------------------------------------------------------------------------

    def ask(self, want: Iterable[bytes], drop: Iterable[bytes] = ()) -> None:
        want_set, drop_set = frozenset(want), frozenset(drop) - frozenset(want)
        for start in range(0, max(len(want_set), len(drop_set)), MAX_BLOBS):
            w = frozenset(sorted(want_set)[start : start + MAX_BLOBS])
            d = frozenset(sorted(drop_set)[start : start + MAX_BLOBS])
            if w or d:
                self._outbox.append(Ask(w, d))

    def fetch(self, add: Mapping[bytes, Iterable[tuple[int, int]]], cancel: Mapping[bytes, Iterable[int]] = {}) -> None:
        """Ask the peer for more parts (``add``) and no longer for others (``cancel``), as one Fetch if they
        fit, else as several that mean the same: each blob's cancels go no later than its first adds (a Fetch
        cancels before it adds), and its adds in order."""
        steps: dict[bytes, list[tuple[tuple[tuple[int, int], ...], tuple[int, ...]]]] = {}
        for blob in dict.fromkeys([*cancel, *add]):
            adds, cancels = _chunked(tuple(add.get(blob, ()))), _chunked(tuple(cancel.get(blob, ())))
            if adds or cancels:
                last = cancels.pop() if cancels else ()
                steps[blob] = [((), c) for c in cancels] + [(adds[0] if adds else (), last)]
                steps[blob] += [(a, ()) for a in adds[1:]]
        for step in range(max(map(len, steps.values()), default=0)):
            blobs = [blob for blob, todo in steps.items() if step < len(todo)]
            for start in range(0, len(blobs), FETCH_GROUP):
                group = [(blob, steps[blob][step]) for blob in blobs[start : start + FETCH_GROUP]]
                self._outbox.append(Fetch({b: a for b, (a, _) in group if a}, {b: c for b, (_, c) in group if c}))

    def held(self, held: Mapping[bytes, bytes], *, now: bool = True) -> None:
        """Tell the peer what we hold of blobs it asked about (``now``: the answer to its Ask; else news,
        sent only where it changed, within :data:`HAVE_DELAY`)."""
        for blob, bits in held.items():
            if blob in self.peer_asked and (now or self._told.get(blob) != bits):
                self._news[blob] = bits
        if self._news:
            due = self.clock() + (0.0 if now else HAVE_DELAY)
            self._news_due = due if self._news_due is None else min(self._news_due, due)

    def pieces_processed(self, count: int) -> None:
        if not 0 < count <= self.unprocessed:
            raise LocalProtocolError(f"{count} pieces processed, but only {self.unprocessed} received")
        self.unprocessed -= count
        while count:
            step = min(count, PIECE_WINDOW)
            self._outbox.append(Got(step))
            count -= step

    def next_request(self) -> NeedPart | None:
        """The next part to read for the peer, if the window has room (the session calls this only when no
        entries wait for the peer)."""
        pacer = self.pacer
        if self._request is not None or not self._serving or pacer.flights(PIECES) >= PIECE_WINDOW:
            return None
        room = pacer.room()
        if room <= 0:
            return None
        blob, serving = next(iter(self._serving.items()))
        self._serving.move_to_end(blob)  # blobs take turns, a piece each
        part, offset = serving.parts[0]
        # A batch's time of the link, as entries, but not capped as an entries batch is (that cap is the cost
        # of decoding entries on the receiver's UI thread; a piece costs nothing to decode): a whole chunk
        # per piece on a LAN.
        size = max(MIN_PIECE, min(int(pacer.rate * BATCH_TIME), room, MAX_PIECE))
        self._request = NeedPart(blob, part, offset, size)
        return self._request

    def send_part(self, request: NeedPart, data: bytes | None, *, done: bool) -> None:
        """Answer the last :class:`NeedPart`: ``data`` read (``None``: not held), ``done``: that was the rest
        of the part."""
        if request is not self._request:
            raise LocalProtocolError("send_part answers the last NeedPart")
        self._request = None
        serving = self._serving.get(request.blob)
        if serving is None or not serving.parts or serving.parts[0] != (request.part, request.offset):
            return  # the peer changed its fetch meanwhile
        if not data or done:
            serving.parts.popleft()
            if not serving.parts:
                del self._serving[request.blob]
        if data:
            if not done:
                serving.parts[0] = (request.part, request.offset + len(data))
            self._outbox.append(Piece(request.blob, request.part, request.offset, data))
            self.pacer.sent(len(data), {}, limited=bool(self._serving), lane=PIECES)

    # ---- output --------------------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        return self._news_due

    def has_output(self) -> bool:
        return bool(self._outbox or self._news)

    def outgoing(self, *, flush: bool) -> list[BlobMessage]:
        """Messages for the peer; waiting Have news go with them (or alone once due, or with ``flush``)."""
        out = self._outbox
        if self._news and (out or flush or (self._news_due is not None and self.clock() >= self._news_due)):
            news = list(self._news.items())
            for start in range(0, len(news), MAX_BLOBS):
                out.append(Have(dict(news[start : start + MAX_BLOBS])))
            self._told.update(self._news)
            self._news.clear()
            self._news_due = None
        self._outbox = []
        return out
