"""A member whose wall clock is off, for the tests of the team's time (tests/test_team_time.py and the map's):
the clock is injected (``meshchat.log.clock.time``, which ``wall_ms`` reads), never set, never slept on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import meshchat.log.clock as clock_module
from meshchat.log.clock import wall_ms
from meshchat.log.positions import Fix, staleness
from meshchat.profile import Profile
from meshchat.testing import team_homes

HOUR = 3_600_000
DAY = 24 * HOUR


class _OffsetTime:
    """Stands in for the ``time`` module in ``meshchat.log.clock``: a wall clock ``offset_ms`` off."""

    def __init__(self, offset_ms: int) -> None:
        self.offset_ns = offset_ms * 1_000_000

    def time_ns(self) -> int:
        return time.time_ns() + self.offset_ns


@contextmanager
def wall_clock_off(monkeypatch: pytest.MonkeyPatch, offset_ms: int) -> Iterator[None]:
    """This process's wall clock (``meshchat.log.clock.wall_ms``) reads ``offset_ms`` off, for the block."""
    with monkeypatch.context() as patch:
        patch.setattr(clock_module, "time", _OffsetTime(offset_ms))
        yield


def team_with_a_member_off(tmp_path: Path, offset_ms: int) -> tuple[Path, Path]:
    """``(founder's home, the member's)``: the member's node holds two teammates' posts, stamped as received by
    its own clock, ``offset_ms`` off: the evidence its node reads its clock by (``meshchat.log.clock``)."""
    founder, member, other = team_homes(tmp_path, 3)
    raws = teammates_posts(founder, other)
    with Profile.open(member) as profile:
        profile.store.accept_batch(raws, now=wall_ms() + offset_ms)
    return founder, member


def teammates_posts(*homes: Path) -> list[bytes]:
    """Each of ``homes`` posts once; their raw entries, as a third member's node would receive them."""
    raws: list[bytes] = []
    for home, text in zip(homes, ("levee holding", "sandbags at the school", "pump 2 running"), strict=False):
        with Profile.open(home) as profile:
            profile.post("general", text)
            raws += list(profile.store.iter_raw())
    return raws


def latest_fix(viewer_home: Path, author_home: Path) -> Fix:
    """``author``'s latest position as ``viewer``'s node shows it, once it holds what ``author`` wrote."""
    with Profile.open(author_home) as author:
        raws, me = list(author.store.iter_raw()), author.me
    with Profile.open(viewer_home) as viewer:
        viewer.store.accept_batch(raws)
        return next(f for f in viewer.views.positions() if f.author == me)


def assert_fresh_on_the_teams_time(fix: Fix) -> None:
    now = wall_ms()
    assert abs(fix.fix_ms - now) < 60_000, f"dated {(fix.fix_ms - now) / HOUR:+.1f} h from the team's time"
    assert staleness(fix.age_ms(now)) == 0 and not fix.doubtful
