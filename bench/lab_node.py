"""One node of the network benchmarks (``scale.py``, ``slowlink.py``), run as a process (often in a namespace).

    lab_node.py '{"home": ..., "listen": "IP:PORT", "peers": [...], "discovery": false,
                  "go": "/path/of/a/file", "posts": N, "interval": S, "seed": N, "at": [S, ...]}'

Runs a node through the public node API only (so the same script measures any version of meshchat), prints
``{"up": ...}`` once it listens, then waits for the file ``go`` to exist. From then it posts ``posts`` short
messages about ``interval`` seconds apart (jittered), and one message at each offset in ``at`` (seconds after
``go``); for every post it prints ``{"posted": TEXT, "wall": TIME}`` with the wall-clock time just before the
post, and ``{"done": N}`` after the last. It keeps replicating until it is killed. With ``MESHCHAT_LAB_LOG``
set (e.g. ``INFO``) the node logs at that level on stderr (links up and down, sync progress). With
``"profile": PATH`` in the spec, the node's trio thread runs under ``cProfile`` from ``go`` until
``profile_after`` seconds after its last post (default 8: ``scale.py`` keeps the nodes 10 s beyond
convergence), and the statistics are written to ``PATH`` (``python -m pstats PATH``): where one node's CPU
goes per message, with exact call counts. It times CPU, not wall time: forty nodes share two cores, and a
node waiting for its turn would charge the wait to whatever it was doing.
"""

from __future__ import annotations

import cProfile
import json
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import trio

from meshchat.net.address import parse_address
from meshchat.node import Node, NodeConfig


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def main(spec: dict[str, Any]) -> None:
    home = Path(spec["home"])
    config = NodeConfig(
        listen=parse_address(spec["listen"]) if spec.get("listen") else None,
        peers=tuple(parse_address(p) for p in spec.get("peers", ())),
        discovery=bool(spec.get("discovery", False)),
        poll_interval=0.1,
    )
    rng = random.Random(spec.get("seed", 0))
    node = Node.open(home, config)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            say(up=spec.get("listen"), pid_key=node.me.hex())
            go = Path(spec["go"])
            while not go.exists():
                await trio.sleep(0.05)
            profiler = cProfile.Profile(time.process_time) if spec.get("profile") else None
            if profiler is not None:
                profiler.enable()
            started = trio.current_time()
            moments = [
                (k * spec.get("interval", 0.2) + rng.uniform(0, spec.get("interval", 0.2)), "m")
                for k in range(int(spec.get("posts", 0)))
            ]
            moments += [(float(at), "at") for at in spec.get("at", ())]
            moments.sort()
            for k, (moment, label) in enumerate(moments):
                await trio.sleep_until(started + moment)
                text = f"{home.name} {label}{k}"
                wall = time.time()
                await node.post("general", text)
                say(posted=text, wall=wall)
            say(done=len(moments))
            if profiler is not None:
                await trio.sleep(float(spec.get("profile_after", 8.0)))
                profiler.disable()
                profiler.dump_stats(spec["profile"])
            await trio.sleep_forever()
    finally:
        node.close()


if __name__ == "__main__":
    if level := os.environ.get("MESHCHAT_LAB_LOG"):
        logging.basicConfig(level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    trio.run(main, json.loads(sys.argv[1]))
