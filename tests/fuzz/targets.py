"""Fuzz targets: the three parsers a stranger on the LAN can reach with bytes of their choosing.

Each target takes arbitrary bytes and may raise only the project's own error for bad input
(:class:`RemoteProtocolError` for the link, :class:`EntryError` for entries): any other exception, a hang, or
unbounded memory is a bug. They are shared by the short CI run (``tests/fuzz/test_fuzz.py``: the seed corpus
plus seeded mutations) and the long, coverage-guided run (``bench/fuzz.py``, with atheris).

- ``frames``: the frame reader, fed in uneven chunks.
- ``entry``: the strict entry decoder (and the body of whatever decodes).
- ``link``: a whole :class:`~meshchat.proto.connection.Connection`, in one of four positions chosen by the
  first byte: raw bytes to a server or to a client, and, so that the fuzzer gets past the cryptography, records
  sealed with the real session keys after a genuine hello (the identity proof) or after a whole handshake
  (the sync messages, driven as a node would drive them: a SYNC record is compressed on the client's own
  stream first, so that mutations reach the message decoder; a ``RAW_SYNC`` record goes to the
  decompressor as it is).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

from meshchat.identity import Identity
from meshchat.log.entry import EntryError, decode_entry
from meshchat.proto.channel import Kind
from meshchat.proto.connection import Connection
from meshchat.proto.connection import State as ConnectionState
from meshchat.proto.errors import RemoteProtocolError
from meshchat.proto.events import ConnectionClosed, EntriesReceived, HandshakeComplete, NeedEntries
from meshchat.proto.framing import MAX_FRAME, FrameReader
from meshchat.proto.handshake import Credentials, Handshake, Side
from meshchat.testing import ConnectionPair, MemoryLog, TestTeam

NETWORK_KEY = bytes(range(32))
SERVER_ID = Identity(b"s" * 32)
CLIENT_ID = Identity(b"c" * 32)
MAX_EVENTS = 10_000  # a conversation of one fuzz input cannot need more: more means a loop


def _chunk(data: bytes) -> int:
    """How many bytes to feed at a time (the last byte decides): from 1 up to a few KiB, as reads return."""
    return 1 + (data[-1] if data else 0) * 16


def frames(data: bytes) -> None:
    reader = FrameReader()
    step = _chunk(data)
    for start in range(0, len(data), step):
        reader.feed(data[start : start + step])
        try:
            while (payload := reader.next_frame()) is not None:
                assert len(payload) <= MAX_FRAME
        except RemoteProtocolError:
            return
        assert reader.buffered <= len(data)


def entry(data: bytes) -> None:
    try:
        decoded = decode_entry(data)
    except EntryError:
        return
    assert decoded.raw == data
    decoded.body  # noqa: B018 (the body of an entry that decodes must decode too)


def _records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Split fuzz bytes into (frame kind, body) records: a 2-byte length, a kind byte, the body."""
    while len(data) >= 3:
        (length,), kind = struct.unpack(">H", data[:2]), data[2]
        yield kind, data[3 : 3 + length]
        data = data[3 + length :]


def _drive(conn: Connection, log: MemoryLog) -> None:
    """Answer a connection's events as a node would, until it needs more bytes."""
    for _ in range(MAX_EVENTS):
        event = conn.next_event()
        if event is None or type(event) is ConnectionClosed:
            return
        if type(event) is HandshakeComplete:
            conn.start_sync(log.frontier(), team_id=log.team_id)
        elif type(event) is NeedEntries:
            conn.send_entries(event, log.read(event))
        elif type(event) is EntriesReceived:
            seen: dict[bytes, int] = {}
            for raw in event.raws:  # what a store does: refuse what does not decode, keep the rest
                try:
                    seen.update(log.accept([raw]))
                except EntryError:
                    continue
            conn.entries_processed(1, seen)
        conn.data_to_send()
    raise AssertionError("a connection produced events without end")


def _raw(side: Side, data: bytes) -> None:
    conn = Connection(side, Credentials(NETWORK_KEY, SERVER_ID), lambda key, evidence, invite: None)
    conn.data_to_send()
    step = _chunk(data)
    for start in range(0, len(data), step):
        conn.receive_data(data[start : start + step])
        _drive(conn, MemoryLog())
    conn.receive_data(b"")
    _drive(conn, MemoryLog())


def _after_hello(data: bytes) -> None:
    server = Connection(Side.SERVER, Credentials(NETWORK_KEY, SERVER_ID), lambda key, evidence, invite: None)
    client = Handshake(Side.CLIENT, Credentials(NETWORK_KEY, CLIENT_ID), lambda key, evidence, invite: None)
    server.receive_data(client.start())
    assert server.next_event() is None
    reply = FrameReader()
    reply.feed(server.data_to_send())
    hello = reply.next_frame()
    assert hello is not None
    client.receive(bytes(hello))  # the genuine identity proof is dropped: the fuzzer's records take its place
    channel = client._channel
    assert channel is not None
    for kind, body in _records(data):
        server.receive_data(channel.seal(kind, body))  # type: ignore[arg-type] (any kind byte, on purpose)
        _drive(server, MemoryLog())
        if server.state is ConnectionState.CLOSED:
            return


RAW_SYNC = 0x84  # a record kind: seal the body as a SYNC frame as it is, without compressing it first
_TEAM = TestTeam(members=1)
_HELD = [e.raw for e in _TEAM.all_entries()]


def _after_handshake(data: bytes) -> None:
    pair = ConnectionPair.create(
        MemoryLog(), log_of(_HELD), network_key=NETWORK_KEY, client=CLIENT_ID, server=SERVER_ID
    )
    pair.run()
    channel = pair.client._channel
    assert channel is not None and pair.server.state is ConnectionState.SYNCING
    compressor = pair.client._compressor  # the client's stream goes on: a record of kind SYNC is a message
    for kind, body in _records(data):
        if kind == Kind.SYNC:
            body = compressor.compress(body)
        elif kind == RAW_SYNC:  # a piece of compressed stream as the fuzzer made it
            kind = Kind.SYNC
        pair.server.receive_data(channel.seal(kind, body))  # type: ignore[arg-type]
        _drive(pair.server, pair.server_log)
        if pair.server.state is ConnectionState.CLOSED:
            return


def log_of(raws: list[bytes]) -> MemoryLog:
    log = MemoryLog()
    log.accept(raws)
    return log


LINK_MODES: list[Callable[[bytes], None]] = [
    lambda d: _raw(Side.SERVER, d),
    lambda d: _raw(Side.CLIENT, d),
    _after_hello,
    _after_handshake,
]


def link(data: bytes) -> None:
    if not data:
        return
    try:
        LINK_MODES[data[0] % len(LINK_MODES)](data[1:])
    except RemoteProtocolError:
        return


TARGETS: dict[str, Callable[[bytes], None]] = {"frames": frames, "entry": entry, "link": link}
