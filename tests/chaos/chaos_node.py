"""One node of the chaos tests, run inside a test namespace.

    chaos_node.py '{"home": ..., "listen": "IP:PORT", "peers": [...], "posts": N, "seconds": S, "seed": N,
                    "backoff_max": S, "keepalive": S, "idle_timeout": S}'

Runs a node (no discovery: the test decides who dials whom, some through the fault proxy), posts ``POSTS``
messages at random moments over ``WRITE_SECONDS``, prints ``{"posted": N}`` and keeps replicating until killed.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import trio

from meshchat.net.address import parse_address
from meshchat.net.link import LinkSettings
from meshchat.net.peers import NetSettings
from meshchat.node import Node, NodeConfig


async def main(spec: dict[str, Any]) -> None:
    home, listen, posts, seconds = spec["home"], spec["listen"], spec["posts"], spec["seconds"]
    rng = random.Random(spec["seed"])
    settings = NetSettings(
        link=LinkSettings(keepalive=spec["keepalive"], idle_timeout=spec["idle_timeout"]),
        backoff_max=spec["backoff_max"],
    )
    config = NodeConfig(
        listen=parse_address(listen),
        peers=tuple(parse_address(p) for p in spec["peers"]),
        discovery=False,
        poll_interval=0.1,
        net=settings,
    )
    node = Node.open(Path(home), config)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            print(json.dumps({"up": listen}), flush=True)
            moments = sorted(rng.uniform(0, float(seconds)) for _ in range(int(posts)))
            started = trio.current_time()
            for k, moment in enumerate(moments):
                await trio.sleep_until(started + moment)
                await node.post("general", f"chaos {Path(home).name} #{k}")
            print(json.dumps({"posted": len(moments)}), flush=True)
    finally:
        node.close()


if __name__ == "__main__":
    trio.run(main, json.loads(sys.argv[1]))
