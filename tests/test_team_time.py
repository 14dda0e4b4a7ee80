"""Issue 18 (positions), the clock rule: a node whose wall clock is hours off dates the positions it reports by
the team's time (``ClockCheck.team_time`` through ``Store.team_now``, as its entries' clocks already were),
whether typed in the CLI or on the TUI's map, or read from gpsd.

Before, a member whose laptop ran three hours behind reported a fix dated three hours ago: every teammate's map
showed it "lost" the moment it arrived; and gpsd's sanity check refused good GPS time from a receiver more than
a day from a wrong laptop clock, dating the fix with that wrong clock instead.

The wall clock is injected (tests/clock_helpers.py): no sleeps, no real clock set.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio
from clock_helpers import DAY, HOUR, assert_fresh_on_the_teams_time, latest_fix, team_with_a_member_off, wall_clock_off
from standin_gpsd import StandInGpsd, tpv

from meshchat.cli.main import main
from meshchat.gps import GpsSettings, ReportPolicy
from meshchat.node import NodeConfig
from meshchat.testing import running_node, wait_until


def test_a_position_typed_on_a_laptop_hours_behind_is_dated_by_the_teams_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    founder, slow = team_with_a_member_off(tmp_path, -3 * HOUR)
    with wall_clock_off(monkeypatch, -3 * HOUR):
        assert main(["--home", str(slow), "position", "52.0907", "5.1214"]) == 0
    assert "reported 52.0907" in capsys.readouterr().out
    assert_fresh_on_the_teams_time(latest_fix(founder, slow))


async def test_gpsd_time_is_judged_and_a_missing_one_filled_by_the_teams_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node two days behind: gpsd's good time is kept (it is a day from the laptop's clock, not from the
    team's); a fix without a time is dated by the team's time, not the laptop's."""
    founder, slow = team_with_a_member_off(tmp_path, -2 * DAY)
    gpsd = StandInGpsd()
    policy = ReportPolicy(min_distance_m=0, min_interval_s=0, max_interval_s=0)  # every fix reported
    reported: list[int] = []
    with wall_clock_off(monkeypatch, -2 * DAY):
        async with trio.open_nursery() as outer:
            await outer.start(gpsd.serve)
            config = NodeConfig(
                discovery=False, poll_interval=0.05, gps=GpsSettings("127.0.0.1", gpsd.port, policy, (0.1,))
            )
            async with running_node(slow, config) as node:
                true_now = time.time_ns() // 1_000_000
                await gpsd.wait_for_watcher()
                await gpsd.send(tpv(52.0907, 5.1214, when=datetime.fromtimestamp(true_now / 1000 - 1, UTC)))
                await wait_until(lambda: node.my_position() is not None, 10)
                mine = node.my_position()
                assert mine is not None
                reported.append(mine.fix_ms - true_now)
                await gpsd.send({k: v for k, v in tpv(52.0908, 5.1214).items() if k != "time"})
                await wait_until(lambda: (f := node.my_position()) is not None and f.lat_e7 == 520908000, 10)
                mine = node.my_position()
                assert mine is not None
                reported.append(mine.fix_ms - true_now)
            outer.cancel_scope.cancel()
    assert abs(reported[0] + 1000) < 1000, f"gpsd's time was replaced: {reported[0] / HOUR:+.1f} h"
    assert abs(reported[1]) < 60_000, f"a fix without a time dated {reported[1] / HOUR:+.1f} h off"
    assert_fresh_on_the_teams_time(latest_fix(founder, slow))
