"""Crash safety at scale: SIGKILL a node process N times (default 200) in the middle of posting bursts and
catch-up, checking its home after every kill (see ``tests/crash/test_sigkill_node.py`` for what is checked).

    python bench/crash.py --kills 200
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "crash"))

from test_sigkill_node import run_kills


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        figures = run_kills(Path(tmp), args.kills, args.seed)
        elapsed = time.monotonic() - started
    print(
        f"{figures['kills']} SIGKILLs in {elapsed:.0f} s: integrity ok after each, "
        f"{figures['acknowledged']} acknowledged own entries all present, no seq reused, no gaps; "
        f"{figures['source_entries']} entries of the teammate caught up"
    )


if __name__ == "__main__":
    main()
