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
from meshchat.net.topology import Neighbourhood, is_two_connected, ring_neighbours
from meshchat.node import Node, NodeConfig
from meshchat.testing import team_homes

TEAMMATES = 40


class FakeDiscovery:
    """Stands in for zeroconf: reports ``TEAMMATES`` nodes of our team, then whatever the test sends."""

    instance = "7" * 12
    events: trio.MemorySendChannel[DiscoveryEvent] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def run(
        self,
        send: trio.MemorySendChannel[DiscoveryEvent],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
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
            attempts.clear()  # while the advertisements came in, the early rings chose others for a while
            await trio.sleep(60)
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


@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 10, 20, 40, 41, 100])
def test_the_ring_with_chords_is_sparse_connected_and_survives_any_one_node(n: int) -> None:
    import secrets

    names = [secrets.token_hex(6) for _ in range(n)]
    links: dict[str, set[str]] = {name: set() for name in names}
    for name in names:
        for other in ring_neighbours(name, [x for x in names if x != name]):
            links[name].add(other)
            links[other].add(name)
    assert all(len(peers) <= 6 for peers in links.values()), max(map(len, links.values()))
    assert all(len(peers) >= min(n - 1, 4) for peers in links.values())  # every node has at least 4 links
    assert is_two_connected(links) or n == 2


def test_a_neighbour_that_leaves_is_forgotten_and_the_next_one_dialled() -> None:
    hood = Neighbourhood("m")
    for name in "abcdefghijklmnopq":
        hood.seen(name, [f"10.0.0.{ord(name)}"], 7766)
    assert set(hood.chosen) == set(ring_neighbours("m", "abcdefghijklmnopq"))
    first = min(hood.chosen)
    steps = hood.lost(first)
    assert first in steps.forget and first not in steps.retire
    assert steps.dial and first not in hood.chosen
    steps = hood.seen("mm", ["10.0.0.200"], 7766)  # a node right after us on the ring
    assert "mm" in steps.dial and steps.retire  # one of the old neighbours is retired
