"""A node process for the crash tests, killed with SIGKILL at a random moment by the test.

Usage: ``worker.py VICTIM_HOME SOURCE_HOME``. Two nodes run in this process: the victim (whose home the test
checks after each kill) and a source, a teammate that keeps writing. They are linked over a memory stream,
so the victim is always catching up (the source's entries written before this start) or receiving live
pushes, while it posts bursts of its own. Each own post is printed (``seq id``) only once ``post`` returned:
that is the acknowledgement the test holds the victim to.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from meshchat.node import Node, NodeConfig
from meshchat.testing import link_nodes

SOURCE_BURST = 200  # entries the source writes before the link comes up: a catch-up at every start


async def main(victim_home: Path, source_home: Path) -> None:
    config = NodeConfig(discovery=False, poll_interval=0.05)
    victim, source = Node.open(victim_home, config), Node.open(source_home, config)
    for i in range(SOURCE_BURST):
        source.profile.post("general", f"source backlog {i} " + "s" * 100)
    async with trio.open_nursery() as nursery:
        await nursery.start(victim.run)
        await nursery.start(source.run)
        link_nodes(nursery, victim, source)
        nursery.start_soon(keep_writing, source, "source live")
        i = 0
        while True:
            for _ in range(20):  # a burst
                entry = await victim.post("general", f"victim {i} " + "v" * 200)
                print(entry.seq, entry.id.hex(), flush=True)
                i += 1
            await trio.sleep(0.02)  # real time (a process the test kills): between bursts, the catch-up writes


async def keep_writing(node: Node, prefix: str) -> None:
    i = 0
    while True:
        await node.post("general", f"{prefix} {i}")
        i += 1
        await trio.sleep(0.005)  # real time (a process the test kills): the peer's steady trickle


if __name__ == "__main__":
    trio.run(main, Path(sys.argv[1]), Path(sys.argv[2]))
