"""Issue 12.2, the other side: an honest member whose laptop clock is wrong is never silenced.

A member a day behind used to post into nothing: its entries carried clocks before its own admission, every
node stored them and showed none, not even its own ``meshchat log``, while the CLI printed "posted". Now the
team's clocks tell its node that its clock is off (``meshchat.log.clock.clock_check``): it warns and writes with
the team's time. With too few members to tell, its first role still holds from its first entry
(tests/test_admin_rules.py) and its messages show, marked with their doubtful time.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from clock_helpers import DAY, team_with_a_member_off

from meshchat.log.clock import MAX_DRIFT_MS, ClockCheck, clock_check, wall_ms
from meshchat.profile import Profile
from meshchat.store.queries import Views
from meshchat.testing import run_cli

FAKETIME_LIB = next(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"), Path("/no/libfaketime"))


def meshchat_a_day_behind(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``meshchat ARGS`` in a process whose wall clock reads a day behind (libfaketime)."""
    faked = {"LD_PRELOAD": str(FAKETIME_LIB), "FAKETIME": "-1d", "DONT_FAKE_MONOTONIC": "1"}
    return run_cli(home, *args, env=faked)


@pytest.mark.skipif(not FAKETIME_LIB.exists(), reason="needs libfaketime (.ci/run installs it)")
def test_a_member_a_day_slow_is_heard_and_told_its_clock_is_off(tmp_path: Path) -> None:
    founder_home, slow_home = team_with_a_member_off(tmp_path, -DAY)  # what it received, stamped by its clock

    posted = meshchat_a_day_behind(slow_home, "post", "general", "pump 3 is down")
    assert "posted" in posted.stdout
    assert "clock is about 1 day behind the team's (2 members' clocks agree)" in posted.stderr
    log = meshchat_a_day_behind(slow_home, "log", "general").stdout
    assert "pump 3 is down" in log, "its own node shows what it posted"

    with Profile.open(slow_home) as slow:
        own = list(slow.store.iter_raw())
    with Profile.open(founder_home) as founder:
        founder.store.accept_batch(own)
        shown = Views(founder.store).messages(founder.room("general").room)
        assert shown[-1].text == "pump 3 is down", "written with the team's time: after what it had seen"
        assert shown[-1].time_doubt is None
        assert abs(shown[-1].clock - wall_ms()) < 60_000


def test_one_member_ahead_does_not_make_ours_behind() -> None:
    """One fast clock (or one liar) is that member's problem: it takes more than half of those heard from."""
    assert clock_check({b"fast": DAY}) == ClockCheck()
    assert clock_check({b"fast": DAY, b"b": 1_000, b"c": -2_000}) == ClockCheck()
    assert clock_check({b"a": DAY, b"b": DAY - 60_000, b"c": 0}) == ClockCheck(DAY - 60_000, 2)
    late = {b"a": -DAY, b"b": -3 * DAY}  # entries that waited on a laptop: late delivery proves nothing
    assert clock_check(late) == ClockCheck()


def test_a_clock_ahead_is_told_by_the_witnesses_of_its_entries() -> None:
    assert clock_check({}, -3 * 3_600_000).offset == -3 * 3_600_000
    assert "3 h ahead" in (clock_check({}, -3 * 3_600_000).warning() or "")
    assert clock_check({}, -MAX_DRIFT_MS + 1) == ClockCheck()
