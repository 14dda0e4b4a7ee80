"""The handshake as a pure state machine: two Connections passing bytes, no network."""

from __future__ import annotations

import os

import pytest

from meshchat.identity import Identity
from meshchat.proto.connection import Connection, State
from meshchat.proto.errors import RemoteProtocolError
from meshchat.proto.events import ConnectionClosed, HandshakeComplete
from meshchat.proto.framing import FrameReader
from meshchat.proto.handshake import Credentials, Side
from meshchat.testing import ConnectionPair, MemoryLog

KEY = b"n" * 32


def handshake_pair(**kwargs: object) -> ConnectionPair:
    return ConnectionPair.create(MemoryLog(), MemoryLog(), network_key=KEY, **kwargs)  # type: ignore[arg-type]


def test_both_sides_learn_the_proven_identity_and_evidence() -> None:
    alice, bob = Identity.generate(), Identity.generate()
    seen: list[tuple[bytes, tuple[bytes, ...]]] = []

    def authorize(key: bytes, evidence: tuple[bytes, ...], invite: bytes | None) -> str | None:
        seen.append((key, evidence))
        return None

    client = Connection(Side.CLIENT, Credentials(KEY, alice, (b"join entry",)), authorize)
    server = Connection(Side.SERVER, Credentials(KEY, bob), authorize)
    pair = ConnectionPair(client, server, MemoryLog(), MemoryLog())
    pair.run()
    assert client.peer_key == bob.public_key and server.peer_key == alice.public_key
    assert seen == [(alice.public_key, (b"join entry",)), (bob.public_key, ())]  # server judges first
    assert HandshakeComplete(bob.public_key, ()) in pair.events["client"]
    assert client.state is State.SYNCING and server.state is State.SYNCING


def first_frame(data: bytes) -> bytes:
    reader = FrameReader()
    reader.feed(data)
    payload = reader.next_frame()
    assert payload is not None
    return bytes(payload)


def server_answer(hello: bytes) -> tuple[Connection, bytes]:
    """A fresh server of our team given one first frame: what it sends back (as a frame payload, or b"")."""
    server = Connection(Side.SERVER, Credentials(KEY, Identity.generate()), lambda k, e, i: None)
    server.receive_data(len(hello).to_bytes(4, "big") + hello)
    assert server.next_event() is None
    answer = server.data_to_send()
    return server, first_frame(answer) if answer else b""


def test_a_replayed_hello_is_no_oracle_its_answer_looks_like_any_other() -> None:
    genuine = first_frame(
        Connection(Side.CLIENT, Credentials(KEY, Identity.generate()), lambda k, e, i: None).data_to_send()
    )
    other_team = first_frame(
        Connection(Side.CLIENT, Credentials(b"x" * 32, Identity.generate()), lambda k, e, i: None).data_to_send()
    )
    answers = {
        "a replay of a member's hello": server_answer(genuine),
        "a hello of another team": server_answer(other_team),
        "64 random bytes": server_answer(os.urandom(64)),
        "64 zero bytes": server_answer(bytes(64)),
    }
    # Whatever the hello, the answer is 64 bytes: an ephemeral key (distinct each time) and a MAC. So answering
    # tells nothing about whether the hello was made with this team's key.
    assert {len(answer) for _, answer in answers.values()} == {64}
    assert len({answer[:32] for _, answer in answers.values()}) == 4
    for what in ("a hello of another team", "64 random bytes", "64 zero bytes"):
        server, _ = answers[what]
        server.receive_data(b"\x00\x00\x00\x01x")  # whatever comes next ends it, as a wrong AUTH ends a real one
        with pytest.raises(RemoteProtocolError, match="hello not made with our network key"):
            server.next_event()
        assert server.state is State.CLOSED and server.data_to_send() == b""


def test_a_client_with_a_wrong_key_never_reveals_its_identity() -> None:
    client = Connection(Side.CLIENT, Credentials(b"x" * 32, Identity.generate()), lambda k, e, i: None)
    server = Connection(Side.SERVER, Credentials(KEY, Identity.generate()), lambda k, e, i: None)
    server.receive_data(client.data_to_send())
    assert server.next_event() is None
    client.receive_data(server.data_to_send())  # the decoy
    with pytest.raises(RemoteProtocolError, match="network key"):
        client.next_event()
    assert client.data_to_send() == b""  # no sealed identity proof goes out


