"""Scale: N nodes as processes, each posting short messages; what it costs to deliver them to everyone.

    python bench/scale.py                                   # N = 10, 20, 40; discovery, ring, mesh
    python bench/scale.py --nodes 40 --topology discovery --messages 50

Needs root: every node runs in its own network namespace on one bridge (``tests/netlab.py``), as laptops on
one LAN, so each node's traffic is counted exactly by its interface. Linux keeps one ARP table for all the
namespaces, and its default limit (1,024 entries) is less than 40 hosts that all talk to each other need: the
run raises it (``netlab.neighbour_room``), puts it back after, and says so if the table was full all the same
(packets dropped: a lab fault, not the nodes'). Topologies:

- ``discovery``: every node listens on its address with LAN discovery on and no ``--peer``: whatever links
  discovery makes (as a real LAN would give);
- ``ring``: no discovery; node i dials node i+1 (static peers);
- ``mesh``: no discovery; every pair of nodes linked (node i dials every j > i).

Once the links are up, every node posts ``--messages`` short messages about ``--interval`` s apart. Printed
per run: links per node (from each node's status), how long after the last post every node held every
message, bytes per message per node during that time (what each node's interface received, Ethernet/IP/TCP
headers and mDNS included; and the TCP payload its sockets received), the size of one entry for comparison,
then idle traffic (bytes/s received per node: on the interface, and the links' TCP payload alone, which
leaves out mDNS) and CPU per node over ``--idle`` seconds after convergence.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from lab_cpu import cpu_seconds  # noqa: E402
from netlab import Host, NetLab, arp_table_fulls, neighbour_room  # noqa: E402

from meshchat.status import STATUS_KEY, NodeStatus  # noqa: E402
from meshchat.testing import team_homes  # noqa: E402

PORT = 7766


@dataclass
class Result:
    nodes: int
    topology: str
    links: list[int]
    links_after: list[int]
    converge_s: float
    wire_per_msg_node: float
    payload_per_msg_node: float
    entry_size: float
    idle_wire_bps: float
    idle_payload_bps: float  # TCP payload only: the links' own idle traffic, without mDNS and headers
    idle_cpu_pct: float
    run_cpu_pct: float  # of one core per node, from the first post until every node held everything
    machine_busy: float  # what all the nodes used of the machine's cores meanwhile
    messages: int
    settled: bool
    arp_table_fulls: int  # packets the lab's kernel dropped for want of room in its ARP table (should be 0)


def interface_bytes(host: Host) -> tuple[int, int]:
    """(received, sent) bytes of the host's eth0 as the kernel counts them."""
    out = subprocess.run(
        ["ip", "-n", host.netns, "-s", "-j", "link", "show", "eth0"], capture_output=True, text=True, check=True
    ).stdout
    stats = json.loads(out)[0]["stats64"]
    return int(stats["rx"]["bytes"]), int(stats["tx"]["bytes"])


def payload_received(host: Host) -> int:
    """TCP payload received on the host's open sockets (``ss``: bytes_received)."""
    out = subprocess.run(host.argv("ss", "-tinH"), capture_output=True, text=True, check=True).stdout
    return sum(int(n) for n in re.findall(r"bytes_received:(\d+)", out))


class Stores:
    """Read-only views of every node's store (WAL readers: they see each commit as it happens)."""

    def __init__(self, homes: list[Path]) -> None:
        self.conns = [sqlite3.connect(f"file:{h / 'meshchat.db'}?mode=ro", uri=True, timeout=10) for h in homes]
        self._counted = [(0, 0)] * len(homes)  # per store: (last rowid looked at, posts up to it)

    def posts(self) -> list[int]:
        """Posts each store holds. Counted incrementally (only rows stored since the last call are read): this
        runs 20 times a second on every store while the nodes work, and a count over the whole table, which
        has no index on ``kind``, read 40 stores' every page each time and took CPU from the nodes."""
        counts = []
        for i, conn in enumerate(self.conns):
            last, posts = self._counted[i]
            top, new = conn.execute(
                "SELECT max(rowid), count(CASE WHEN kind = 'msg.post' THEN 1 END) FROM entries WHERE rowid > ?",
                (last,),
            ).fetchone()
            if top is not None:
                last, posts = top, posts + new
                self._counted[i] = (last, posts)
            counts.append(posts)
        return counts

    def entry_size(self) -> float:
        row = self.conns[0].execute("SELECT avg(length(raw)) FROM entries WHERE kind = 'msg.post'").fetchone()
        return float(row[0] or 0)

    def live_links(self) -> list[int]:
        links = []
        for conn in self.conns:
            row = conn.execute("SELECT value FROM local WHERE key = ?", (STATUS_KEY,)).fetchone()
            status = NodeStatus.decode(bytes(row[0])) if row else None
            links.append(sum(p.state in ("live", "syncing") for p in status.peers) if status else 0)
        return links

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


