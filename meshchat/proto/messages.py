"""The sync messages (link protocol v2): frozen dataclasses, validated when built, with a strict codec.

Each message is a msgpack array whose first element is its type (docs/formats.md, "Sync messages")::

    [1, {author: note, ...}]        Notes    what the sender holds of these authors (note = seq * 2 + push),
                                              and whether it wants each pushed to it by the receiver
    [2, [kind, ...], [item, ...]]   Entries  entries in compact form: runs of one author's log, or raw entries
    [3, n]                          Ack      the sender has processed n more Entries messages
    [4]                             Idle     the sender has sent everything the receiver asked of it
    [5]                             Ping     keeps a quiet link alive

Entries travel compact: the receiver rebuilds each entry's exact bytes from what it cannot derive (signature,
body, clock, kind) and what it can (the team id from the link; author, seq and ``prev`` from the entry before
it in the same run; body length and hash from the body). The rebuilt entry is then checked like any other,
so a sender that lies about a derived field gets a bad signature, not a different entry. An entry the compact
form cannot carry exactly (the genesis, whose team id is zero) travels whole.

Rebuilding is the costly part of receiving (~5 us an entry, in Python). So the connection decodes an Entries
message only as far as its shape (:class:`CompactEntries`: bounded sizes and counts, checked at once) and the
receiver rebuilds it where it likes (``meshchat.net.link`` does it in the node's writer thread, with the
store's accept: off the UI thread, and with no second Python thread contending for the interpreter lock).

Building a message with bad values raises :class:`LocalProtocolError`; decoding bytes that are not exactly
one valid message raises :class:`RemoteProtocolError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import msgpack

from meshchat.log.codec import DecodeError, unpack
from meshchat.log.entry import (
    ENTRY_VERSION,
    ID_SIZE,
    KEY_SIZE,
    MAX_ENTRY_SIZE,
    MAX_SEQ,
    Entry,
    EntryError,
    decode_entry,
    entry_from_parts,
)
from meshchat.proto import blobs
from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError

MAX_AUTHORS = 10_000  # authors in one Notes message
MAX_BATCH_ENTRIES = 8_192
MAX_BATCH_BYTES = 512 * 1024  # entry bytes (as rebuilt) in one Entries message
MAX_KINDS = 256  # distinct kinds named in one Entries message
MAX_MESSAGE = 1024 * 1024  # one encoded message, before compression
WINDOW = 16  # Entries messages a sender may have unacknowledged

_packb = msgpack.Packer(use_bin_type=True).pack
_unpackb = msgpack.unpackb


class MessageType(IntEnum):
    NOTES = 1
    ENTRIES = 2
    ACK = 3
    IDLE = 4
    PING = 5


@dataclass(frozen=True, slots=True)
class Notes:
    """The sender holds ``heads[author]`` of each author named (a lower seq than it said before means it
    could not keep some: send them again), and wants the authors in ``push`` sent to it as the receiver gets
    them; it wants the others' entries from someone else and only hears of them here."""

    heads: Mapping[bytes, int]
    push: frozenset[bytes] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if len(self.heads) > MAX_AUTHORS:
            raise LocalProtocolError(f"a Notes message names at most {MAX_AUTHORS} authors")
        for author, seq in self.heads.items():
            if type(author) is not bytes or len(author) != KEY_SIZE:
                raise LocalProtocolError("notes are about 32-byte author keys")
            if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
                raise LocalProtocolError(f"note seq out of range: {seq!r}")
        if not self.push <= self.heads.keys():
            raise LocalProtocolError("push names an author the notes do not")


