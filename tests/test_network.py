"""Nodes on real sockets, 127.0.0.1 only: a chain of five, and peers that misbehave."""

from __future__ import annotations

import logging
import os
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from pathlib import Path

import pytest
import trio
import trio.testing

from meshchat.events import NodeProblem
from meshchat.identity import Identity
from meshchat.invites import InviteCode, join_team
from meshchat.log.rules import Role
from meshchat.net.address import Address, format_address
from meshchat.node import Node
from meshchat.profile import Profile
from meshchat.proto.connection import Connection
from meshchat.proto.errors import RemoteProtocolError
from meshchat.proto.handshake import Credentials, Side
from meshchat.testing import LOOPBACK, loopback_config, room_texts, running_node, team_homes, wait_until


def serving(
    home: Path, *, peers: tuple[Address, ...] = (), listen: Address | None = LOOPBACK
) -> AsyncContextManager[Node]:
    return running_node(home, loopback_config(peers, listen=listen))


async def test_a_message_travels_a_chain_of_five(tmp_path: Path) -> None:
    homes = team_homes(tmp_path, 5)
    nodes: list[Node] = []
    async with trio.open_nursery() as nursery:
        # E first, so each node can be told its one neighbour's address: A-B-C-D-E.
        for home in reversed(homes):
            peers = (nodes[0].listen_addresses[0],) if nodes else ()
            node = Node.open(home, loopback_config(peers))
            await nursery.start(node.run)
            nodes.insert(0, node)
        a, e = nodes[0], nodes[-1]
        await e.post("general", "E is here")
        await a.post("general", "from A, for E")
        await wait_until(lambda: "from A, for E" in room_texts(e) and "E is here" in room_texts(a))
        counts = {n.profile.store.count() for n in nodes}
        await wait_until(lambda: len({n.profile.store.count() for n in nodes}) == 1)
        assert len({n.views.snapshot() for n in nodes}) == 1, counts
        assert [len(n.peers()) for n in nodes] == [1, 2, 2, 2, 1]
        nursery.cancel_scope.cancel()
    for node in nodes:
        node.close()


async def raw_connection(address: Address) -> trio.SocketStream:
    return await trio.open_tcp_stream(*address)


async def read_all(stream: trio.SocketStream, timeout: float = 5.0) -> bytes:
    data = b""
    with trio.fail_after(timeout):
        while chunk := await stream.receive_some():
            data += chunk
    return data


async def still_open(stream: trio.SocketStream) -> bool:
    """Whether ``stream`` is still open with nothing to read once every task (the node's too) has settled."""
    async with trio.open_nursery() as nursery:

        async def settle() -> None:
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()

        nursery.start_soon(settle)
        await stream.receive_some()  # data, or the end of the stream
        nursery.cancel_scope.cancel()
        return False
    return True


async def test_a_wrong_network_key_gets_a_decoy_and_others_are_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="meshchat")
    homes = team_homes(tmp_path, 2)
    async with trio.open_nursery() as nursery, serving(homes[0]) as a:
        outsider = Connection(Side.CLIENT, Credentials(os.urandom(32), Identity.generate()), lambda k, e, i: None)
        stream = await raw_connection(a.listen_addresses[0])
        await stream.send_all(outsider.data_to_send())
        answer = await read_all(stream)  # a hello's worth of bytes, then closed at the handshake deadline
        assert len(answer) == 4 + 64
        outsider.receive_data(answer)
        with pytest.raises(RemoteProtocolError, match="network key"):
            outsider.next_event()
        await wait_until(lambda: "hello not made with our network key" in caplog.text)  # logged once closed
        await a.post("general", "still serving")
        async with serving(homes[1], peers=(a.listen_addresses[0],), listen=None) as b:
            await wait_until(lambda: "still serving" in room_texts(b))
        nursery.cancel_scope.cancel()


async def test_a_valid_key_but_not_a_member_is_refused(tmp_path: Path) -> None:
    homes = team_homes(tmp_path, 1)
    with Profile.open(homes[0]) as founder:
        team_id, name, key = founder.team_id, founder.team_name, founder.network_key
    Profile.create_joining(tmp_path / "stranger", team_id, name, key).close()  # knows the key, never added
    async with trio.open_nursery() as nursery, serving(homes[0]) as a:
        await a.post("general", "members only")
        async with serving(tmp_path / "stranger", peers=(a.listen_addresses[0],), listen=None) as stranger:
            await wait_until(lambda: "not a member" in stranger.peers()[0].error)
            assert stranger.profile.store.count() == 0
            (record,) = [p for p in a.peers() if p.peer.found_by == "incoming"][:1]
            assert "not a member" in record.error
        nursery.cancel_scope.cancel()


async def test_the_stranger_learns_why_over_the_wire(tmp_path: Path) -> None:
    homes = team_homes(tmp_path, 1)
    with Profile.open(homes[0]) as founder:
        key = founder.network_key
    async with trio.open_nursery() as nursery, serving(homes[0]) as a:
        conn = Connection(Side.CLIENT, Credentials(key, Identity.generate()), lambda k, e, i: None)
        stream = await raw_connection(a.listen_addresses[0])
        await stream.send_all(conn.data_to_send())
        with pytest.raises(RemoteProtocolError, match="refused by the peer: refused: not a member"):
            with trio.fail_after(5):
                while True:
                    conn.receive_data(await stream.receive_some())
                    while conn.next_event() is not None:
                        pass
                    await stream.send_all(conn.data_to_send())
        nursery.cancel_scope.cancel()