def run_one(
    n: int,
    topology: str,
    messages: int,
    interval: float,
    idle: float,
    work: Path,
    profile: int | None = None,
    kernel_arp_limits: bool = False,
) -> Result:
    base = work / f"{topology}{n}"
    homes = team_homes(base, n)
    go = base / "go"
    fulls_before = arp_table_fulls()
    with neighbour_room(0 if kernel_arp_limits else n * n + 256), NetLab() as lab:
        hosts = [lab.add_host(f"n{i}") for i in range(n)]
        procs = []
        for i, host in enumerate(hosts):
            if topology == "ring":
                peers = [f"{hosts[(i + 1) % n].ip}:{PORT}"] if n > 1 else []
            elif topology == "mesh":
                peers = [f"{hosts[j].ip}:{PORT}" for j in range(i + 1, n)]
            else:
                peers = []
            spec = {
                "home": str(homes[i]),
                "listen": f"{host.ip}:{PORT}",
                "peers": peers,
                "discovery": topology == "discovery",
                "go": str(go),
                "posts": messages,
                "interval": interval,
                "seed": i,
            }
            if i == profile:
                spec["profile"] = str(base / f"node{i}.prof")
            log = (base / f"node{i}.log").open("wb")
            procs.append(
                lab.start(
                    host,
                    sys.executable,
                    str(HERE / "lab_node.py"),
                    json.dumps(spec),
                    stdout=subprocess.PIPE,
                    stderr=log,
                )
            )
        last_post: list[float] = []
        readers = [threading.Thread(target=read_posts, args=(p, last_post), daemon=True) for p in procs]
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if b"up" not in line:
                raise RuntimeError(f"a node did not start: see {base}/node*.log")
        stores = Stores(homes)
        try:
            settled = settle_links(stores, n, topology)
            links = stores.live_links()
            before = [interface_bytes(h)[0] for h in hosts]
            payload_before = [payload_received(h) for h in hosts]
            for reader in readers:
                reader.start()
            cpu_go = [cpu_seconds(p.pid) for p in procs]
            went = time.monotonic()
            go.touch()
            target = n * messages
            timeout = 180.0
            deadline = time.monotonic() + timeout
            while min(stores.posts()) < target:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no convergence after {timeout:.0f} s: {stores.posts()} of {target}")
                time.sleep(0.05)
            converged = time.time()
            run_s = time.monotonic() - went
            cpu_run = sum(cpu_seconds(p.pid) for p in procs) - sum(cpu_go)
            for reader in readers:
                reader.join(timeout=10)
            converge_s = converged - max(last_post)
            after = [interface_bytes(h)[0] for h in hosts]
            payload_after = [payload_received(h) for h in hosts]
            cpu_before = [cpu_seconds(p.pid) for p in procs]
            started = time.monotonic()
            time.sleep(idle)
            idle_s = time.monotonic() - started
            idle_after = [interface_bytes(h)[0] for h in hosts]
            idle_payload = [max(0, payload_received(h) - b) for h, b in zip(hosts, payload_after, strict=True)]
            links_after = stores.live_links()
            cpu_after = [cpu_seconds(p.pid) for p in procs]
            entry_size = stores.entry_size()
        finally:
            stores.close()
    fulls = arp_table_fulls() - fulls_before
    wire = [a - b for a, b in zip(after, before, strict=True)]
    payload = [a - b for a, b in zip(payload_after, payload_before, strict=True)]
    return Result(
        nodes=n,
        topology=topology,
        links=links,
        links_after=links_after,
        converge_s=converge_s,
        wire_per_msg_node=sum(wire) / n / target,
        payload_per_msg_node=sum(payload) / n / target,
        entry_size=entry_size,
        idle_wire_bps=sum(i - a for i, a in zip(idle_after, after, strict=True)) / n / idle_s,
        idle_payload_bps=sum(idle_payload) / n / idle_s,
        idle_cpu_pct=100 * sum(c1 - c0 for c0, c1 in zip(cpu_before, cpu_after, strict=True)) / n / idle_s,
        messages=target,
        run_cpu_pct=100 * cpu_run / n / run_s,
        machine_busy=cpu_run / run_s / (os.cpu_count() or 1),
        settled=settled,
        arp_table_fulls=fulls,
    )