@dataclass(frozen=True, slots=True)
class Entries:
    """Raw entries. A decoded message also carries them decoded (``decoded``, one per raw, checked by the
    entry rules), so that the store need not decode them again."""

    raws: tuple[bytes, ...]
    decoded: tuple[Entry, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        raws = self.raws
        if not 0 < len(raws) <= MAX_BATCH_ENTRIES:
            raise LocalProtocolError(f"an Entries message holds 1 to {MAX_BATCH_ENTRIES} entries")
        # Checked with C-level builtins: this runs for every batch of a catch-up.
        if set(map(type, raws)) != {bytes}:
            raise LocalProtocolError("entries are byte strings")
        sizes = list(map(len, raws))
        if min(sizes) < 1 or max(sizes) > MAX_ENTRY_SIZE:
            raise LocalProtocolError(f"an entry is 1 to {MAX_ENTRY_SIZE} bytes")
        if sum(sizes) > MAX_BATCH_BYTES:
            raise LocalProtocolError(f"an Entries message holds at most {MAX_BATCH_BYTES} bytes of entries")

    @property
    def count(self) -> int:
        return len(self.raws)


@dataclass(frozen=True, slots=True, eq=False)
class CompactEntries:
    """An Entries message as it arrived: checked in shape (sizes, counts, types of the runs), its ``count``
    entries not yet rebuilt. :func:`rebuilt` makes the :class:`Entries`, checked by the entry rules."""

    kinds: tuple[str, ...]
    items: tuple[object, ...]  # raw entries (bytes) and runs [author, seq, prev, [compact entry, ...]]
    team_id: bytes
    count: int


@dataclass(frozen=True, slots=True)
class Ack:
    batches: int

    def __post_init__(self) -> None:
        if type(self.batches) is not int or not 0 < self.batches <= WINDOW:
            raise LocalProtocolError(f"an Ack covers 1 to {WINDOW} Entries messages")


@dataclass(frozen=True, slots=True)
class Idle:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Message = Notes | Entries | Ack | Idle | Ping | blobs.BlobMessage  # types 6 to 10: files (meshchat.proto.blobs)
ReceivedEntries = Entries | CompactEntries  # an Entries message as a peer's bytes give it (see decode)


# ---- encoding ----------------------------------------------------------------------------------------------


def encode(message: Message, team_id: bytes) -> bytes:
    """The message's bytes; ``team_id`` (the link's team) is what compact entries leave out."""
    if type(message) is Entries:
        value: list[object] = [MessageType.ENTRIES, *compact_entries(message.raws, team_id)]
    elif type(message) is Notes:
        push = message.push
        value = [MessageType.NOTES, {a: seq * 2 + (a in push) for a, seq in message.heads.items()}]
    elif type(message) is Ack:
        value = [MessageType.ACK, message.batches]
    elif type(message) is Idle:
        value = [MessageType.IDLE]
    elif type(message) is Ping:
        value = [MessageType.PING]
    elif type(message) in blobs.BLOB_MESSAGES:
        value = blobs.encode(message)  # type: ignore[arg-type]
    else:
        raise LocalProtocolError(f"not a sync message: {message!r}")
    return _packb(value)  # type: ignore[no-any-return]


def compact_entries(raws: Iterable[bytes], team_id: bytes) -> tuple[list[str], list[object]]:
    """``(kinds, items)``: runs of consecutive entries of one author's chain, each entry reduced to
    ``[clock - previous clock, kind index, sig, body]``; an entry whose header would not be rebuilt byte for
    byte from those fields (the genesis) goes whole, as a bin item."""
    kinds: dict[str, int] = {}
    items: list[object] = []
    run: list[object] | None = None  # the open run's entry list
    author_open, next_seq, last_id, last_clock = b"", 0, b"", 0
    for raw in raws:
        header, sig, body = _unpackb(raw)
        fields = _unpackb(header)
        version, team, author, seq, prev, clock, kind, _, _ = fields
        if (
            version != ENTRY_VERSION
            or team != team_id
            or _header(team_id, author, seq, prev, clock, kind, body) != header
        ):
            items.append(raw)
            run = None
            continue
        index = kinds.setdefault(kind, len(kinds))
        if run is None or author != author_open or seq != next_seq or prev != last_id:
            run = []
            items.append([author, seq, prev, run])
            author_open, last_clock = author, 0
        run.append([clock - last_clock, index, sig, body])
        next_seq, last_id, last_clock = seq + 1, _id(header, sig), clock
    if len(kinds) > MAX_KINDS:
        raise LocalProtocolError(f"an Entries message names at most {MAX_KINDS} kinds")
    return list(kinds), items


def _header(team_id: bytes, author: bytes, seq: int, prev: object, clock: int, kind: str, body: bytes) -> bytes:
    digest = hashlib.blake2b(body, digest_size=ID_SIZE).digest()
    return _packb([ENTRY_VERSION, team_id, author, seq, prev, clock, kind, len(body), digest])  # type: ignore[no-any-return]


def _id(header: bytes, sig: bytes) -> bytes:
    hasher = hashlib.blake2b(header, digest_size=ID_SIZE)
    hasher.update(sig)
    return hasher.digest()


# ---- decoding ----------------------------------------------------------------------------------------------


def decode(body: bytes, team_id: bytes, *, rebuild: bool = True) -> Message | CompactEntries:
    """One message from its bytes. Raises :class:`RemoteProtocolError` on anything else. With ``rebuild``
    false, an Entries message comes as :class:`CompactEntries` (its entries to rebuild with :func:`rebuilt`)."""
    try:
        value = unpack(body, max_len=MAX_MESSAGE, max_items=max(MAX_AUTHORS, MAX_BATCH_ENTRIES), check_values=False)
    except DecodeError as exc:
        raise RemoteProtocolError(f"malformed sync message: {exc}") from None
    if type(value) is not list or not value or type(value[0]) is not int:
        raise RemoteProtocolError("a sync message is an array that starts with its type")
    kind, args = value[0], value[1:]
    try:
        if kind == MessageType.ENTRIES and len(args) == 2 and type(args[0]) is list and type(args[1]) is list:
            compact = _compact_shape(args[0], args[1], team_id)
            return rebuilt(compact) if rebuild else compact
        if kind == MessageType.NOTES and len(args) == 1 and type(args[0]) is dict:
            return _notes(args[0])
        if kind == MessageType.ACK and len(args) == 1:
            return Ack(args[0])  # type: ignore[arg-type]
        if kind == MessageType.IDLE and not args:
            return Idle()
        if kind == MessageType.PING and not args:
            return Ping()
        if kind in blobs.BLOB_TYPES:
            return blobs.decode(kind, args)
    except LocalProtocolError as exc:
        raise RemoteProtocolError(f"invalid sync message: {exc}") from None
    raise RemoteProtocolError(f"unknown or malformed sync message of type {kind}")


def _notes(value: Mapping[object, object]) -> Notes:
    heads: dict[bytes, int] = {}
    push = set()
    for author, note in value.items():
        if type(note) is not int or note < 0:
            raise RemoteProtocolError("a note is a non-negative integer")
        heads[author] = note >> 1  # type: ignore[index]
        if note & 1:
            push.add(author)
    return Notes(heads, frozenset(push))  # type: ignore[arg-type]


def _compact_shape(kinds: Sequence[object], items: Sequence[object], team_id: bytes) -> CompactEntries:
    """Check what bounds an Entries message (how many kinds, items, entries) without rebuilding an entry."""
    if len(kinds) > MAX_KINDS or set(map(type, kinds)) - {str}:
        raise RemoteProtocolError("an Entries message names its kinds as up to 256 strings")
    count = 0
    for item in items:
        if type(item) is bytes:
            count += 1
            continue
        if type(item) is not list or len(item) != 4 or type(item[1]) is not int or type(item[3]) is not list:
            raise RemoteProtocolError("an Entries item is a raw entry or a run [author, seq, prev, entries]")
        if not item[3]:
            raise RemoteProtocolError("a run holds at least one entry")
        count += len(item[3])
    if not 0 < count <= MAX_BATCH_ENTRIES:
        raise RemoteProtocolError(f"an Entries message holds 1 to {MAX_BATCH_ENTRIES} entries")
    return CompactEntries(tuple(kinds), tuple(items), team_id, count)  # type: ignore[arg-type]


def rebuilt(batch: ReceivedEntries) -> Entries:
    """The entries of a received Entries message, rebuilt (see :func:`compact_entries`) and each checked by the
    entry rules (``meshchat.log.entry``): an entry that breaks one is the sender's fault
    (:class:`RemoteProtocolError`). Their signatures are the store's to check."""
    if type(batch) is Entries:
        return batch
    assert type(batch) is CompactEntries
    entries = _rebuild_entries(batch)
    try:
        return Entries(tuple(e.raw for e in entries), entries)
    except LocalProtocolError as exc:
        raise RemoteProtocolError(f"invalid sync message: {exc}") from None


def claimed_heads(batch: ReceivedEntries) -> dict[bytes, int]:
    """The highest seq of each author a received batch carries, as its sender claims, without rebuilding it
    (runs name their author, first seq and length; whole entries are decoded: the genesis, fork proofs).
    Unchecked: for hints only (``meshchat.proto.sources``), never for what is stored."""
    heads: dict[bytes, int] = {}
    if type(batch) is Entries:
        entries: Iterable[Entry] = batch.decoded or _decodable(batch.raws)
        pairs: Iterable[tuple[object, object]] = ((e.author, e.seq) for e in entries)
    else:
        assert type(batch) is CompactEntries
        pairs = _claimed_pairs(batch.items)
    for author, seq in pairs:
        if type(author) is bytes and len(author) == KEY_SIZE and type(seq) is int and seq > heads.get(author, 0):
            heads[author] = seq
    return heads


def _claimed_pairs(items: Iterable[object]) -> Iterator[tuple[object, object]]:
    for item in items:
        if type(item) is bytes:
            yield from ((e.author, e.seq) for e in _decodable((item,)))
        else:
            run: list[Any] = item  # type: ignore[assignment]  # a 4-list: shape checked by _compact_shape
            yield run[0], run[1] + len(run[3]) - 1


def _decodable(raws: Iterable[bytes]) -> Iterator[Entry]:
    for raw in raws:
        try:
            yield decode_entry(raw)
        except EntryError:
            continue


def _rebuild_entries(batch: CompactEntries) -> tuple[Entry, ...]:
    kinds, team_id = batch.kinds, batch.team_id
    out: list[Entry] = []
    pack = msgpack.Packer(use_bin_type=True).pack
    try:
        for item in batch.items:
            if type(item) is bytes:
                out.append(decode_entry(item))
                continue
            run_item: list[Any] = item  # type: ignore[assignment]  # a 4-list: shape checked by _compact_shape
            author, seq, prev, run = run_item
            clock = 0
            for compact in run:
                if type(compact) is not list or len(compact) != 4:
                    raise RemoteProtocolError("a compact entry is [clock delta, kind, sig, body]")
                delta, kind, sig, body = compact
                if type(delta) is not int or type(kind) is not int or not 0 <= kind < len(kinds):
                    raise RemoteProtocolError("a compact entry's clock delta and kind index are integers in range")
                clock += delta
                entry = entry_from_parts(team_id, author, seq, prev, clock, kinds[kind], sig, body, pack=pack)
                out.append(entry)
                prev, seq = entry.id, seq + 1
    except EntryError as exc:
        raise RemoteProtocolError(f"an invalid entry: {exc}") from None
    return tuple(out)
