"""Sync benchmark: catch-up between two processes on loopback, and live-push latency across three hops.

    python bench/sync.py --n 100000

1. Catch-up: node A (a ``meshchat node`` process) holds ``--n`` entries from ``--authors`` authors; node B
   (this process) starts empty and dials A: real TCP on 127.0.0.1, real handshake and encryption, entries
   stored through the store's accept path. Timed from B's start to B holding everything. Printed with the
   local batch-accept rate of the same entries into a fresh store in this process (the bound) and the ratio;
   ``--repeat`` times (a fresh B and a fresh bound each time: the machine is shared), then the median ratio.
   ``--switch-intervals 0.005,0.001`` times B's catch-up once per interpreter switch interval in each repeat
   (``sys.setswitchinterval``, in turn, the order rotated each repeat) against the same bound: an A/B in one run.
2. Bytes: the same catch-up from one peer, then from three (three ``meshchat node`` processes that each hold
   everything), each link through a counting relay in this process; printed: the bytes B received, per entry,
   and the three-peer cost as a multiple of the one-peer cost. Counted until no link has moved a byte for 2 s,
   so duplicates that arrive after B holds everything count too.
3. Live push: P -> R1 -> R2 -> D, where R1 and R2 are ``meshchat node`` processes and P and D run here.
   P posts ``--live`` messages one at a time; each is timed from just before the post (which includes its
   durable write) until D's node announces it.

Last line: ``catchup_per_s=<number> three_peer_bytes=<ratio> p99_ms=<number>``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trio

from meshchat.events import EntriesAdded, SyncProgress
from meshchat.node import NodeConfig
from meshchat.replica import admission_order
from meshchat.store import Store
from meshchat.testing import author_home, running_node, synthetic_history

LOCAL_BATCH = 2000  # entries per accept_batch in the local bound: what one sync batch carries


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def node_process(home: Path, port: int, *peers: int) -> Iterator[subprocess.Popen[bytes]]:
    args = [sys.executable, "-m", "meshchat.cli.main", "--home", str(home), "node", "--no-discovery"]
    args += ["--listen", f"127.0.0.1:{port}"]
    for peer in peers:
        args += ["--peer", f"127.0.0.1:{peer}"]
    process = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:  # wait until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"node on port {port} did not start") from None
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def settled(home: Path) -> Path:
    """``home`` with its search index built, as a node that has been running for a while leaves it: a fresh
    node A would index its whole history while it serves the first catch-ups, which is not what is measured."""
    with Store.open(home / "meshchat.db") as store:
        while store.index_search():
            pass
    return home


def local_bound(team_id: bytes, raws: list[bytes], work: Path) -> float:
    work.mkdir(parents=True, exist_ok=True)
    store = Store.create(work / "bound.db", team_id)
    started = time.perf_counter()
    for i in range(0, len(raws), LOCAL_BATCH):
        store.accept_batch(raws[i : i + LOCAL_BATCH])
    seconds = time.perf_counter() - started
    assert store.count() == len(raws)
    store.close()
    return len(raws) / seconds


async def catch_up(home: Path, port: int, total: int) -> float:
    config = NodeConfig(peers=(("127.0.0.1", port),), discovery=False)
    started = time.perf_counter()
    async with running_node(home, config) as node:
        events = node.events(buffer=0)
        with trio.fail_after(600):
            async for event in events:
                if isinstance(event, SyncProgress) and event.done and node.profile.store.count() >= total:
                    break
        seconds = time.perf_counter() - started
        assert node.profile.store.count() == total, node.profile.store.count()
    return seconds


class CountingRelay:
    """Forwards TCP connections from a local port to ``target`` and counts the bytes sent back (to the dialler)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.received = 0
        self.last_byte = time.perf_counter()

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self._relay, listeners)

    async def _relay(self, near: trio.SocketStream) -> None:
        far = await trio.open_tcp_stream("127.0.0.1", self.target)
        async with near, far, trio.open_nursery() as nursery:
            nursery.start_soon(self._pump, near, far, False)
            nursery.start_soon(self._pump, far, near, True)

    async def _pump(self, source: trio.SocketStream, sink: trio.SocketStream, count: bool) -> None:
        try:
            async for data in source:
                if count:
                    self.received += len(data)
                    self.last_byte = time.perf_counter()
                await sink.send_all(data)
            await sink.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


async def catch_up_bytes(home: Path, ports: list[int], total: int) -> tuple[int, float]:
    """B catches up from the nodes on ``ports``, each through a counting relay: (bytes received, seconds)."""
    relays = [CountingRelay(port) for port in ports]
    async with trio.open_nursery() as nursery:
        near = [await nursery.start(relay.serve) for relay in relays]
        config = NodeConfig(peers=tuple(("127.0.0.1", port) for port in near), discovery=False)
        started = time.perf_counter()
        async with running_node(home, config) as node:
            with trio.fail_after(600):
                while node.profile.store.count() < total:
                    await trio.sleep(0.01)
            seconds = time.perf_counter() - started
            while time.perf_counter() - max(r.last_byte for r in relays) < 2.0:  # duplicates still in flight
                await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    return sum(r.received for r in relays), seconds


