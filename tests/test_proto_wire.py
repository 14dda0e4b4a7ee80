"""Framing, the sealed channel and the sync messages: pure, fed bytes directly."""

from __future__ import annotations

import os
import tracemalloc

import msgpack
import pytest

from meshchat.log.entry import decode_entry
from meshchat.proto import messages
from meshchat.proto.channel import Kind, SecureChannel, close_reason
from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError
from meshchat.proto.framing import MAX_FRAME, SCRATCH, FrameReader, frame
from meshchat.proto.messages import WINDOW, Ack, Entries, Idle, Notes, Ping
from meshchat.testing import TestTeam


def test_frames_survive_any_split() -> None:
    payloads = [b"", b"a", os.urandom(1000), os.urandom(70_000), b"end"]
    stream = b"".join(frame(p) for p in payloads)
    for chunk in (1, 3, 4, 5, 999, len(stream)):
        reader = FrameReader()
        got = []
        for i in range(0, len(stream), chunk):
            reader.feed(stream[i : i + chunk])
            while (payload := reader.next_frame()) is not None:
                got.append(payload)
        assert got == payloads
        assert reader.buffered == 0


@pytest.mark.parametrize("trusted", [False, True])
def test_frames_read_into_the_readers_buffer_survive_any_split(trusted: bool) -> None:
    """The socket's path (``recv_into`` :meth:`FrameReader.receive_buffer`): the same frames as fed, whatever
    the reads return; a trusted reader (after the handshake) gives a frame still arriving its whole length,
    and the reads go straight into it."""
    payloads = [b"", b"a", os.urandom(1000), os.urandom(70_000), b"end", os.urandom(100_000)]
    stream = b"".join(frame(p) for p in payloads)
    for most in (5, 999, 20_000, len(stream)):
        reader = FrameReader()
        reader.trusted = trusted
        got: list[bytearray] = []
        into_frames = 0
        view = memoryview(stream)
        while view:
            buffer = reader.receive_buffer()
            count = min(len(buffer), len(view), most)
            buffer[:count] = view[:count]
            into_frames += len(buffer.obj) > SCRATCH
            reader.received(count)
            view = view[count:]
            while (payload := reader.next_frame()) is not None:
                got.append(payload)
        assert got == payloads and reader.buffered == 0
        assert (into_frames > 0) == trusted


def test_an_oversized_frame_is_refused_from_its_header_alone() -> None:
    reader = FrameReader()
    reader.feed((MAX_FRAME + 1).to_bytes(4, "big"))  # no payload needed: the prefix is enough
    with pytest.raises(RemoteProtocolError, match="exceeds"):
        reader.next_frame()
    with pytest.raises(LocalProtocolError):
        frame(bytes(MAX_FRAME + 1))
    reader = FrameReader()
    reader.feed(frame(bytes(MAX_FRAME)))
    assert reader.next_frame() == bytes(MAX_FRAME)


def channel_pair() -> tuple[SecureChannel, SecureChannel]:
    k1, k2 = os.urandom(32), os.urandom(32)
    return SecureChannel(k1, k2), SecureChannel(k2, k1)


def payload_of(framed: bytes) -> bytes:
    reader = FrameReader()
    reader.feed(framed)
    payload = reader.next_frame()
    assert payload is not None
    return bytes(payload)


def test_sealed_frames_round_trip_in_order() -> None:
    a, b = channel_pair()
    sealed = [payload_of(a.seal(Kind.DATA, f"m{i}".encode())) for i in range(3)]
    assert [b.open(p) for p in sealed] == [(Kind.DATA, b"m0"), (Kind.DATA, b"m1"), (Kind.DATA, b"m2")]
    kind, body = b.open(payload_of(a.close_frame("bye")))
    assert kind is Kind.CLOSE and close_reason(body) == "bye"


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_a_flipped_bit_anywhere_ends_the_link(position: int) -> None:
    a, b = channel_pair()
    payload = bytearray(payload_of(a.seal(Kind.DATA, b"hello, field team")))
    payload[position] ^= 0x01
    with pytest.raises(RemoteProtocolError, match="failed to authenticate"):
        b.open(bytes(payload))


def test_replayed_reordered_or_dropped_frames_fail() -> None:
    a, b = channel_pair()
    first, second, third = (payload_of(a.seal(Kind.DATA, bytes([i]))) for i in range(3))
    b.open(first)
    with pytest.raises(RemoteProtocolError):
        b.open(first)  # replay
    a2, b2 = channel_pair()
    p0, p1 = payload_of(a2.seal(Kind.DATA, b"0")), payload_of(a2.seal(Kind.DATA, b"1"))
    with pytest.raises(RemoteProtocolError):
        b2.open(p1)  # reordered (or p0 dropped)
    assert p0 and second and third


def test_a_frame_sealed_for_the_other_direction_does_not_open() -> None:
    a, b = channel_pair()
    own = payload_of(a.seal(Kind.DATA, b"x"))
    with pytest.raises(RemoteProtocolError):
        a.open(own)  # a reflected frame: the directions have different keys
    assert b.open(own) == (Kind.DATA, b"x")


TEAM = TestTeam(members=2)


def test_messages_round_trip() -> None:
    author = os.urandom(32)
    raws = tuple(e.raw for e in TEAM.all_entries())
    for message in (
        Notes({author: 7, os.urandom(32): 0}, frozenset([author])),
        Notes({}),
        Entries(raws),
        Ack(WINDOW),
        Idle(),
        Ping(),
    ):
        assert messages.decode(messages.encode(message, TEAM.team_id), TEAM.team_id) == message


