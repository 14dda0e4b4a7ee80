"""Hybrid logical clock, in milliseconds.

Views sort entries by ``(clock, author, seq)``. The clock stays close to wall time, yet an entry written after
seeing another always sorts after it, even when the writer's wall clock runs behind: an answer never shows
before its question. A peer with a clock far in the future cannot drag everyone's clocks along: observed
clocks more than ``MAX_DRIFT_MS`` ahead of our own wall time are ignored (where such an entry sits is decided by
the team's evidence: ``meshchat.log.timing``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

MAX_DRIFT_MS = 5 * 60 * 1000


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def next_clock(*, wall: int, last_own: int, seen: Iterable[int]) -> int:
    """The clock for a new own entry: ``max(wall, last_own + 1, newest + 1)``, ``newest`` the latest clock seen
    that is at most ``MAX_DRIFT_MS`` ahead of ``wall``: a clock beyond that is ignored, so one bad clock cannot
    run away with the team's (nor hold everyone's a few minutes ahead for as long as it is the newest)."""
    newest = max((c for c in seen if c <= wall + MAX_DRIFT_MS), default=0)
    return max(wall, last_own + 1, newest + 1)


def calls_for_witness(newest_claim: int | None, oldest_heads: int | None, wall: int) -> bool:
    """Whether entries of other members just stored call for a ``heads`` entry of ours soon (see
    ``meshchat.log.timing``): one claims a clock more than the drift bound ahead of our wall clock (the team's
    heads entries are what place it when it really arrived), or a ``heads`` entry claims a clock that far
    behind (a witness with a slow or backdated clock: more witnesses outvote it)."""
    ahead = newest_claim is not None and newest_claim > wall + MAX_DRIFT_MS
    behind = oldest_heads is not None and oldest_heads < wall - MAX_DRIFT_MS
    return ahead or behind
