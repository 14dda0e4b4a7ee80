"""Flood: one member posts as fast as it can; do the others' messages still get through, and how fast?

    python bench/flood.py --seconds 20
    python bench/flood.py --seconds 20 --rate-kbit 256     (root: the relay's uplink limited, in namespaces)

Four members of one team on loopback: a relay R (a ``meshchat node`` process), a flooder F (a process
posting in a tight loop through its own node, which dials R), and, in this process, a calm member M posting a
message every 250 ms and an observer O; M and O both dial R. Each of M's messages is timed from just before
its post until O holds it: first with no flood (baseline), then during the flood. The sync session serves
authors in turns (``meshchat.proto.sync``; ``tests/test_fairness.py``), so the flood should cost M little.

With ``--rate-kbit``, R, F and the M+O pair each run in a network namespace (``tests/netlab.py``) and R's
uplink is limited with ``tc ... tbf``: the flood then competes with M's messages for a slow link.
"""

from __future__ import annotations

import argparse
import json
import signal
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
async def main(home, host, port, seconds):
    node = Node.open(Path(home), NodeConfig(peers=((host, port),), discovery=False))
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
trio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
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
        print(f"  {label} {i}: {latencies[-1]:.0f} ms", file=sys.stderr, flush=True)
        await trio.sleep(max(0.0, 0.25 - (time.perf_counter() - started)))
    return latencies


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered):.0f} ms, p99 {p99:.0f} ms, max {ordered[-1]:.0f} ms"


async def run(homes: list[Path], host: str, port: int, seconds: float, flooder_prefix: list[str]) -> None:
    config = NodeConfig(peers=((host, port),), discovery=False, poll_interval=0.05)
    async with running_node(homes[2], config) as calm, running_node(homes[3], config) as observer:
        await timed_posts(calm, observer, 4, "warm-up")
        baseline = await timed_posts(calm, observer, 20, "baseline")
        flooder = subprocess.Popen(
            [*flooder_prefix, sys.executable, "-c", FLOODER, str(homes[1]), host, str(port), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
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
    parser.add_argument("--rate-kbit", type=int, default=0, help="limit the relay's uplink (needs root)")
    parser.add_argument("--inner", help=argparse.SUPPRESS)  # the M+O half, run inside its namespace
    args = parser.parse_args()
    if args.inner:
        spec = json.loads(args.inner)
        homes = [Path(h) for h in spec["homes"]]
        trio.run(run, homes, spec["host"], spec["port"], args.seconds, spec["flooder_prefix"])
        return
    with tempfile.TemporaryDirectory() as tmp:
        homes = team_homes(Path(tmp), 4)
        if args.rate_kbit:
            in_namespaces(homes, args.seconds, args.rate_kbit)
            return
        port = free_port()
        with node_process(homes[0], port):
            trio.run(run, homes, "127.0.0.1", port, args.seconds, [])


def in_namespaces(homes: list[Path], seconds: float, rate_kbit: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from netlab import NetLab

    with NetLab() as lab:
        relay, flooder, member = lab.add_host("r"), lab.add_host("f"), lab.add_host("m")
        lab.rate_limit(relay, rate_kbit)
        cli = [sys.executable, "-m", "meshchat.cli.main", "--home", str(homes[0]), "node", "--no-discovery"]
        lab.start(relay, *cli, "--listen", f"{relay.ip}:7000", stderr=subprocess.DEVNULL)
        time.sleep(2)
        spec = {"homes": [str(h) for h in homes], "host": relay.ip, "port": 7000, "flooder_prefix": flooder.argv()}
        inner = lab.start(member, sys.executable, __file__, "--seconds", str(seconds), "--inner", json.dumps(spec))
        inner.wait()
        print(f"(relay's uplink limited to {rate_kbit} kbit/s)")


if __name__ == "__main__":
    # SIGTERM (timeout, a CI runner) unwinds like an exception: the lab removes its namespaces and processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
