"""Randomised partitions: six nodes write while links are cut and restored at random; once healed, every
node holds the union of all entries and shows identical views. On virtual time: a deferred batch asked for
again after 10 s, or a link's keepalive, costs no real time."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
import trio
import trio.testing

from meshchat.node import Node, NodeConfig
from meshchat.testing import link_nodes, team_homes, wait_until

NODES = 6
ROUNDS = 8


@pytest.mark.parametrize("seed", range(20))
async def test_partitions_heal_to_identical_nodes(
    tmp_path: Path, seed: int, mock_clock: trio.testing.MockClock
) -> None:
    rng = random.Random(seed)
    homes = team_homes(tmp_path, NODES)
    nodes = [Node.open(home, NodeConfig(discovery=False, poll_interval=0.05)) for home in homes]
    start = nodes[0].profile.store.count()
    written = 0
    try:
        async with trio.open_nursery() as nursery:
            for node in nodes:
                await nursery.start(node.run)
            links: dict[tuple[int, int], trio.CancelScope] = {}
            pairs = list(itertools.combinations(range(NODES), 2))
            for round_ in range(ROUNDS):
                for pair in rng.sample(pairs, rng.randrange(1, 6)):
                    if pair in links:
                        links.pop(pair).cancel()  # cut
                    else:
                        links[pair] = link_nodes(nursery, nodes[pair[0]], nodes[pair[1]])
                for i in rng.sample(range(NODES), rng.randrange(1, NODES + 1)):
                    for n in range(rng.randrange(1, 3)):
                        await nodes[i].post("general", f"seed {seed} round {round_} node {i} #{n}")
                        written += 1
                await trio.sleep(rng.uniform(0, 0.05))
            for scope in links.values():
                scope.cancel()
            # Heal: a random spanning tree, so some messages must travel several hops.
            order = rng.sample(range(NODES), NODES)
            for k in range(1, NODES):
                link_nodes(nursery, nodes[order[k]], nodes[order[rng.randrange(k)]])
            total = start + written
            await wait_until(lambda: all(n.profile.store.count() == total for n in nodes), timeout=15)
            snapshots = {node.views.snapshot() for node in nodes}
            assert len(snapshots) == 1
            room = nodes[0].profile.room("general").room
            assert len(nodes[0].views.messages(room, limit=10_000)) == written
            nursery.cancel_scope.cancel()
    finally:
        for node in nodes:
            node.close()
