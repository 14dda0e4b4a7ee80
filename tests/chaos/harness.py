"""Five nodes in network namespaces, writing while the network misbehaves; then healing and convergence.

Faults, all made by the test and undone by it: every host's uplink limited to 256 kbit/s (``tc ... tbf``),
hosts unplugged from the switch and plugged back at random (``ip link set ... down/up``), and some links
running through ``fault_proxy.py`` (200 ms delay with jitter, stalls, a reset every few seconds). After the
fault phase every fault is removed and the test measures how long the nodes take to hold the same entries.
Used by ``test_chaos.py`` (short) and ``bench/chaos.py`` (long).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from netlab import Host, NetLab

from meshchat.profile import Profile
from meshchat.testing import team_homes, wait_until_sync

HERE = Path(__file__).parent
NODES = 5
PORT = 7700
PROXY_PORT = 7800
RATE_KBIT = 256
FINAL_CUT_S = 4.0  # one host is unplugged for the last seconds of the fault phase
# Who dials whom, and whether through the fault proxy: a ring plus two chords, half of it proxied.
LINKS = [(0, 1, False), (1, 2, True), (2, 3, False), (3, 4, True), (4, 0, True), (0, 2, False), (1, 3, True)]


@dataclass
class ChaosResult:
    written: int
    converge_s: float
    cuts: int
    resets: int


def run_chaos(
    base: Path,
    *,
    fault_seconds: float,
    posts: int,
    seed: int = 0,
    backoff_max: float = 3.0,
    keepalive: float = 2.0,
    idle_timeout: float = 8.0,
    converge_timeout: float = 60.0,
) -> ChaosResult:
    rng = random.Random(seed)
    homes = team_homes(base, NODES)
    with Profile.open(homes[0]) as founder:
        start = founder.store.count()
    with NetLab() as lab:
        hosts = [lab.add_host(f"n{i}") for i in range(NODES)]
        proxy_host = lab.add_host("px")
        routes, peers = [], [[] for _ in range(NODES)]  # type: ignore[var-annotated]
        for k, (dialler, target, proxied) in enumerate(LINKS):
            if proxied:
                routes.append(f"{PROXY_PORT + k}={hosts[target].ip}:{PORT}")
                peers[dialler].append(f"{proxy_host.ip}:{PROXY_PORT + k}")
            else:
                peers[dialler].append(f"{hosts[target].ip}:{PORT}")
        proxy = lab.start(
            proxy_host,
            sys.executable,
            str(HERE / "fault_proxy.py"),
            proxy_host.ip,
            str(fault_seconds),
            str(seed),
            *routes,
            stdout=subprocess.PIPE,
        )
        assert proxy.stdout is not None
        assert b"listening" in proxy.stdout.readline()
        for host in hosts:
            lab.rate_limit(host, RATE_KBIT)
        nodes = []
        for i, host in enumerate(hosts):
            spec = {
                "home": str(homes[i]),
                "listen": f"{host.ip}:{PORT}",
                "peers": peers[i],
                "posts": posts,
                "seconds": fault_seconds,  # the last posts are made just before healing
                "seed": seed * 100 + i,
                "backoff_max": backoff_max,
                "keepalive": keepalive,
                "idle_timeout": idle_timeout,
            }
            log = (base / f"node{i}.log").open("wb")
            nodes.append(
                lab.start(
                    host,
                    sys.executable,
                    str(HERE / "chaos_node.py"),
                    json.dumps(spec),
                    stdout=subprocess.PIPE,
                    stderr=log,
                )
            )
        cuts = fault_phase(lab, hosts, fault_seconds, rng)
        for node in nodes:  # every node has written all its posts
            assert node.stdout is not None
            for line in node.stdout:
                if b"posted" in line:
                    break
            else:
                raise AssertionError(f"a node stopped before posting: see {base}/node*.log")
        for host in hosts:  # heal
            lab.restore(host)
            lab.unlimit(host)
        written = NODES * posts
        counts: list[int] = []

        def converged() -> bool:
            counts[:] = [count(home) for home in homes]
            return all(n == start + written for n in counts)

        try:
            converge_s = wait_until_sync(converged, converge_timeout, what="convergence")
        except AssertionError:
            raise AssertionError(f"no convergence in {converge_timeout} s: {counts}, want {start + written}") from None
        check_identical(homes, written)
        proxy.kill()
        resets = sum(1 for line in proxy.stdout if b"reset" in line)
    return ChaosResult(written, converge_s, cuts, resets)


def fault_phase(lab: NetLab, hosts: list[Host], seconds: float, rng: random.Random) -> int:
    """Unplug and replug hosts at random until ``seconds`` have passed; returns how many cuts were made. The
    last few seconds one host stays unplugged while the others write, so that healing has work to do."""
    ends = time.monotonic() + seconds
    down: dict[int, float] = {}  # host index -> when to plug it back
    last = rng.randrange(len(hosts))
    cuts = 0
    while (now := time.monotonic()) < ends:
        for i, until in list(down.items()):
            if now >= until:
                lab.restore(hosts[i])
                del down[i]
        if now > ends - FINAL_CUT_S and last not in down:
            lab.cut(hosts[last])
            down[last] = ends + 1  # plugged back only by the healing
            cuts += 1
        elif rng.random() < 0.3 and len(down) < 2:
            i = rng.randrange(len(hosts))
            if i not in down:
                lab.cut(hosts[i])
                down[i] = min(now + rng.uniform(0.5, 3.0), ends - FINAL_CUT_S)
                cuts += 1
        time.sleep(0.25)  # real time: the faults are a schedule in seconds, against nodes in other processes
    return cuts


def count(home: Path) -> int:
    with Profile.open(home) as profile:
        return profile.store.count()


def check_identical(homes: list[Path], written: int) -> None:
    """Same views everywhere; every post exactly once; every author's seqs contiguous from 1."""
    snapshots = set()
    for home in homes:
        with Profile.open(home) as profile:
            snapshots.add(profile.views.snapshot())
            texts = [m.text for m in profile.views.messages(profile.room("general").room, limit=100_000)]
            assert len(texts) == written, (home, len(texts))
            assert len(set(texts)) == written, "a message is shown twice"
            for author, head in profile.store.heads().items():
                assert len(profile.store.entries_after(author, 0, limit=1_000_000)) == head.seq, "a gap"
            assert profile.store.forked_authors() == {}
    assert len(snapshots) == 1, "views differ between nodes"
