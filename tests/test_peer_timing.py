"""Dialling: backoff and deadlines under trio's MockClock (minutes of virtual time in milliseconds), and
removing peers. No sockets: connections are faked or memory streams."""

from __future__ import annotations

import itertools
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing

from meshchat.net import peers
from meshchat.net.link import LinkSettings
from meshchat.net.peers import NetSettings
from meshchat.node import Node, NodeConfig
from meshchat.testing import room_texts, running_node, team_homes, wait_until

SETTINGS = NetSettings(
    link=LinkSettings(handshake_timeout=5.0), backoff_initial=0.5, backoff_max=30.0, connect_timeout=5.0
)


async def test_redial_backs_off_exponentially_with_jitter_up_to_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mock_clock: trio.testing.MockClock
) -> None:
    attempts: list[float] = []

    async def refused(host: str, port: int) -> trio.SocketStream:
        attempts.append(trio.current_time())
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(peers.trio, "open_tcp_stream", refused)
    (home,) = team_homes(tmp_path, 1)
    node = Node.open(home, NodeConfig(peers=(("127.0.0.1", 9),), discovery=False, net=SETTINGS))
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            await trio.sleep(300)
            (status,) = node.peers()
            assert status.state == "backoff" and "Connection refused" in status.error
            nursery.cancel_scope.cancel()
    finally:
        node.close()
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    for i, gap in enumerate(gaps):
        ceiling = min(SETTINGS.backoff_max, SETTINGS.backoff_initial * 2**i)
        assert ceiling / 2 <= gap <= ceiling + 1e-9, (i, gap)  # jittered within [half, full] of the step
    assert max(gaps) > SETTINGS.backoff_max / 2  # reached the cap
    assert 12 <= len(attempts) <= 25  # not hammering: ~10 attempts climb to the cap, then one per 15-30 s


async def test_a_silent_peer_is_dropped_at_the_handshake_deadline(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    (home,) = team_homes(tmp_path, 1)
    node = Node.open(home, NodeConfig(discovery=False, net=SETTINGS))
    ours, theirs = trio.testing.memory_stream_pair()
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            started = trio.current_time()
            reason = await node.connect(ours, outgoing=False)
            assert reason == "no handshake within 5 s"
            assert trio.current_time() - started == pytest.approx(5.0, abs=0.01)
            assert await theirs.receive_some() == b""  # closed, and nothing was said
            nursery.cancel_scope.cancel()
    finally:
        node.close()


async def test_removing_a_peer_stops_redials_but_keeps_a_working_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mock_clock: trio.testing.MockClock
) -> None:
    homes = team_homes(tmp_path, 2)
    dials: list[tuple[str, int]] = []
    async with running_node(homes[1]) as bo, trio.open_nursery() as nursery:

        async def dial(host: str, port: int) -> trio.abc.Stream:
            """Port 1 reaches Bo through a memory stream; anything else is refused."""
            dials.append((host, port))
            if port != 1:
                raise ConnectionRefusedError(111, "Connection refused")
            ours, theirs = trio.testing.memory_stream_pair()
            nursery.start_soon(partial(bo.connect, theirs, outgoing=False))
            return ours

        monkeypatch.setattr(peers.trio, "open_tcp_stream", dial)
        config = NodeConfig(peers=(("127.0.0.1", 1), ("127.0.0.1", 2)), discovery=False, net=FAST_BACKOFF)
        async with running_node(homes[0], config) as ana:
            await wait_until(lambda: any(p.state == "live" for p in ana.peers()))
            await wait_until(lambda: dials.count(("127.0.0.1", 2)) >= 3)
            ana.remove_peer("127.0.0.1", 2)
            ana.remove_peer("127.0.0.1", 1)
            refused_dials = dials.count(("127.0.0.1", 2))
            await trio.sleep(60)  # virtual: a minute of backoff periods (at most 0.05 s each)
            assert dials.count(("127.0.0.1", 2)) == refused_dials  # no more attempts
            (status,) = ana.peers()  # the refused peer is gone from the list; the linked one stays
            assert status.state == "live" and status.peer.key == bo.me
            await ana.post("general", "still linked")
            await wait_until(lambda: "still linked" in room_texts(bo))
        nursery.cancel_scope.cancel()


FAST_BACKOFF = NetSettings(backoff_initial=0.01, backoff_max=0.05)
