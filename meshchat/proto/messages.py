"""The sync messages carried in DATA frames: frozen dataclasses, validated when built, with a strict codec.

Each message is a msgpack array whose first element is its type (see docs/formats.md)::

    [1, {author: head_seq, ...}]   Frontier  what the sender holds (and may pass on), per author
    [2, [entry, entry, ...]]       Entries   raw entries, each author's in seq order
    [3, n]                         Ack       the sender has processed n more Entries messages
    [4]                            Idle      the sender has sent everything it has that the receiver lacks
    [5]                            Ping      keeps an idle link alive

Building a message with bad values raises :class:`LocalProtocolError`; decoding bytes that are not exactly
one valid message raises :class:`RemoteProtocolError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import msgpack

from meshchat.log.codec import DecodeError, unpack
from meshchat.log.entry import KEY_SIZE, MAX_ENTRY_SIZE, MAX_SEQ
from meshchat.proto.channel import MAX_PLAINTEXT
from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError

MAX_AUTHORS = 10_000  # authors in one Frontier (a frontier of 10,000 authors is ~400 KiB)
MAX_BATCH_ENTRIES = 8_192
MAX_BATCH_BYTES = 512 * 1024  # raw entry bytes in one Entries message: well inside one frame
WINDOW = 16  # Entries messages a sender may have unacknowledged: at most 8 MiB in flight per link


class MessageType(IntEnum):
    FRONTIER = 1
    ENTRIES = 2
    ACK = 3
    IDLE = 4
    PING = 5


@dataclass(frozen=True, slots=True)
class Frontier:
    heads: Mapping[bytes, int]

    def __post_init__(self) -> None:
        if len(self.heads) > MAX_AUTHORS:
            raise LocalProtocolError(f"a frontier names at most {MAX_AUTHORS} authors")
        for author, seq in self.heads.items():
            if type(author) is not bytes or len(author) != KEY_SIZE:
                raise LocalProtocolError("frontier keys are 32-byte author keys")
            if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
                raise LocalProtocolError(f"frontier seq out of range: {seq!r}")


@dataclass(frozen=True, slots=True)
class Entries:
    raws: tuple[bytes, ...]

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


Message = Frontier | Entries | Ack | Idle | Ping


def encode(message: Message) -> bytes:
    if type(message) is Entries:
        value: list[object] = [MessageType.ENTRIES, list(message.raws)]
    elif type(message) is Frontier:
        value = [MessageType.FRONTIER, dict(message.heads)]
    elif type(message) is Ack:
        value = [MessageType.ACK, message.batches]
    elif type(message) is Idle:
        value = [MessageType.IDLE]
    elif type(message) is Ping:
        value = [MessageType.PING]
    else:
        raise LocalProtocolError(f"not a sync message: {message!r}")
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def decode(body: bytes) -> Message:
    """One message from the body of a DATA frame. Raises :class:`RemoteProtocolError` on anything else."""
    try:
        value = unpack(body, max_len=MAX_PLAINTEXT, max_items=max(MAX_AUTHORS, MAX_BATCH_ENTRIES), check_values=False)
    except DecodeError as exc:
        raise RemoteProtocolError(f"malformed sync message: {exc}") from None
    if type(value) is not list or not value or type(value[0]) is not int:
        raise RemoteProtocolError("a sync message is an array that starts with its type")
    kind, args = value[0], value[1:]
    try:
        if kind == MessageType.ENTRIES and len(args) == 1 and type(args[0]) is list:
            return Entries(tuple(args[0]))  # type: ignore[arg-type]
        if kind == MessageType.FRONTIER and len(args) == 1 and type(args[0]) is dict:
            return Frontier(args[0])  # type: ignore[arg-type]
        if kind == MessageType.ACK and len(args) == 1:
            return Ack(args[0])  # type: ignore[arg-type]
        if kind == MessageType.IDLE and not args:
            return Idle()
        if kind == MessageType.PING and not args:
            return Ping()
    except LocalProtocolError as exc:
        raise RemoteProtocolError(f"invalid sync message: {exc}") from None
    raise RemoteProtocolError(f"unknown or malformed sync message of type {kind}")
