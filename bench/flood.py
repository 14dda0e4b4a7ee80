"""Flood: one member posts as fast as it can; do the others' messages still get through, and how fast?

    python bench/flood.py --seconds 20

Four members of one team on loopback: a relay R (a ``meshchat node`` process), a flooder F (a process
posting in a tight loop through its own node, which dials R), and, in this process, a calm member M posting a
message every 250 ms and an observer O; M and O both dial R. Each of M's messages is timed from just before
its post until O holds it: first with no flood (baseline), then during the flood. The sync session serves
authors in turns (``meshchat.proto.sync``; ``tests/test_fairness.py``), so the flood should cost M little.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio
from sync import free_port, node_process

from meshchat.node import Node, NodeConfig
from meshchat.profile import Profile
from meshchat.testing import running_node, team_homes

FLOODER = """
import sys, time, trio
from pathlib import Path
from meshchat.node import Node, NodeConfig
async def main(home, port, seconds):
    node = Node.open(Path(home), NodeConfig(peers=(("127.0.0.1", port),), discovery=False))
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        await trio.sleep(1.0)
        print("flooding", flush=True)
        ends, n = time.monotonic() + seconds, 0
        while time.monotonic() < ends:
            await node.post("general", f"flood {n} " + "f" * 150)
            n += 1
            if n % 50 == 0:
                await trio.sleep(0)
        print(n, flush=True)
        nursery.cancel_scope.cancel()
    node.close()
trio.run(main, sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
"""


async def timed_posts(calm: Node, observer: Node, count: int, label: str) -> list[float]:
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        entry = await calm.post("general", f"{label} {i}: all fine at the bridge")
        with trio.fail_after(60):
            while (head := observer.profile.store.head(calm.me)) is None or head.seq < entry.seq:
                await trio.sleep(0.002)
        latencies.append((time.perf_counter() - started) * 1000)
        await trio.sleep(max(0.0, 0.25 - (time.perf_counter() - started)))
    return latencies


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered):.0f} ms, p99 {p99:.0f} ms, max {ordered[-1]:.0f} ms"


async def run(homes: list[Path], port: int, seconds: float) -> None:
    config = NodeConfig(peers=(("127.0.0.1", port),), discovery=False, poll_interval=0.05)
    async with running_node(homes[2], config) as calm, running_node(homes[3], config) as observer:
        await timed_posts(calm, observer, 4, "warm-up")
        baseline = await timed_posts(calm, observer, 20, "baseline")
        flooder = subprocess.Popen(
            [sys.executable, "-c", FLOODER, str(homes[1]), str(port), str(seconds)], stdout=subprocess.PIPE, text=True
        )
        assert flooder.stdout is not None
        await trio.to_thread.run_sync(flooder.stdout.readline)
        during = await timed_posts(calm, observer, int(seconds / 0.25) - 4, "during")
        written = int(await trio.to_thread.run_sync(flooder.stdout.readline))
        flooder.wait()
        with Profile.open(homes[1]) as f:
            flood_key = f.me
        arrived_at_end = observer.profile.store.head(flood_key)
        print(f"flooder wrote {written} posts in {seconds:.0f} s ({written / seconds:.0f}/s)")
        print(f"observer held {arrived_at_end.seq if arrived_at_end else 0} of the flooder's entries when it stopped")
        print(f"calm member, no flood:     {summary(baseline)} ({len(baseline)} messages)")
        print(f"calm member, during flood: {summary(during)} ({len(during)} messages, all delivered)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        homes = team_homes(Path(tmp), 4)
        port = free_port()
        with node_process(homes[0], port):
            trio.run(run, homes, port, args.seconds)


if __name__ == "__main__":
    main()