class Tamperer:
    """A TCP proxy that flips one byte of the first connection once ``after`` bytes went from client to
    server (that is, inside the sealed part of the conversation); later connections pass untouched."""

    def __init__(self, target: Address, after: int) -> None:
        self.target = target
        self.after = after
        self.connections = 0
        self.address: Address = ("127.0.0.1", 0)

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.address = ("127.0.0.1", listeners[0].socket.getsockname()[1])
        task_status.started()
        await trio.serve_listeners(self.handle, listeners)

    async def handle(self, client: trio.SocketStream) -> None:
        self.connections += 1
        tamper = self.connections == 1
        server = await trio.open_tcp_stream(*self.target)

        async def pump(src: trio.SocketStream, dst: trio.SocketStream, flip: bool) -> None:
            sent = 0
            try:
                while data := await src.receive_some():
                    if flip and sent < self.after <= sent + len(data):
                        buffer = bytearray(data)
                        buffer[self.after - sent] ^= 0x01
                        data = bytes(buffer)
                    sent += len(data)
                    await dst.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            finally:
                await dst.aclose()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump, client, server, tamper)
            nursery.start_soon(pump, server, client, False)


async def test_a_frame_modified_in_transit_closes_the_link(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="meshchat")
    homes = team_homes(tmp_path, 2)
    async with trio.open_nursery() as nursery, serving(homes[0]) as a:
        await a.post("general", "through the proxy")
        # Hello (68 bytes) and the sealed identity proof pass; the byte flipped is in a later frame.
        proxy = Tamperer(a.listen_addresses[0], after=2000)
        await nursery.start(proxy.serve)
        async with serving(homes[1], peers=(proxy.address,), listen=None) as b:
            for _ in range(50):  # the client's first frames after the handshake (its frontier) are small
                await b.post("general", "x" * 200)
            await wait_until(lambda: "through the proxy" in room_texts(b) and len(room_texts(a)) == 51)
        assert "failed to authenticate" in caplog.text
        assert proxy.connections >= 2  # the tampered link was cut, the redial went through
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ((2 * 1024 * 1024).to_bytes(4, "big") + b"x" * 100, "exceeds the limit"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "exceeds the limit"),  # "GET " read as a length
        (b"\x00\x00\x00\x05hello", "not a meshchat hello"),
        (os.urandom(2000), "exceeds the limit"),
        (b"\x00\x00\x00\x40", "no handshake within"),  # a prefix, then nothing: slowloris
        (b"", "no handshake within"),  # connects and says nothing
    ],
)
async def test_bad_bytes_and_stalls_are_dropped_while_others_are_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, attack: bytes, reason: str
) -> None:
    caplog.set_level(logging.INFO, logger="meshchat")
    homes = team_homes(tmp_path, 2)
    async with trio.open_nursery() as nursery, serving(homes[0]) as a:
        attackers = [await raw_connection(a.listen_addresses[0]) for _ in range(2)]
        for stream in attackers:
            if attack:
                await stream.send_all(attack)
        await a.post("general", "served anyway")
        async with serving(homes[1], peers=(a.listen_addresses[0],), listen=None) as b:
            await wait_until(lambda: "served anyway" in room_texts(b))
        for stream in attackers:
            assert await read_all(stream, timeout=3) == b""
        await wait_until(lambda: reason in caplog.text)
        nursery.cancel_scope.cancel()


async def test_at_its_cap_a_host_s_oldest_half_open_connection_makes_room_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="meshchat")
    homes = team_homes(tmp_path, 1)
    async with trio.open_nursery() as nursery, serving(homes[0]) as a:
        limit = loopback_config().net.max_half_open_per_host
        stalled = [await raw_connection(a.listen_addresses[0]) for _ in range(limit)]
        await trio.testing.wait_all_tasks_blocked()  # the node took them all in: they are the older ones
        extra = await raw_connection(a.listen_addresses[0])
        assert await read_all(stalled[0], timeout=0.3) == b""  # well before the handshake deadline
        await wait_until(lambda: "to make room for one from 127.0.0.1" in caplog.text)
        assert await still_open(extra)  # the newest waits for its hello
        for stream in [*stalled, extra]:
            await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_a_newcomer_reaches_the_inviter_through_the_address_in_the_code(tmp_path: Path) -> None:
    (home,) = team_homes(tmp_path, 1)
    async with serving(home) as ana:
        code = InviteCode.decode(await ana.create_invite(role="observer"))
        assert code.addresses == (format_address(ana.listen_addresses[0]),)
        join_team(tmp_path / "bo", code, display_name="Bo").close()
        async with serving(tmp_path / "bo", listen=None) as bo:  # no --peer: the code says where
            await wait_until(lambda: bo.membership.role_of(bo.me) is Role.OBSERVER)
            await wait_until(lambda: ana.membership.role_of(bo.me) is Role.OBSERVER)
            await wait_until(lambda: [(p.peer.found_by, p.state) for p in bo.peers()] == [("static", "live")])


async def test_a_node_that_cannot_listen_says_so_and_still_dials(tmp_path: Path) -> None:
    homes = team_homes(tmp_path, 2)
    async with serving(homes[0]) as a:
        taken = a.listen_addresses[0]
        node = Node.open(homes[1], loopback_config((taken,), listen=taken))
        events = node.events()
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(node.run)
                problem = events.receive_nowait()
                assert isinstance(problem, NodeProblem) and "cannot listen" in problem.message
                assert node.listen_addresses == []
                await wait_until(lambda: any(p.state == "live" for p in node.peers()))
                nursery.cancel_scope.cancel()
        finally:
            node.close()
