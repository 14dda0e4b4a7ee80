"""Hybrid logical clock, in milliseconds.

Views sort entries by ``(clock, author, seq)``. The clock stays close to wall time, yet an entry written after
seeing another always sorts after it, even when the writer's wall clock runs behind: an answer never shows
before its question. A peer with a clock far in the future cannot drag everyone's clocks along: observed
clocks more than ``MAX_DRIFT_MS`` ahead of our own wall time are ignored (where such an entry sits is decided by
the team's evidence: ``meshchat.log.timing``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


# ---- is our own clock off? ------------------------------------------------------------------------------------
#
# A node cannot see its own clock is wrong by looking at it; the team's clocks tell it. Two kinds of evidence,
# each one no single member can fake:
# - Behind: an entry that reaches us at our wall clock ``r`` claims clock ``c``; the delay on the way only makes
#   ``c - r`` smaller, so the largest ``c - r`` over a member's recent entries is at most how far that member's
#   clock is ahead of ours. When more than half of the members heard from recently, two or more, are ahead by
#   more than the drift bound, it is our clock that is behind (one member with a fast clock cannot say so).
# - Ahead: our entries are placed by the team's witnesses (``meshchat.log.timing``): when most of them held one
#   of our entries well before its clock, ours is ahead. Late arrivals prove nothing (an entry may wait a day
#   on a laptop), which is why "ahead" is not read from receipts.
# A node whose clock is off warns its person and writes with the team's time (``ClockCheck.team_time``).

CLOCK_SAMPLE_MS = 30 * 60 * 1000  # receipts this recent say what the team's clocks read now
MIN_CLOCK_WITNESSES = 2  # members whose clocks must agree before ours is called behind


@dataclass(frozen=True, slots=True)
class ClockCheck:
    """What the team's clocks say of ours. ``offset``: add it to our wall clock to be on the team's time (0:
    within the drift bound, or too little evidence); ``members``: how many members' clocks the verdict of
    "behind" rests on (0 for "ahead", which rests on the witnesses of our own entries)."""

    offset: int = 0
    members: int = 0

    @property
    def off(self) -> bool:
        return self.offset != 0

    def team_time(self, wall: int) -> int:
        """Our wall clock reading ``wall``, on the team's time: what a node writes with (an entry's clock, a
        position's fix time, the sanity bound on a GPS's time), so a laptop hours behind neither writes into
        the past nor calls its teammates' fresh fixes old."""
        return wall + self.offset

    def warning(self) -> str | None:
        """The warning a person is shown (CLI, node log, TUI), or None when the clock is fine."""
        if self.offset > 0:
            return (
                f"This computer's clock is about {duration_text(self.offset)} behind the team's ({self.members} "
                "members' clocks agree): meshchat writes with the team's time; please set the clock right"
            )
        if self.offset < 0:
            return (
                f"This computer's clock is about {duration_text(-self.offset)} ahead of the team's (the team held "
                "your entries that much before the time they claim): they are shown at the team's time; please "
                "set the clock right"
            )
        return None


def clock_check(ahead_of_receipt: Mapping[bytes, int], moved_by_witnesses: int | None = None) -> ClockCheck:
    """Judge our clock. ``ahead_of_receipt``: for each other member heard from recently, the largest
    ``clock - receipt`` over its recent entries; ``moved_by_witnesses``: for our latest entry the team's
    witnesses place, where they place it minus the clock it claims (``None``: none placed)."""
    values = sorted(ahead_of_receipt.values())
    if len(values) >= MIN_CLOCK_WITNESSES:
        agreed = values[(len(values) - 1) // 2]  # more than half of the members are at least this far ahead
        if agreed > MAX_DRIFT_MS:
            return ClockCheck(agreed, sum(1 for v in values if v >= agreed))
    if moved_by_witnesses is not None and moved_by_witnesses < -MAX_DRIFT_MS:
        return ClockCheck(moved_by_witnesses, 0)
    return ClockCheck()


def duration_text(ms: int) -> str:
    """A rough span as a person says it: ``12 min``, ``3 h``, ``1 day``, ``4 days``."""
    minutes = round(ms / 60_000)
    if minutes < 90:
        return f"{minutes} min"
    hours = round(ms / 3_600_000)
    if hours < 20:
        return f"{hours} h"
    days = round(ms / 86_400_000)
    return f"{days} day{'s' if days != 1 else ''}"
