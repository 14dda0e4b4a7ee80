"""The CPU time a process (or one of its threads) has used, from ``/proc`` (Linux): what the benches charge a
node. Independent of meshchat, so a bench measures any version of it."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User and system CPU seconds of process ``pid``, all its threads, or only its thread ``thread`` (clock
    ticks of 10 ms)."""
    stat = Path(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