def test_a_server_with_another_key_is_not_believed() -> None:
    client = Connection(Side.CLIENT, Credentials(KEY, Identity.generate()), lambda k, e, i: None)
    server = Connection(Side.SERVER, Credentials(KEY, Identity.generate()), lambda k, e, i: None)
    server.receive_data(client.data_to_send())
    assert server.next_event() is None
    answer = bytearray(server.data_to_send())
    answer[-1] ^= 1  # the server hello's MAC
    client.receive_data(bytes(answer))
    with pytest.raises(RemoteProtocolError, match="network key"):
        client.next_event()


def test_a_refused_client_is_told_why_and_learns_nothing_more() -> None:
    pair = handshake_pair(authorize=lambda key, evidence, invite: "not a member of this team")
    with pytest.raises(RemoteProtocolError, match="not a member"):
        for _ in range(10):
            pair.step()
    assert pair.server.state is State.CLOSED
    pair.client.receive_data(pair.server.data_to_send())  # the sealed refusal
    with pytest.raises(RemoteProtocolError, match="refused by the peer: refused: not a member"):
        pair.drive("client")
    assert pair.client.peer_key is None  # the server never proved its identity to a refused client


def test_the_client_refuses_a_server_it_does_not_admit() -> None:
    server_id = Identity.generate()
    refused = server_id.public_key

    def authorize(key: bytes, evidence: tuple[bytes, ...], invite: bytes | None) -> str | None:
        return "removed from the team" if key == refused else None

    pair = handshake_pair(server=server_id, authorize=authorize)
    with pytest.raises(RemoteProtocolError, match="removed from the team"):
        for _ in range(10):
            pair.step()
    assert pair.client.state is State.CLOSED
    pair.server.receive_data(pair.client.data_to_send())  # the sealed farewell
    pair.drive("server")
    closed = pair.events["server"][-1]
    assert closed == ConnectionClosed("refused: removed from the team", clean=True)


def test_a_node_does_not_connect_to_itself() -> None:
    me = Identity.generate()
    pair = handshake_pair(client=me, server=me)
    with pytest.raises(RemoteProtocolError, match="itself"):
        for _ in range(10):
            pair.step()


@pytest.mark.parametrize("data", [b"\x00\x00\x00\x05hello", b"\x00\x00\x00\x41" + bytes(65), b"GET / HTTP/1.1\r\n\r\n"])
def test_garbage_instead_of_a_hello(data: bytes) -> None:
    """Not the size of a hello: nothing is answered (a hello of the right size always is, see above)."""
    server = Connection(Side.SERVER, Credentials(KEY, Identity.generate()), lambda k, e, i: None)
    server.receive_data(data)
    with pytest.raises(RemoteProtocolError):
        server.next_event()
    assert server.data_to_send() == b""


def test_an_identity_proof_cannot_be_replayed_into_another_session() -> None:
    alice = Identity.generate()
    first = handshake_pair(client=alice)
    first.server.receive_data(first.client.data_to_send())
    first.server.next_event()
    first.client.receive_data(first.server.data_to_send())
    first.client.next_event()
    proof = first.client.data_to_send()  # alice's sealed identity proof for session one

    second_client = Connection(Side.CLIENT, Credentials(KEY, Identity.generate()), lambda k, e, i: None)
    second = Connection(Side.SERVER, Credentials(KEY, Identity.generate()), lambda k, e, i: None)
    second.receive_data(second_client.data_to_send())
    second.next_event()
    second.receive_data(proof)
    with pytest.raises(RemoteProtocolError, match="failed to authenticate"):
        second.next_event()


def test_handshake_messages_have_the_documented_sizes() -> None:
    pair = handshake_pair()
    hello = pair.client.data_to_send()
    reader = FrameReader()
    reader.feed(hello)
    assert len(hello) == 4 + 64 and reader.next_frame() is not None
    pair.server.receive_data(hello)
    pair.server.next_event()
    assert len(pair.server.data_to_send()) == 4 + 64


def test_a_truncated_handshake_is_a_cut_not_a_hang() -> None:
    pair = handshake_pair()
    pair.server.receive_data(pair.client.data_to_send()[:10])
    pair.server.receive_data(b"")
    closed = pair.server.next_event()
    assert closed is not None and "during the handshake" in closed.reason  # type: ignore[union-attr]
