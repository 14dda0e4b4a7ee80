"""A node killed (SIGKILL) mid-write loses no entry whose write returned, and never reuses a seq."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshchat.profile import Profile

WRITER = """
import sys
from pathlib import Path
from meshchat.profile import Profile
profile = Profile.open(Path(sys.argv[1]))
i = 0
while True:
    entry = profile.post("general", f"burst {i} " + "x" * 200)
    print(entry.seq, entry.id.hex(), flush=True)  # printed only once the write has returned
    i += 1
"""


@pytest.mark.parametrize("round_", range(5))
def test_sigkill_mid_write_loses_nothing_acknowledged(tmp_path: Path, round_: int) -> None:
    home = tmp_path / "home"
    Profile.init(home, "Crash test").close()
    acknowledged: dict[int, str] = {}
    for _ in range(3):  # kill the same home several times
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(home)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        wanted = len(acknowledged) + 20 + round_ * 7
        while len(acknowledged) < wanted and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seq, entry_id = line.split()
            assert int(seq) not in acknowledged, "a seq was reused"
            acknowledged[int(seq)] = entry_id
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with Profile.open(home) as profile:
            assert profile.store.integrity_check() == "ok"
            for seq, entry_id in acknowledged.items():
                entry = profile.store.entry(profile.me, seq)
                assert entry is not None and entry.id.hex() == entry_id
    assert len(acknowledged) >= 60