async def live_push(poster_home: Path, sink_home: Path, first_port: int, last_port: int, count: int) -> list[float]:
    async with (
        running_node(poster_home, NodeConfig(peers=(("127.0.0.1", first_port),), discovery=False)) as poster,
        running_node(sink_home, NodeConfig(peers=(("127.0.0.1", last_port),), discovery=False)) as sink,
    ):
        events = sink.events(buffer=0)

        async def arrival() -> None:
            async for event in events:
                if isinstance(event, EntriesAdded) and poster.me in event.authors:
                    return

        with trio.fail_after(30):  # warm up: every link up, a few messages through
            for i in range(5):
                await poster.post("general", f"warm-up {i}")
                await arrival()
        latencies = []
        for i in range(count):
            started = time.perf_counter()
            await poster.post("general", f"live {i}")
            with trio.fail_after(10):
                await arrival()
            latencies.append((time.perf_counter() - started) * 1000)
        return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="entries node A holds (default 100000)")
    parser.add_argument("--authors", type=int, default=20)
    parser.add_argument("--live", type=int, default=1000, help="messages timed across the chain (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="catch-up measurements, each with the bound (default 3)")
    parser.add_argument(
        "--switch-intervals",
        type=lambda text: [float(value) for value in text.split(",")],
        default=None,
        help="B's sys.setswitchinterval values to compare, comma-separated seconds (default: as the process has it)",
    )
    parser.add_argument("--catch-up-only", action="store_true", help="stop after the catch-up measurements")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="meshchat-sync-bench-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    print(f"building a history of {args.n} entries from {args.authors} authors ...", flush=True)
    team = synthetic_history(args.n - 9, authors=args.authors)  # 9 more: the catch-up nodes and the live chain
    fresh = [team.add_member() for _ in range(9)]  # empty logs, known to every node
    chain = fresh[:4]  # P, R1, R2, D
    key = os.urandom(32)
    raws_by_author = {a.key: [e.raw for e in a.entries] for a in team.authors}
    a_home = settled(author_home(work / "a", team.founder, network_key=key, raws=[e.raw for e in team.all_entries()]))
    with Store.open(a_home / "meshchat.db") as store:
        order = admission_order(store.membership)
    raws = [raw for author in order for raw in raws_by_author[author]]  # as sync sends them
    total = len(raws)
    port_a = free_port()
    intervals = args.switch_intervals or [sys.getswitchinterval()]
    ratios: dict[float, list[float]] = {interval: [] for interval in intervals}
    rates: dict[float, list[float]] = {interval: [] for interval in intervals}
    bounds: list[float] = []
    default_interval = sys.getswitchinterval()
    with node_process(a_home, port_a):
        for i in range(args.repeat):  # the machine is shared: pairs of measurements, the median of their ratios
            bounds.append(local_bound(team.team_id, raws, work / f"bound{i}"))
            for k in range(len(intervals)):
                interval = intervals[(i + k) % len(intervals)]  # each setting goes first in turn
                b_home = author_home(work / f"catchup{i}-{k}", fresh[8], network_key=key)
                sys.setswitchinterval(interval)
                try:
                    seconds = trio.run(catch_up, b_home, port_a, total)
                finally:
                    sys.setswitchinterval(default_interval)
                rates[interval].append(total / seconds)
                ratios[interval].append(rates[interval][-1] / bounds[-1])
                print(
                    f"catch-up:      {total} entries in {seconds:.2f} s = {rates[interval][-1]:,.0f} entries/s "
                    f"(handshake included, switch interval {interval * 1000:g} ms); local bound {bounds[-1]:,.0f} "
                    f"entries/s (accept_batch of {LOCAL_BATCH}, same order, one process): {ratios[interval][-1]:.2f}",
                    flush=True,
                )
    bound = statistics.median(bounds)
    for interval in intervals:
        rate = statistics.median(rates[interval])
        print(
            f"median:        switch interval {interval * 1000:g} ms: catch-up {rate:,.0f} entries/s, local bound "
            f"{bound:,.0f} entries/s; ratio {statistics.median(ratios[interval]):.2f} of the local bound "
            f"(median of {args.repeat} pairs)"
        )
    rate = statistics.median(rates[intervals[0]])  # the last line's figure: the first setting named
    if args.catch_up_only:
        return

    ports = [free_port() for _ in range(3)]
    b1 = author_home(work / "b1", fresh[4], network_key=key)
    b3 = author_home(work / "b3", fresh[5], network_key=key)
    sources = [a_home] + [
        settled(author_home(work / f"a{i}", fresh[6 + i], network_key=key, raws=raws)) for i in range(2)
    ]
    with contextlib.ExitStack() as stack:
        for home, port in zip(sources, ports, strict=True):
            stack.enter_context(node_process(home, port))
        one, one_s = trio.run(catch_up_bytes, b1, ports[:1], total)
        three, three_s = trio.run(catch_up_bytes, b3, ports, total)
    print(f"bytes, 1 peer:  {one:,} B received = {one / total:.0f} B per entry ({one_s:.2f} s, through a relay)")
    print(
        f"bytes, 3 peers: {three:,} B received = {three / total:.0f} B per entry ({three_s:.2f} s): "
        f"{three / one:.2f}x one peer"
    )
    raw_size = sum(map(len, raws)) / total
    print(f"entry size:     {raw_size:.0f} B on average (its raw bytes)")

    founder_log = raws_by_author[team.founder.key]
    homes = [
        author_home(work / name, member, network_key=key, raws=founder_log)
        for name, member in zip(("p", "r1", "r2", "d"), chain, strict=True)
    ]
    port_1, port_2 = free_port(), free_port()
    with node_process(homes[1], port_1), node_process(homes[2], port_2, port_1):
        latencies = trio.run(live_push, homes[0], homes[3], port_1, port_2, args.live)
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98]
    spread = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms"
    print(f"live push:     3 hops, {len(latencies)} messages: {spread}")
    print(f"catchup_per_s={rate:.0f} three_peer_bytes={three / one:.2f} p99_ms={p99:.1f}")


if __name__ == "__main__":
    main()
