"""Chaos, long form: five nodes in network namespaces write for a few minutes while links are limited to
256 kbit/s, cut and restored at random, and partly run through a fault-injecting proxy (200 ms delay with
jitter, stalls, resets); then every fault is removed and the time until all five hold the same entries is
printed. Needs root (network namespaces). See ``tests/chaos/harness.py``.

    python bench/chaos.py --seconds 120 --posts 100

By default the nodes use the shipped link settings (keepalive 15 s, idle timeout 45 s, redial backoff up to
30 s), so the figure is what a field team would see; ``--quick`` uses the short ones of the CI test.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "chaos"))

from harness import run_chaos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the fault phase")
    parser.add_argument("--posts", type=int, default=100, help="posts per node during the fault phase")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="short keepalive, idle timeout and backoff")
    args = parser.parse_args()
    timing = {} if args.quick else {"backoff_max": 30.0, "keepalive": 15.0, "idle_timeout": 45.0}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        result = run_chaos(
            Path(tmp), fault_seconds=args.seconds, posts=args.posts, seed=args.seed, converge_timeout=300, **timing
        )
    print(
        f"5 nodes, {result.written} posts over {args.seconds:.0f} s of faults ({result.cuts} cuts, "
        f"{result.resets} proxy resets, 256 kbit/s links): converged {result.converge_s:.1f} s after healing "
        f"(views identical, nothing lost or duplicated, seqs contiguous); {time.monotonic() - started:.0f} s in all"
    )


if __name__ == "__main__":
    # SIGTERM (timeout, a CI runner) unwinds like an exception: the lab removes its namespaces and processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
