"""GPS: gpsd's reports read into position reports, the policy of when to report, and a node reading a stand-in
gpsd on 127.0.0.1 whose reports reach a teammate's node; gpsd away or misbehaving ends nothing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio
from standin_gpsd import StandInGpsd, sky, tpv, walk_east

from meshchat.events import GpsStatus
from meshchat.geo.measure import distance_m, moved
from meshchat.geo.point import Point
from meshchat.gps import GpsSettings, ReportPolicy, report_from_tpv
from meshchat.node import Node, NodeConfig
from meshchat.testing import link_nodes, next_event, running_node, team_homes, wait_until

WALL = 1_796_000_000_000
START = Point(520907000, 51214000)


def test_a_tpv_becomes_a_report_with_every_field_checked() -> None:
    when = datetime.fromtimestamp(WALL / 1000 - 2, UTC)
    report = report_from_tpv(tpv(52.0907, 5.1214, when=when, track=359.7, speed=1.42), WALL)
    assert report is not None
    assert (report.lat_e7, report.lon_e7, report.accuracy_m, report.source) == (520907000, 51214000, 7, "gps")
    assert (report.alt_m, report.heading_deg, report.speed_cms, report.fix_ms) == (47, 0, 142, WALL - 2000)
    assert report_from_tpv(tpv(52.0, 5.0, mode=1), WALL) is None  # no fix
    assert report_from_tpv(tpv(52.0, 5.0, mode=2), WALL).alt_m is None  # type: ignore[union-attr]  (2D)
    assert report_from_tpv(tpv(float("nan"), 5.0), WALL) is None
    assert report_from_tpv(tpv(91.0, 5.0), WALL) is None
    assert report_from_tpv({**tpv(52.0, 5.0), "lat": None}, WALL) is None
    assert report_from_tpv(tpv(52.0, 5.0, eph=None, epx=3.0, epy=12.5), WALL).accuracy_m == 13  # type: ignore[union-attr]
    assert report_from_tpv(tpv(52.0, 5.0, eph=None, epx=None, epy=None), WALL) is None  # no error estimate
    odd = report_from_tpv(tpv(52.0, 5.0, speed=-3.0, track="east", altHAE=1e9, eph=True, epx=4.0), WALL)
    assert odd is not None and (odd.speed_cms, odd.heading_deg, odd.alt_m, odd.accuracy_m) == (None, None, None, 5)
    a_year_off = datetime.fromtimestamp(WALL / 1000, UTC) - timedelta(days=365)
    assert report_from_tpv(tpv(52.0, 5.0, when=a_year_off), WALL).fix_ms == WALL  # type: ignore[union-attr]
    assert report_from_tpv(tpv(52.0, 5.0, time="2026-13-45"), WALL).fix_ms == WALL  # type: ignore[union-attr]


def test_the_defaults_keep_a_walking_team_under_one_report_per_30_s() -> None:
    """Ten minutes of walking at 1.4 m/s, a fix a second; then twenty minutes standing still."""
    policy = ReportPolicy()
    reported: list[tuple[float, Point]] = []
    here = START
    for second in range(600):
        if policy.due(reported[-1] if reported else None, float(second), here):
            reported.append((float(second), here))
        here = moved(here, 1.4, 0.0)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(reported)]
    assert min(gaps) >= 30 and 15 <= len(reported) <= 20, (len(reported), gaps)
    assert all(distance_m(a[1], b[1]) >= 50 for a, b in itertools.pairwise(reported))
    last_walked = reported[-1][0]
    for second in range(600, 1800):
        if policy.due(reported[-1], float(second), here):
            reported.append((float(second), here))
    still_here = [t - last_walked for t, _ in reported if t > last_walked]
    assert still_here == [300.0, 600.0, 900.0, 1200.0]  # "still here", every five minutes


async def test_a_node_reports_what_a_stand_in_gpsd_says_and_a_teammate_sees_it(tmp_path: Path) -> None:
    ana_home, bo_home = team_homes(tmp_path, 2)
    gpsd = StandInGpsd()
    policy = ReportPolicy(min_distance_m=50, min_interval_s=0.2, max_interval_s=1.0)  # the defaults, 150 times faster
    async with trio.open_nursery() as outer:
        await outer.start(gpsd.serve)
        config = NodeConfig(
            discovery=False, poll_interval=0.05, gps=GpsSettings("127.0.0.1", gpsd.port, policy, (0.1,))
        )
        async with running_node(ana_home, config) as ana, running_node(bo_home) as bo, trio.open_nursery() as nursery:
            states = ana.events()
            link_nodes(nursery, ana, bo)
            await gpsd.wait_for_watcher()
            assert gpsd.commands[0].startswith('?WATCH={"enable":true,"json":true}')
            await gpsd.send(sky())
            await gpsd.send(tpv(0.0, 0.0, mode=1))  # no fix yet: nothing is reported
            await gpsd.send(tpv(START.lat, START.lon))
            await wait_until(lambda: _seen(bo, ana) == [START], 10)

            # Walking east, 20 m every 50 ms: reports come when 50 m were walked, never closer than 0.2 s. Real
            # time: the node reads gpsd in a worker thread, and stamps each fix with the wall clock.
            path = list(walk_east(START.lat, START.lon, 20.0, 30))
            for lat, lon in path:
                await gpsd.send(tpv(lat, lon))
                await trio.sleep(0.05)
            end = Point.degrees(*path[-1])
            for _ in range(30):  # standing there, a fix every 50 ms: reported as moved, or as "still here"
                await gpsd.send(tpv(end.lat, end.lon))
                await trio.sleep(0.05)  # real time, as above
            await wait_until(lambda: _seen(bo, ana) == [end], 10)
            track = bo.views.track(ana.me).fixes
            assert 4 <= len(track) <= 2 + 60 * 0.05 / 0.2 + 3, len(track)
            for before, after in itertools.pairwise(track):
                apart = distance_m(Point(before.lat_e7, before.lon_e7), Point(after.lat_e7, after.lon_e7))
                assert apart >= 50 or after.clock - before.clock >= 1000 - 50, (apart, after.clock - before.clock)
                assert after.clock - before.clock >= 200 - 50  # never more often than min_interval_s

            # gpsd restarts: the node says so, reconnects, and goes on.
            await gpsd.drop_watchers()
            await next_event(states, GpsStatus, lambda e: e.state == "down", timeout=10)
            await gpsd.wait_for_watcher(2)
            elsewhere = moved(end, 0.0, 5000.0)
            await gpsd.send(tpv(elsewhere.lat, elsewhere.lon))
            await wait_until(lambda: _seen(bo, ana) == [elsewhere], 10)

            # A report that is not JSON, and a line longer than any gpsd report: the connection ends, not the node.
            await gpsd.send_raw(b"garbage that is no report at all\r\n")  # skipped, as gpsdclient skips it
            await gpsd.send_raw(b'{"class":"TPV","lat":52.1,\r\n')
            await next_event(states, GpsStatus, lambda e: e.state == "down", timeout=10)
            await gpsd.wait_for_watcher(3)
            await gpsd.send_raw(b"{" + b"x" * 70_000 + b"}\r\n")
            await next_event(states, GpsStatus, lambda e: e.state == "down", timeout=10)
            await gpsd.wait_for_watcher(4)
            nursery.cancel_scope.cancel()
        outer.cancel_scope.cancel()


async def test_no_gpsd_is_said_and_retried_not_fatal(tmp_path: Path) -> None:
    [home] = team_homes(tmp_path, 1)
    with trio.socket.socket() as unused:  # a port nobody listens on
        await unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    config = NodeConfig(discovery=False, gps=GpsSettings("127.0.0.1", port))
    async with running_node(home, config) as node:
        states = node.events()
        await next_event(states, GpsStatus, lambda e: e.state == "down", timeout=10)
        assert node.gps_status is not None and "127.0.0.1" in node.gps_status.detail
        assert node.views.positions() == []


def _seen(viewer: Node, member: Node) -> list[Point]:
    return [Point(f.lat_e7, f.lon_e7) for f in viewer.views.positions() if f.author == member.me]
