"""Files between two nodes on loopback: throughput beside a raw copy of the same file over TCP, and text
latency meanwhile.

    python bench/blobs.py                 # one 100 MB file
    python bench/blobs.py --mb 20 --repeat 3

Node A (a process: ``bench/lab_node.py``) holds a message with a ``--mb`` MB file of random bytes; node B
(this process) starts empty, with an auto-fetch limit above the file's size, and dials A: real TCP on
127.0.0.1, real handshake and encryption, the file's chunks checked and written by B's blob store. While the
file crosses, A posts a short text message every ``--every`` seconds; B notes when each arrives.

Printed, per run:

- the file's rate over the whole time from B's start to the file whole, checked and durable on B's disk
  (B's node starting, the handshake and the message that carries the file included), and over the time from
  that message's arrival at B (the file alone: what a person waiting for the photo sees);
- in the same run, the baseline: a raw copy of the same file over TCP between two processes on loopback, what
  ``cat file | nc`` and ``nc > file; sync`` would do: the sender reads the file (from the page cache, as A
  does) and sends it, the receiver here writes it and fsyncs it, timed from the connection (the start of a
  Python process is not a copy). Not a memory-to-memory socket blast: that copies no file;
- in the same run, the floor (``bench/floor.py``): the same file moved with only the work issue 17 requires
  (sealed, opened, hashed, written, fsynced) in lean Python with no protocol, XChaCha20-Poly1305 with two
  receiver threads (what a node is: a trio thread and a storing worker). No node can pass it on this machine,
  so the node's ratio to it is the share of the gap that is the node's own;
- both ratios to the raw copy (the goal of issue 17 is at least 0.5), and the ratio to the floor;
- the latency of the text messages posted while the file crossed (p50, p99, max: from just before A's post,
  which includes its durable write, until B's node announced it; the goal: p99 under 50 ms);
- the CPU time (user and system) each node spent during B's run, per 100 MB, all threads and the trio thread
  alone: on two cores, what the busy threads (A's, B's trio thread, B's worker) cost together bounds the rate
  as much as the busiest one does, and a thread well under the run's seconds is not the limit. (A sampling
  profiler counts a thread waiting for the GIL as busy; these do not.)

Before the raw copy, the floor and the nodes' run the disk's dirty pages are written out (``sync``): without
that, the second and third of ``--repeat 3`` paid for the writes of the runs before (the raw copy fell from
~1,100 to ~300 MB/s, the file from ~170 to ~120 MB/s).

Last line: ``file_mb_s=<n> file_alone_mb_s=<n> raw_mb_s=<n> ratio=<n> ratio_alone=<n> text_p99_ms=<n>
cpu_a_s=<n> cpu_a_trio_s=<n> cpu_b_s=<n> cpu_b_trio_s=<n> floor_mb_s=<n> ratio_floor=<n>`` (CPU seconds per
100 MB, of each process and of its trio thread; ``ratio_floor``: the file's rate from the message's arrival
over the floor's; medians over the runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio
from floor import floor_rate, raw_copy
from lab_cpu import cpu_seconds
from lab_events import Posts

from meshchat.blobs.attach import attach_files
from meshchat.blobs.settings import BlobSettings
from meshchat.blobs.store import BlobStore
from meshchat.events import AttachmentsChanged, EntriesAdded
from meshchat.log.attachments import Attachment
from meshchat.node import NodeConfig
from meshchat.profile import Profile
from meshchat.testing import running_node, team_homes

HERE = Path(__file__).resolve().parent
MB = 1_000_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def fetch(b_home: Path, port: int, file: Attachment, go: Path) -> tuple[float, float, float, dict[str, float]]:
    """B's side: (start wall, done wall, seconds, {text: arrival wall}). The file is whole when its state
    says so (``AttachmentsChanged`` for a finished file comes at once, not at the next progress tick).

    The bench's own listener runs in B's trio thread, so it costs what it reads: for each batch of posts it
    reads only the newest ``count`` messages, those the batch added (A posts in order). Reading the last 50 on
    every batch cost B 0.08 s of CPU per 100 MB, the bench's cost, not the node's."""
    config = NodeConfig(peers=(("127.0.0.1", port),), discovery=False, poll_interval=0.05)
    arrived: dict[str, float] = {}
    started_wall = time.time()
    started = time.perf_counter()
    go.touch()  # A starts posting now
    async with running_node(b_home, config) as node:
        events = node.events(buffer=0)
        room = node.profile.room("general").room
        with trio.fail_after(900):
            async for event in events:
                if isinstance(event, EntriesAdded) and not event.local and "msg.post" in event.kinds:
                    now = time.time()
                    for msg in node.views.messages(room, limit=event.count):  # the newest: those just added
                        arrived.setdefault(msg.text, now)
                if isinstance(event, AttachmentsChanged) and node.file_state(file).here:
                    break
        seconds = time.perf_counter() - started
        done_wall = time.time()
        assert node.blobs.has(file.blob)
    return started_wall, done_wall, seconds, arrived


def node_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of process ``pid``: all its threads, and its main thread (where a node's trio loop runs)."""
    return cpu_seconds(pid), cpu_seconds(pid, thread=pid)


