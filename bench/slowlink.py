"""Slow links: a backlog over a rate-limited link, and short messages posted meanwhile.

    python bench/slowlink.py                          # 9.6, 64 and 256 kbit/s, 120 s each
    python bench/slowlink.py --rate-kbit 9.6 --seconds 300

Needs root. Two nodes, A and B, each in a network namespace (``tests/netlab.py``), each host's uplink limited
with ``tc ... tbf`` to the rate. A holds a backlog of ``--backlog`` entries (short posts from 20 members) that B
lacks; B dials A. While the backlog syncs, A posts a short message every ``--every`` seconds (its user typing)
and so does B (the other direction). Printed per rate:

- the backlog's progress: entries stored per minute, and the entries' bytes delivered per second as a share
  of the link rate (it can pass 100% when the wire format is smaller than the entries), and how much of the
  link A's interface used;
- for each short message, the seconds from just before its post until the other node held it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from lab_events import Posts  # noqa: E402
from netlab import NetLab  # noqa: E402
from scale import interface_bytes  # noqa: E402

from meshchat.testing import author_home, synthetic_history  # noqa: E402

PORT = 7000


def held(conn: sqlite3.Connection, text: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM entries WHERE instr(raw, ?) > 0 LIMIT 1", (text.encode(),)).fetchone() is not None
    )


def run_rate(rate_kbit: float, backlog: int, seconds: float, every: float, work: Path) -> None:
    base = work / f"r{rate_kbit}"
    base.mkdir()
    team = synthetic_history(backlog + backlog // 19, authors=20)
    a_author, b_author = team.add_member(), team.add_member()
    key = os.urandom(32)
    a_home = author_home(base / "a", a_author, network_key=key, raws=[e.raw for e in team.all_entries()])
    founder_log = [e.raw for e in team.founder.entries]
    b_home = author_home(base / "b", b_author, network_key=key, raws=founder_log)
    total = len(team.all_entries())
    go = base / "go"
    with NetLab() as lab:
        a, b = lab.add_host("a"), lab.add_host("b")
        for host in (a, b):
            rate_limit(host.netns, rate_kbit)
        at = [every * (k + 1) for k in range(int(seconds / every) - 1)]
        spec_a = {"home": str(a_home), "listen": f"{a.ip}:{PORT}", "go": str(go), "at": at}
        spec_b = {
            "home": str(b_home),
            "listen": f"{b.ip}:{PORT}",
            "peers": [f"{a.ip}:{PORT}"],
            "go": str(go),
            "at": [t + every / 2 for t in at],
        }
        logs = [(base / f"{name}.log").open("wb") for name in ("a", "b")]
        node_a = lab.start(
            a, sys.executable, str(HERE / "lab_node.py"), json.dumps(spec_a), stdout=subprocess.PIPE, stderr=logs[0]
        )
        assert node_a.stdout is not None and b"up" in node_a.stdout.readline()
        a_tx_before = interface_bytes(a)[1]
        go.touch()  # A starts posting; B dials A as soon as it runs: the backlog starts now
        started = time.time()
        node_b = lab.start(
            b, sys.executable, str(HERE / "lab_node.py"), json.dumps(spec_b), stdout=subprocess.PIPE, stderr=logs[1]
        )
        assert node_b.stdout is not None and b"up" in node_b.stdout.readline()
        posts_a, posts_b = Posts(node_a), Posts(node_b)
        a_db = sqlite3.connect(f"file:{a_home / 'meshchat.db'}?mode=ro", uri=True, timeout=10)
        b_db = sqlite3.connect(f"file:{b_home / 'meshchat.db'}?mode=ro", uri=True, timeout=10)
        start_count = b_db.execute("SELECT count(*) FROM entries").fetchone()[0]
        arrivals: dict[str, float] = {}
        samples: list[tuple[float, int, int, int]] = []  # (time, entries at B, their bytes, bytes A sent)
        next_sample = 0.0
        while (now := time.time()) - started < seconds:
            for posts, other in ((posts_a, b_db), (posts_b, a_db)):
                for text in list(posts.posted):
                    if text not in arrivals and held(other, text):
                        arrivals[text] = time.time()
            if now - started >= next_sample:
                next_sample += 0.5
                count, size = b_db.execute("SELECT count(*), coalesce(sum(length(raw)), 0) FROM entries").fetchone()
                samples.append((now - started, count, size, interface_bytes(a)[1] - a_tx_before))
                everything = count >= total + len(posts_a.posted)
                delivered = arrivals.keys() >= posts_a.posted.keys() | posts_b.posted.keys()
                if everything and delivered and now - started > every * 3:
                    break
            time.sleep(0.02)
        elapsed = time.time() - started
    print(
        f"--- {rate_kbit:g} kbit/s each way, backlog {total - start_count} entries, {elapsed:.0f} s "
        f"(load average {os.getloadavg()[0]:.2f})"
    )
    summarize_backlog(samples, start_count, total, rate_kbit)
    for name, posts in (("A -> B (same way as the backlog)", posts_a), ("B -> A (against it)", posts_b)):
        waits = [
            arrivals[t] - posts.posted[t] if t in arrivals else None for t in sorted(posts.posted, key=posts.posted.get)
        ]
        shown = ", ".join("never" if w is None else f"{w:.1f}" for w in waits)
        done = [w for w in waits if w is not None]
        tail = f"; median {statistics.median(done):.1f} s, max {max(done):.1f} s" if done else ""
        print(f"  short messages {name}: {shown} s{tail}")


def summarize_backlog(samples: list[tuple[float, int, int, int]], start: int, total: int, rate_kbit: float) -> None:
    """Progress while the backlog was syncing (until B held all of it, or to the end of the run)."""
    link_bps = rate_kbit * 1000 / 8
    first = next((s for s in samples if s[1] > start), samples[0])  # the first batch has arrived
    done = next((s for s in samples if s[1] >= total), None)
    end = done or samples[-1]
    span = max(1e-9, end[0] - first[0])
    stored = end[1] - start
    finished = f"all stored after {done[0]:.0f} s" if done else f"{stored} of {total - start} stored in {end[0]:.0f} s"
    entry_bps = (end[2] - first[2]) / span
    print(
        f"  backlog: {finished}, {stored / span * 60:,.0f} entries/min; entry bytes delivered at "
        f"{100 * entry_bps / link_bps:.0f}% of the link rate; A's interface sent {end[3]:,} B, "
        f"{100 * (end[3] - first[3]) / (link_bps * span):.0f}% of the link's capacity (from the first entry stored)"
    )
    per_minute, prev = [], start
    for minute in range(int(end[0] // 60) + 1):
        upto = [s for s in samples if s[0] <= min((minute + 1) * 60, end[0])]
        per_minute.append(upto[-1][1] - prev)
        prev = upto[-1][1]
    print(f"  entries stored in each minute: {per_minute}")


def rate_limit(netns: str, kbit: float) -> None:
    """``NetLab.rate_limit`` for rates with a fraction (9.6 kbit/s): tc is given bit/s."""
    subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            netns,
            "tc",
            "qdisc",
            "replace",
            "dev",
            "eth0",
            "root",
            "tbf",
            "rate",
            f"{round(kbit * 1000)}bit",
            "burst",
            "16kbit",
            "latency",
            "400ms",
        ],
        check=True,
        capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate-kbit", type=float, nargs="+", default=[9.6, 64, 256])
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=120.0, help="at most this long per rate")
    parser.add_argument("--every", type=float, default=20.0, help="seconds between short messages")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meshchat-slowlink-") as tmp:
        for rate in args.rate_kbit:
            run_rate(rate, args.backlog, args.seconds, args.every, Path(tmp))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