def test_compact_entries_rebuild_every_byte() -> None:
    """Runs of one author's chain, another author, a fork pair, and the genesis (zero team id: sent whole)."""
    team = TestTeam(members=2)
    member = team.members[0]
    for i in range(5):
        team.post(member, f"status {i}")
    twin = type(member)(member.identity, team.team_id, member.entries[:-1])
    fork = team.post(twin, "the other last status")
    raws = (*[e.raw for e in team.all_entries()], member.entries[-1].raw, fork.raw, team.founder.entries[0].raw)
    encoded = messages.encode(Entries(raws), team.team_id)
    assert messages.decode(encoded, team.team_id) == Entries(raws)
    kinds, items = msgpack.unpackb(encoded)[1:]
    assert team.founder.entries[0].raw in items  # the genesis travels whole
    assert sum(1 for item in items if isinstance(item, list)) <= 2 + len(team.members) + 2
    assert len(encoded) < 0.75 * sum(map(len, raws))


def test_a_compact_entry_that_lies_does_not_verify() -> None:
    """The receiver rebuilds what the sender claims; a changed field gives an entry whose signature fails."""
    team = TestTeam(members=1)
    post = team.post(team.members[0], "all clear")
    value = msgpack.unpackb(messages.encode(Entries((post.raw,)), team.team_id))
    value[2][0][3][0][3] = msgpack.packb({"room": team.room, "text": "evacuate now"})  # another body
    (rebuilt,) = messages.decode(msgpack.packb(value), team.team_id).raws  # type: ignore[union-attr]
    assert rebuilt != post.raw and not decode_entry(rebuilt).verify_signature()


@pytest.mark.parametrize(
    "value",
    [
        [],
        [99],
        ["1", {}],
        [1, {b"short": 1}],
        [1, {os.urandom(32): -1}],
        [1, {os.urandom(32): True}],
        [1, {os.urandom(32): 1.5}],
        [1, {os.urandom(32): 3}, "extra"],
        [2, [], []],
        [2, [], ["text, not bytes"]],
        [2, [], [b"x"], b"extra"],
        [2, ["msg.post"], [[os.urandom(32), 1, None, []]]],
        [2, ["msg.post"], [[os.urandom(32), 2, None, [[0, 0, bytes(64), b"\x80"]]]]],
        [2, ["msg.post"], [[os.urandom(32), 1, None, [[0, 1, bytes(64), b"\x80"]]]]],
        [2, ["msg.post"], [[os.urandom(32), 1, None, [[0, 0, bytes(63), b"\x80"]]]]],
        [2, ["msg.post"], [[os.urandom(32), 1, None, [[-1, 0, bytes(64), b"\x80"]]]]],
        [2, [7], [[os.urandom(32), 1, None, [[0, 0, bytes(64), b"\x80"]]]]],
        [3, 0],
        [3, WINDOW + 1],
        [4, 1],
        {"not": "an array"},
    ],
)
def test_malformed_messages_are_remote_errors(value: object) -> None:
    with pytest.raises(RemoteProtocolError):
        messages.decode(msgpack.packb(value, use_bin_type=True), TEAM.team_id)


def test_garbage_and_ext_types_are_remote_errors() -> None:
    for body in (b"", b"\xc1", os.urandom(64), msgpack.packb([2, msgpack.ExtType(1, b"x")])):
        with pytest.raises(RemoteProtocolError):
            messages.decode(body, TEAM.team_id)


def test_the_compressed_stream_refuses_bombs_and_big_windows() -> None:
    from backports.zstd import CompressionParameter, ZstdCompressor

    from meshchat.proto.compression import StreamCompressor, StreamDecompressor

    sender, receiver = StreamCompressor(), StreamDecompressor()
    for message in (b"notes", b"entries" * 1000, b"notes"):
        assert receiver.decompress(sender.compress(message)) == message
    with pytest.raises(RemoteProtocolError, match="grows past"):
        receiver.decompress(sender.compress(bytes(2 * messages.MAX_MESSAGE)))  # 2 MiB from a few hundred bytes
    greedy = ZstdCompressor(options={CompressionParameter.window_log: 24})
    with pytest.raises(RemoteProtocolError, match="damaged"):
        StreamDecompressor().decompress(greedy.compress(b"x" * 100, mode=ZstdCompressor.FLUSH_BLOCK))
    with pytest.raises(RemoteProtocolError, match="damaged"):
        StreamDecompressor().decompress(os.urandom(50))


def test_messages_check_their_values_when_built() -> None:
    with pytest.raises(LocalProtocolError):
        Entries(())
    with pytest.raises(LocalProtocolError):
        Entries((bytes(70_000),))
    with pytest.raises(LocalProtocolError):
        Ack(0)
    with pytest.raises(LocalProtocolError):
        Notes({b"k": 1})
    with pytest.raises(LocalProtocolError):
        Notes({b"k" * 32: 1}, frozenset([b"j" * 32]))


def test_a_frame_header_alone_makes_the_reader_hold_nothing_more() -> None:
    """A payload still arriving is held as it arrives: four bytes that claim a megabyte are four bytes held
    (the first version of the reader's own buffer for a frame took the whole claimed length at once)."""
    reader = FrameReader()
    tracemalloc.start()
    try:
        reader.feed(MAX_FRAME.to_bytes(4, "big") + b"x" * 10)
        assert reader.next_frame() is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, peak
    assert reader.buffered == 10
    payload = b"x" * 10 + os.urandom(MAX_FRAME - 10)
    for start in range(10, MAX_FRAME, 300_000):
        reader.feed(payload[start : start + 300_000])
    assert reader.next_frame() == payload and reader.buffered == 0
