"""LAN discovery does not make a full mesh: a node dials a few ring neighbours and says why each link exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from meshchat import node as node_module
from meshchat.net import peers
from meshchat.net.discovery import DiscoveryEvent, PeerLost, PeerSeen
from meshchat.node import Node, NodeConfig
from meshchat.testing import team_homes

TEAMMATES = 40


@pytest.fixture
def mock_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


class FakeDiscovery:
    """Stands in for zeroconf: reports ``TEAMMATES`` nodes of our team, then whatever the test sends."""

    instance = "7" * 12
    events: trio.MemorySendChannel[DiscoveryEvent] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def run(
        self, send: trio.MemorySendChannel[DiscoveryEvent], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        FakeDiscovery.events = send
        task_status.started()
        for i in range(TEAMMATES):
            await send.send(PeerSeen(f"{i * 97 % 1000:012d}", (f"10.77.0.{i + 1}",), 7766))
        await trio.sleep_forever()


def dialled(node: Node) -> list[str]:
    return [p.peer.address for p in node.peers() if p.peer.found_by == "discovery"]


async def test_lan_discovery_dials_a_bounded_number_of_neighbours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mock_clock: trio.testing.MockClock
) -> None:
    """v1 dialled every advertisement: 40 laptops made 780 links, and every entry crossed each of them."""
    attempts: list[tuple[str, int]] = []

    async def refuse(host: str, port: int) -> trio.SocketStream:  # no packet leaves this machine
        attempts.append((host, port))
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(peers.trio, "open_tcp_stream", refuse)
    monkeypatch.setattr(node_module, "Discovery", FakeDiscovery)
    (home,) = team_homes(tmp_path, 1)
    node = Node.open(home, NodeConfig(listen=("127.0.0.1", 0), discovery=True))
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            await trio.sleep(10)
            chosen = dialled(node)
            assert 2 <= len(chosen) <= 4, chosen
            assert {host for host, _ in attempts} == {address.rsplit(":", 1)[0] for address in chosen}
            reasons = [p.why for p in node.peers()]
            assert all(why.startswith(("ring", "chord")) for why in reasons), reasons
            # A neighbour leaves: the next one along the ring takes its place.
            gone = next(iter(chosen))
            index = int(gone.split(".")[-1].split(":")[0]) - 1
            assert FakeDiscovery.events is not None
            await FakeDiscovery.events.send(PeerLost(f"{index * 97 % 1000:012d}"))
            await trio.sleep(10)
            after = dialled(node)
            assert gone not in after and 2 <= len(after) <= 4, after
            nursery.cancel_scope.cancel()
    finally:
        node.close()