Cpu = tuple[float, float, float, float]  # A's process, A's trio thread, B's process, B's trio thread
Run = tuple[float, float, float, list[float], Cpu, float]


def one_run(work: Path, size: int, every: float) -> Run:
    """(MB/s from B's start, MB/s from the message's arrival, raw copy MB/s, text latencies in ms, CPU seconds
    per 100 MB, the floor's MB/s)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    a_home, b_home = team_homes(work, 2)
    data_path = work / "survey.bin"
    data_path.write_bytes(os.urandom(size))
    with Profile.open(a_home) as a:
        (file,) = attach_files(BlobStore.of_home(a_home), [data_path], max_size=size + 1, text="survey")
        a.post("general", "the survey", files=[file])
    with Profile.open(b_home) as b:
        BlobSettings(max_attach=size + 1, auto_fetch=size + 1).save(b.store)

    os.sync()  # the dirty pages of the file just made (and of the run before) are not this run's to write
    raw_s = raw_copy(data_path, work / "raw.copy")
    os.sync()
    floor = floor_rate(data_path, work / "floor.copy", cipher="xchacha", threads=2)
    (work / "raw.copy").unlink()
    (work / "floor.copy").unlink()
    os.sync()

    port = free_port()
    go = work / "go"
    spec = {
        "home": str(a_home),
        "listen": f"127.0.0.1:{port}",
        "go": str(go),
        "posts": int(120 / every),
        "interval": every,
    }
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "lab_node.py"), json.dumps(spec)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        posts = Posts(proc)
        if not posts.up.wait(30):
            raise RuntimeError("node A did not start")
        cpu_before = (*node_cpu(proc.pid), *node_cpu(os.getpid()))
        start, done, file_s, arrived = trio.run(fetch, b_home, port, file, go)
        cpu_after = (*node_cpu(proc.pid), *node_cpu(os.getpid()))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    during = [
        (arrived[text] - wall) * 1000
        for text, wall in posts.posted.items()
        if start <= wall <= done and text in arrived
    ]
    lost = [t for t, wall in posts.posted.items() if start <= wall <= done - 1.0 and t not in arrived]
    if lost:
        print(f"  {len(lost)} messages posted during the transfer had not arrived when it ended", flush=True)
    alone_s = done - arrived["the survey"]
    spent = [after - before for before, after in zip(cpu_before, cpu_after, strict=True)]
    a, a_trio, b, b_trio = (seconds * 100 * MB / size for seconds in spent)
    return size / MB / file_s, size / MB / alone_s, size / MB / raw_s, during, (a, a_trio, b, b_trio), floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=100, help="the file's size in MB (default 100)")
    parser.add_argument("--every", type=float, default=0.02, help="seconds between A's text messages (0.02)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="meshchat-blobs-bench-"))
    print(f"load before: {os.getloadavg()[0]:.2f}", flush=True)
    results = []
    try:
        for run in range(args.repeat):
            result = one_run(work / f"run{run}", args.mb * MB, args.every)
            results.append(result)
            file_rate, alone_rate, raw_rate, latencies, (a_cpu, a_trio, b_cpu, b_trio), floor = result
            p50 = statistics.median(latencies) if latencies else float("nan")
            print(
                f"run {run + 1}: file {args.mb} MB at {file_rate:.1f} MB/s from B's start, {alone_rate:.1f} MB/s "
                f"from its message's arrival; raw file copy over TCP {raw_rate:.1f} MB/s; ratios "
                f"{file_rate / raw_rate:.2f} and {alone_rate / raw_rate:.2f}; the floor {floor:.1f} MB/s, ratio "
                f"{alone_rate / floor:.2f}; {len(latencies)} texts during it: "
                f"p50 {p50:.1f} ms, p99 {_p99(latencies):.1f} ms, max {max(latencies, default=float('nan')):.1f} ms; "
                f"CPU per 100 MB: A {a_cpu:.2f} s (trio thread {a_trio:.2f}), "
                f"B {b_cpu:.2f} s (trio thread {b_trio:.2f})",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    file_rate, alone_rate, raw_rate, floor = (statistics.median(r[k] for r in results) for k in (0, 1, 2, 5))
    a_cpu, a_trio, b_cpu, b_trio = (statistics.median(r[4][k] for r in results) for k in range(4))
    p99 = _p99([x for r in results for x in r[3]])
    print(f"load after: {os.getloadavg()[0]:.2f}")
    print(
        f"file_mb_s={file_rate:.1f} file_alone_mb_s={alone_rate:.1f} raw_mb_s={raw_rate:.1f} "
        f"ratio={file_rate / raw_rate:.2f} ratio_alone={alone_rate / raw_rate:.2f} text_p99_ms={p99:.1f} "
        f"cpu_a_s={a_cpu:.2f} cpu_a_trio_s={a_trio:.2f} cpu_b_s={b_cpu:.2f} cpu_b_trio_s={b_trio:.2f} "
        f"floor_mb_s={floor:.1f} ratio_floor={alone_rate / floor:.2f}"
    )


def _p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100, method="inclusive")[98] if len(latencies) >= 2 else float("nan")


if __name__ == "__main__":
    main()
