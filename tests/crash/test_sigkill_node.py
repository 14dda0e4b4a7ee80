"""Crash safety at scale: a node process is killed (SIGKILL) again and again in the middle of posting bursts
and catching up from a teammate. After every kill: the database passes SQLite's integrity check, no own entry
whose ``post`` returned is lost, the node never reuses one of its own seqs (no self-fork), and every log it
holds is contiguous.

``MESHCHAT_CRASH_KILLS`` sets the number of kills (default 15 here; ``bench/crash.py`` runs 200).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from meshchat.profile import Profile
from meshchat.testing import team_homes

WORKER = str(Path(__file__).parent / "worker.py")
KILLS = int(os.environ.get("MESHCHAT_CRASH_KILLS", "15"))


def run_kills(base: Path, kills: int, seed: int = 0) -> dict[str, int]:
    """Kill the worker ``kills`` times; check the victim's home after each. Returns figures for the report."""
    rng = random.Random(seed)
    victim_home, source_home = team_homes(base, 2)[::-1]  # the member is killed; the founder is its source
    acknowledged: dict[int, str] = {}
    figures = {"kills": 0, "acknowledged": 0, "source_entries": 0}
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, WORKER, str(victim_home), str(source_home)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the node is up and has posted once
        assert first, f"worker died before posting (exit {proc.wait()})"
        lines = [first]
        deadline = time.monotonic() + rng.uniform(0.0, 0.6)
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        lines.extend(proc.stdout.read().splitlines(keepends=True))  # acknowledged before the kill, still buffered
        for line in lines:
            if not line.endswith("\n"):
                continue  # cut off by the kill mid-print: not an acknowledgement the test saw
            seq, entry_id = line.split()
            assert int(seq) not in acknowledged, f"own seq {seq} was used twice (a self-fork)"
            acknowledged[int(seq)] = entry_id
        figures["kills"] += 1
        check_home(victim_home, acknowledged)
    with Profile.open(source_home) as source, Profile.open(victim_home) as victim:
        figures["acknowledged"] = len(acknowledged)
        held = victim.store.head(source.me)
        figures["source_entries"] = held.seq if held else 0
    return figures


def check_home(home: Path, acknowledged: dict[int, str]) -> None:
    with Profile.open(home) as profile:
        store = profile.store
        assert store.integrity_check() == "ok"
        assert store.forked_authors() == {}, "a fork appeared"
        for seq, entry_id in acknowledged.items():
            entry = store.entry(profile.me, seq)
            assert entry is not None, f"acknowledged own entry #{seq} was lost"
            assert entry.id.hex() == entry_id, f"own entry #{seq} changed"
        for author, head in store.heads().items():
            held = store.entries_after(author, 0, limit=1_000_000)
            assert len(held) == head.seq, "a log with a gap"


def test_sigkill_during_bursts_and_catch_up(tmp_path: Path) -> None:
    figures = run_kills(tmp_path, KILLS)
    assert figures["kills"] == KILLS
    assert figures["acknowledged"] >= KILLS  # every start posted at least once
    assert figures["source_entries"] > 200  # the teammate's backlog and live posts came in between kills