def read_posts(proc: subprocess.Popen[bytes], last_post: list[float]) -> None:
    """Collect the wall time of a node's posts until it says it is done."""
    assert proc.stdout is not None
    latest = 0.0
    for line in proc.stdout:
        event: dict[str, Any] = json.loads(line)
        if "wall" in event:
            latest = max(latest, float(event["wall"]))
        if "done" in event:
            break
    last_post.append(latest)


def settle_links(stores: Stores, n: int, topology: str, timeout: float = 120.0) -> bool:
    """Wait until every node has a live link and the link counts have not changed for three seconds (twelve with
    discovery: a link no longer chosen is ended 10 s after); returns False if they were still changing after
    ``timeout`` seconds (the run goes on, and says so)."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        links = stores.live_links()
        if links != last:
            last, since = links, time.monotonic()
        enough = min(links) >= (1 if n > 1 else 0) and (topology != "mesh" or min(links) >= n - 1)
        if enough and time.monotonic() - since >= (12.0 if topology == "discovery" else 3.0):
            return True
        time.sleep(0.25)
    return False


def report(r: Result) -> str:
    ratio = r.wire_per_msg_node / r.entry_size if r.entry_size else 0
    return (
        f"N={r.nodes:<3} {r.topology:<9} links/node {statistics.mean(r.links):4.1f} (max {max(r.links)}; "
        f"{statistics.mean(r.links_after):.1f} at the end)  "
        f"converged {r.converge_s:5.2f} s after the last post  "
        f"per message per node: wire {r.wire_per_msg_node:7.0f} B ({ratio:4.2f}x the entry), "
        f"TCP payload {r.payload_per_msg_node:7.0f} B; entry {r.entry_size:.0f} B  "
        f"idle: {r.idle_wire_bps:7.0f} B/s ({r.idle_payload_bps:.0f} B/s TCP payload), "
        f"CPU {r.idle_cpu_pct:4.1f}% per node; while posting: CPU "
        f"{r.run_cpu_pct:4.1f}% per node, {100 * r.machine_busy:3.0f}% of the machine"
        + ("" if r.settled else "  (links were still changing after 120 s)")
        + (f"  (the lab's ARP table was full {r.arp_table_fulls} times: packets dropped)" if r.arp_table_fulls else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument(
        "--topology", nargs="+", default=["discovery", "ring", "mesh"], choices=["discovery", "ring", "mesh"]
    )
    parser.add_argument("--messages", type=int, default=50, help="posts per node (default 50)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between one node's posts")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured after convergence")
    parser.add_argument("--keep", type=Path, help="work in this (new) directory and keep it: homes and node logs")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="I",
        help="run node I under cProfile from the first post until 8 s after its last; the statistics go to "
        "nodeI.prof in the run's directory (use with --keep; read with python -m pstats)",
    )
    parser.add_argument(
        "--kernel-arp-limits",
        action="store_true",
        help="keep the kernel's ARP table limits (by default they are raised for the run: Linux shares one "
        "table among all namespaces, and 40 hosts that all talk to each other overflow its default 1,024)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meshchat-scale-") as tmp:
        work = args.keep or Path(tmp)
        for topology in args.topology:
            for n in args.nodes:
                result = run_one(
                    n,
                    topology,
                    args.messages,
                    args.interval,
                    args.idle,
                    work,
                    args.profile,
                    args.kernel_arp_limits,
                )
                print(report(result), flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the lab removes namespaces and nodes
    main()
