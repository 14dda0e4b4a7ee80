"""Pieces of files on the wire (docs/formats.md, "Sealed frames"): a PIECE frame is a fixed header and the
bytes as they are, sealed and opened in place; every malformed one ends the link it came on, and only it."""

from __future__ import annotations

import os
from pathlib import Path

import libnacl
import msgpack
import pytest

from meshchat.events import PeerDown
from meshchat.log.attachments import CHUNK_SIZE
from meshchat.proto import connection
from meshchat.proto.blobs import MAX_PIECE, PIECE_HEADER, Piece, PieceReceived, piece_header
from meshchat.proto.channel import NONCE_PREFIX, TAG_SIZE, Kind, SecureChannel
from meshchat.proto.connection import State
from meshchat.proto.errors import RemoteProtocolError
from meshchat.proto.framing import HEADER
from meshchat.testing import (
    ConnectionPair,
    MemoryLog,
    link_nodes,
    next_event,
    running_nodes,
    team_homes,
    wait_until,
)

BLOB = b"b" * 32


def test_a_piece_frame_is_its_header_then_the_bytes_sealed_as_standard_xchacha20_poly1305() -> None:
    """Sealed in place through libsodium, the frame is what libnacl's own function makes and opens."""
    k1, k2 = os.urandom(32), os.urandom(32)
    ours, theirs = SecureChannel(k1, k2), SecureChannel(k2, k1)
    piece = Piece(BLOB, 3, 1000, os.urandom(5000))
    framed = ours.seal(Kind.PIECE, piece_header(piece), piece.data)
    size = int.from_bytes(framed[:HEADER], "big")
    assert size == len(framed) - HEADER == 1 + PIECE_HEADER.size + len(piece.data) + TAG_SIZE
    plaintext = libnacl.crypto_aead_xchacha20poly1305_ietf_decrypt(bytes(framed[HEADER:]), b"", bytes(24), k1)
    assert plaintext == bytes([Kind.PIECE]) + BLOB + (3).to_bytes(4, "big") + (1000).to_bytes(4, "big") + piece.data
    # And the other way: what libnacl seals (frame 0 of that direction) opens in place.
    sealed = libnacl.crypto_aead_xchacha20poly1305_ietf_encrypt(b"\x04hello", b"", NONCE_PREFIX + bytes(8), k2)
    kind, body = ours.open_in_place(bytearray(sealed))
    assert kind is Kind.SYNC and body == b"hello"
    assert theirs.open_in_place(bytearray(framed[HEADER:]))[1] == framed_body(piece)


def framed_body(piece: Piece) -> bytes:
    return piece_header(piece) + piece.data


def syncing_pair() -> ConnectionPair:
    pair = ConnectionPair.create(MemoryLog(), MemoryLog())
    pair.run()
    assert pair.server.state is State.SYNCING
    return pair


def send_piece_frame(pair: ConnectionPair, body: bytes, kind: Kind = Kind.PIECE) -> None:
    """The client's channel seals ``body`` as it is: what a hostile or broken peer could send."""
    channel = pair.client._channel
    assert channel is not None
    pair.server.receive_data(channel.seal(kind, body))


def test_a_piece_frame_arrives_as_the_piece_it_carries() -> None:
    pair = syncing_pair()
    piece = Piece(BLOB, 2, 7, os.urandom(MAX_PIECE - 7))
    send_piece_frame(pair, framed_body(piece))
    pair.drive("server")
    assert pair.events["server"][-1] == PieceReceived(BLOB, 2, 7, piece.data)


def test_a_piece_read_from_the_socket_is_never_copied_on_its_way_to_the_disk() -> None:
    """Read as a socket does (``recv_into`` the connection's buffer, a few KB at a time), a PIECE frame lands
    in one buffer, is opened there, and the piece handed out is a read-only view of it: the bytes the blob
    store hashes and writes are the ones the socket wrote (main copied them out of the socket's bytes, into
    the frame, and out of the frame again)."""
    pair = syncing_pair()
    piece = Piece(BLOB, 2, 0, os.urandom(CHUNK_SIZE))
    channel = pair.client._channel
    assert channel is not None
    wire = memoryview(channel.seal(Kind.PIECE, framed_body(piece)))
    targets = []
    while wire:
        buffer = pair.server.receive_buffer()
        count = min(len(buffer), len(wire), 7000)
        buffer[:count] = wire[:count]
        targets.append(buffer.obj)
        pair.server.received(count)
        wire = wire[count:]
        pair.drive("server")
    (received,) = [e for e in pair.events["server"] if isinstance(e, PieceReceived)]
    assert received == PieceReceived(BLOB, 2, 0, piece.data)
    assert isinstance(received.data, memoryview) and received.data.readonly
    frame = received.data.obj
    assert isinstance(frame, bytearray) and len(frame) == len(framed_body(piece)) + 1 + TAG_SIZE
    direct = sum(1 for target in targets if target is frame)
    assert direct >= len(targets) - 1  # all but the read that brought the frame's header


def header(part: int, offset: int) -> bytes:
    return PIECE_HEADER.pack(BLOB, part, offset)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "header"),
        (BLOB + bytes(7), "header"),
        (header(1, 0), "header and 1 byte"),  # no data
        (header(8193, 0) + b"x", "part"),
        (header(1, CHUNK_SIZE) + b"x", "offset"),
        (header(1, 0) + bytes(MAX_PIECE + 1), "at most"),  # an oversize piece
        (header(1, 1000) + bytes(CHUNK_SIZE - 999), "rest of its chunk"),  # runs past its chunk
        (header(2**32 - 1, 2**32 - 1) + b"x", "part"),
    ],
)
def test_a_malformed_piece_frame_ends_the_link(body: bytes, why: str) -> None:
    pair = syncing_pair()
    send_piece_frame(pair, body)
    with pytest.raises(RemoteProtocolError, match=why):
        pair.drive("server")
    assert pair.server.state is State.CLOSED


def test_a_piece_in_the_old_format_is_refused_by_name() -> None:
    """Before pieces had their own layout, a PIECE frame (then kind 5) carried a msgpack Piece message."""
    pair = syncing_pair()
    send_piece_frame(pair, msgpack.packb([9, BLOB, 1, 0, b"data"]), Kind.PIECE_V1)
    with pytest.raises(RemoteProtocolError, match="older meshchat"):
        pair.drive("server")


async def test_a_peer_that_sends_a_malformed_piece_loses_its_link_and_the_node_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A's pieces go out with a header that names an offset past the chunk: B ends that link, says why, and
    takes the file whole over the next link (A healed)."""
    homes = team_homes(tmp_path, 2)
    path = tmp_path / "plan.bin"
    data = os.urandom(3 * CHUNK_SIZE)
    path.write_bytes(data)
    monkeypatch.setattr(connection, "piece_header", lambda piece: header(piece.part, CHUNK_SIZE))
    async with running_nodes(homes) as (nursery, (a, b)):
        events = b.events()
        await a.post("general", "the plan", attach=[path])
        first = link_nodes(nursery, a, b)
        event = await next_event(events, PeerDown, timeout=10)
        assert "invalid Piece" in event.reason and "offset" in event.reason
        first.cancel()
        monkeypatch.undo()
        link_nodes(nursery, a, b)
        (message,) = [m for m in b.views.messages(b.profile.room("general").room) if m.files]
        file = message.files[0]
        await wait_until(lambda: b.file_state(file).here, timeout=15, what="the file, over the second link")
        assert b.blobs.path_of(file.blob).read_bytes() == data
