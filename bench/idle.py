"""Idle cost: a headless node with 5 linked peers and no traffic, for 60 s. Prints its CPU use and memory.

    python bench/idle.py --seconds 60

Six members of one team on loopback (no discovery: nothing multicasts on the machine's interfaces). The
measured node is a ``meshchat node`` process listening on 127.0.0.1; five more ``meshchat node`` processes
dial it. After a warm-up (links up, initial sync done), the measured process's CPU time (``/proc/PID/stat``:
user + system) is read over the window, and its resident memory (``VmRSS``, peak ``VmHWM``) at the end.
Goals: under 1% of one core and under 80 MB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from lab_cpu import cpu_seconds
from sync import free_port, node_process

from meshchat.testing import team_homes

PEERS = 5


def memory_mb(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        homes = team_homes(Path(tmp), PEERS + 1)
        port = free_port()
        measured = stack.enter_context(node_process(homes[0], port))
        for home in homes[1:]:
            stack.enter_context(node_process(home, free_port(), port))
        time.sleep(args.warmup)
        peers = subprocess.run(
            [sys.executable, "-m", "meshchat.cli.main", "--home", str(homes[0]), "peers"],
            capture_output=True,
            check=False,
            text=True,
        ).stdout
        before, started = cpu_seconds(measured.pid), time.monotonic()
        time.sleep(args.seconds)
        used, elapsed = cpu_seconds(measured.pid) - before, time.monotonic() - started
        memory = memory_mb(measured.pid)
    print(peers.strip())
    print(
        f"idle node with {PEERS} peers, {elapsed:.0f} s: CPU {100 * used / elapsed:.2f}% of one core "
        f"({used:.2f} s), RSS {memory['VmRSS']:.1f} MB (peak {memory['VmHWM']:.1f} MB)"
    )


if __name__ == "__main__":
    main()
