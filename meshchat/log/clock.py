"""Hybrid logical clock, in milliseconds.

Views sort entries by ``(clock, author, seq)``. The clock stays close to wall time, yet an entry written after
seeing another always sorts after it, even when the writer's wall clock runs behind: an answer never shows
before its question. A peer with a clock far in the future cannot drag everyone's clocks along: observed
clocks count only up to ``MAX_DRIFT_MS`` ahead of our own wall time.
"""

from __future__ import annotations

import time

MAX_DRIFT_MS = 5 * 60 * 1000


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def next_clock(*, wall: int, last_own: int, max_seen: int) -> int:
    """The clock for a new own entry: ``max(wall, last_own + 1, max_seen + 1)``, with ``max_seen`` capped at
    ``wall + MAX_DRIFT_MS`` so one bad clock cannot run away with the team's."""
    seen = min(max_seen, wall + MAX_DRIFT_MS)
    return max(wall, last_own + 1, seen + 1)
