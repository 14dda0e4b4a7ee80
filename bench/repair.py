"""What the integrity check on open costs, and how long ``meshchat repair --offline`` takes on a damaged store.

    python bench/repair.py --n 100000 --at 0.6

A member's home holding an N-entry history of 8 authors; ``Store.open`` (which runs ``PRAGMA quick_check``)
timed 7 times with the file in the page cache; then a failing disk overwrites 3 pages at fraction ``--at`` of
the file (``meshchat.testing.damage_database``) and ``meshchat repair --offline`` runs as a process. Prints the
median open time, the repair's wall time and what it says (entries readable, damaged parts, entries waiting
behind lost ones). Where the damage lands decides what is lost: pages of an index lose nothing, pages of the
entries table lose the rows on them (and the entries after them in each author's log wait for peers).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from meshchat.profile import STORE_FILE
from meshchat.store import Store
from meshchat.testing import author_home, damage_database, synthetic_history

OPENS = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="entries in the store")
    parser.add_argument("--at", type=float, default=0.6, help="where the damage starts (fraction of the file)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="meshchat-repair-"))
    try:
        team = synthetic_history(args.n, authors=8)
        raws = [e.raw for e in team.all_entries()]
        home = author_home(base / "home", team.members[0], network_key=b"k" * 32, raws=raws)
        db = home / STORE_FILE
        with Store.open(db) as store:
            count = store.count()
            store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        times = []
        for _ in range(OPENS):
            start = time.perf_counter()
            with Store.open(db):
                pass
            times.append(time.perf_counter() - start)
        size = db.stat().st_size / 1e6
        median_ms = statistics.median(times) * 1000
        print(f"{count:,} entries, {size:.0f} MB: Store.open with quick_check, median {median_ms:.0f} ms")
        damage_database(db, at=args.at, pages=3)
        env = {**os.environ, "MESHCHAT_HOME": str(home)}
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "meshchat.cli.main", "repair", "--offline", "--quiet"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.perf_counter() - start
        where = f"3 pages overwritten at {args.at:.0%} of the file"
        print(f"{where}: meshchat repair --offline took {took:.1f} s, exit {done.returncode}")
        for line in done.stdout.splitlines():
            if line.startswith(("from the damaged store", "  ", "the store holds")):
                print(f"  {line.strip()}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
