"""Positions in the log: the kinds, who may write them, which is latest, what a fix's time is worth, tracks and
outsiders relayed by a bridge; and the same through a profile (the write path) and between two nodes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from meshchat.log.clock import MAX_DRIFT_MS
from meshchat.log.kinds import BodyError, build_body, parse_body
from meshchat.log.positions import Fix, Report, believed_time, staleness, time_doubtful
from meshchat.log.views import Outsider
from meshchat.profile import Profile, ProfileError
from meshchat.store import Store
from meshchat.store.queries import Views
from meshchat.testing import AuthorLog, TestTeam, link_nodes, running_node, team_homes, wait_until

StoreFor = Callable[..., Store]
FIX = {"lat_e7": 520907000, "lon_e7": 51214000, "accuracy_m": 6, "fix_ms": 1_790_000_100_000}
TAK = {"net": "tak", "uid": "ANDROID-1234", "callsign": "ALPHA-1"}


def report(author: AuthorLog, team: TestTeam, *, lat: int = 520907000, fix_ms: int | None = None, **extra: Any) -> None:
    body = {**FIX, "lat_e7": lat, "fix_ms": team.clock if fix_ms is None else fix_ms, "source": "gps", **extra}
    author.write("position", body, clock=team.tick())


def views_of(team: TestTeam, store_for: StoreFor) -> Views:
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in team.all_entries()])
    return Views(store)


# ---- the kinds ---------------------------------------------------------------------------------------------


def test_a_position_body_is_checked_strictly() -> None:
    good = {**FIX, "source": "gps", "alt_m": 12, "heading_deg": 359, "speed_cms": 140}
    assert parse_body("position", good) == good
    for name, bad in [
        ("lat_e7", 900_000_001),
        ("lon_e7", -1_800_000_001),
        ("lat_e7", 52.0907),  # never a float: the entry format has none
        ("accuracy_m", -1),
        ("heading_deg", 360),
        ("speed_cms", -5),
        ("alt_m", 10**6),
        ("source", "guess"),
        ("fix_ms", -1),
        ("lat_e7", True),
    ]:
        assert parse_body("position", {**good, name: bad}) is None, name
        with pytest.raises(BodyError, match=name):
            build_body("position", **{**good, name: bad})
    assert parse_body("position", {k: v for k, v in good.items() if k != "accuracy_m"}) is None
    assert parse_body("position.clear", {}) == {}
    assert parse_body("position.relay", {**FIX, "via": TAK}) is not None
    assert parse_body("position.relay", {**FIX, "via": {**TAK, "net": "sms"}}) is None
    assert parse_body("position.relay", {**FIX, "via": {**TAK, "callsign": "x" * 41}}) is None


def test_a_relayed_post_is_never_flash_nor_asks_for_acknowledgement(team: TestTeam, store_for: StoreFor) -> None:
    """Outsiders cannot raise an alarm in the team: the rule is in the kind, so no node shows such a post."""
    base = {"room": team.room, "text": "ALL UNITS RETURN", "via": TAK}
    assert parse_body("msg.post", base) is not None
    assert parse_body("msg.post", {**base, "priority": "flash", "ack_required": True}) is None
    assert parse_body("msg.post", {**base, "ack_required": True}) is None
    with pytest.raises(BodyError, match="routine"):
        build_body("msg.post", **base, priority="flash")
    team.post(team.members[0], "relayed", via=TAK)
    team.post(team.members[0], "relayed flash", via=TAK, priority="flash", ack_required=True)
    shown = views_of(team, store_for).messages(team.room)
    assert [(m.text, m.via) for m in shown] == [("relayed", Outsider("tak", "ANDROID-1234", "ALPHA-1"))]


def test_tasks_and_roll_call_answers_carry_coordinates(team: TestTeam, store_for: StoreFor) -> None:
    where = {"text": "pump 3", "lat_e7": 520907000, "lon_e7": 51214000}
    task = b"t" * 16
    team.founder.write("task.open", {"task": task, "title": "Sandbags", "location": where}, clock=team.tick())
    checkin = b"c" * 16
    team.founder.write("checkin.request", {"checkin": checkin, "room": team.room, "question": "ok?"}, clock=team.tick())
    team.members[0].write("checkin.reply", {"checkin": checkin, "status": "safe", "location": where}, clock=team.tick())
    views = views_of(team, store_for)
    assert views.tasks()[0].get("location") == where
    assert views.checkins()[0].replies[team.members[0].key].location == where


# ---- who, and which is latest ------------------------------------------------------------------------------


def test_latest_is_by_the_authors_own_order_not_the_time_it_claims(team: TestTeam, store_for: StoreFor) -> None:
    """A fix dated 2076 stays latest only until its author's next report: it never wins for good."""
    ana = team.members[0]
    report(ana, team, lat=100, fix_ms=3_400_000_000_000)  # 2077, by a wrong (or lying) clock
    views = views_of(team, store_for)
    [latest] = views.positions()
    assert latest.lat_e7 == 100 and latest.doubtful
    report(ana, team, lat=200)
    [latest] = views_of(team, store_for).positions()
    assert latest.lat_e7 == 200 and not latest.doubtful


def test_clearing_hides_a_member_until_its_next_report(team: TestTeam, store_for: StoreFor) -> None:
    ana = team.members[0]
    report(ana, team)
    ana.write("position.clear", {}, clock=team.tick())
    assert views_of(team, store_for).positions() == []
    report(ana, team, lat=300)
    assert [f.lat_e7 for f in views_of(team, store_for).positions()] == [300]
    track = views_of(team, store_for).track(ana.key)
    assert [[f.lat_e7 for f in segment] for segment in track.segments] == [[520907000], [300]]


def test_observers_report_their_position_and_strangers_do_not(team: TestTeam, store_for: StoreFor) -> None:
    observer = team.add_member("observer")
    report(observer, team, lat=1)
    stranger = AuthorLog(TestTeam().founder.identity, team.team_id)
    report(stranger, team, lat=2)
    views = views_of(team, store_for)
    assert [f.author for f in views.positions()] == [observer.key]


def test_a_removed_member_keeps_its_past_and_reports_nothing_after(team: TestTeam, store_for: StoreFor) -> None:
    bo = team.members[1]
    report(bo, team, lat=10)
    team.founder.write("member.remove", {"member": bo.key, "upto_seq": len(bo.entries)}, clock=team.tick())
    report(bo, team, lat=20)
    views = views_of(team, store_for)
    assert [f.lat_e7 for f in views.positions()] == [10]
    assert [f.lat_e7 for f in views.track(bo.key).fixes] == [10]


def test_only_members_relay_and_each_outsider_shows_once(team: TestTeam, store_for: StoreFor) -> None:
    observer = team.add_member("observer")
    gateway, second_gateway = team.members[0], team.members[1]
    relay = {**FIX, "via": TAK}
    gateway.write("position.relay", {**relay, "lat_e7": 1, "fix_ms": team.clock}, clock=team.tick())
    second_gateway.write("position.relay", {**relay, "lat_e7": 2, "fix_ms": team.clock + 5}, clock=team.tick())
    observer.write("position.relay", {**relay, "lat_e7": 3, "fix_ms": team.clock + 9}, clock=team.tick())
    views = views_of(team, store_for)
    [outsider] = views.outsiders()
    assert outsider.lat_e7 == 2 and outsider.via == Outsider("tak", "ANDROID-1234", "ALPHA-1")
    assert views.positions() == []  # an outsider is never shown as a member


# ---- what a fix's time is worth ----------------------------------------------------------------------------


def test_a_fix_is_never_fresher_than_its_receipt() -> None:
    assert believed_time(fix_ms=5_000, received=3_000) == 3_000
    assert believed_time(fix_ms=1_000, received=3_000) == 1_000  # taken, then sent later: as old as it is
    assert believed_time(fix_ms=5_000, received=None) == 5_000  # HQ: no receipt, the claim as it is
    assert time_doubtful(3_000 + MAX_DRIFT_MS + 1, clock=0, received=3_000)
    assert not time_doubtful(3_000 + MAX_DRIFT_MS, clock=0, received=3_000)
    assert time_doubtful(MAX_DRIFT_MS + 1, clock=0, received=None)
    assert believed_time(fix_ms=10**13, received=None, clock=7_000) == 7_000  # nor than its place in the order
    fix = Fix(b"a" * 32, 1, 60_000, 0, 0, 5, None, None, None, "gps", fix_ms=10**13, received=60_000)
    assert fix.age_ms(now=60_000 + STALE_AGE) == STALE_AGE and staleness(fix.age_ms(60_000 + STALE_AGE)) == 2


STALE_AGE = 20 * 60_000


def test_a_node_counts_a_fix_from_when_it_received_it(team: TestTeam, store_for: StoreFor) -> None:
    """A fix claiming to be from 2077, received now: its age on this node runs from its entry's clock at the
    latest (never from its claim), and it is doubtful; a fix taken an hour before it was received is an hour
    old at receipt, as it claims; an entry whose clock is from the future too counts from its receipt."""
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in team.all_entries()])
    ana, bo = team.members
    an_hour_before = team.clock - 3_600_000
    report(ana, team, fix_ms=3_400_000_000_000)
    report(bo, team, fix_ms=an_hour_before)
    received = team.clock + 1000
    for author in (ana, bo):
        assert store.accept(author.entries[-1].raw, now=received).outcome.name == "APPENDED"
    fixes = {f.author: f for f in Views(store).positions()}
    written = ana.entries[-1].clock  # its entry's place in the order, just before its receipt here
    assert fixes[ana.key].time == written and fixes[ana.key].doubtful
    assert fixes[ana.key].age_ms(received + 60_000) == received - written + 60_000
    assert fixes[bo.key].time == an_hour_before and not fixes[bo.key].doubtful
    bo.write("position", {**FIX, "fix_ms": 3_400_000_000_000, "source": "gps"}, clock=3_400_000_000_000)
    store.accept(bo.entries[-1].raw, now=received + 5000)
    fixes = {f.author: f for f in Views(store).positions()}
    assert fixes[bo.key].time == received + 5000 and fixes[bo.key].doubtful


def test_hq_counts_a_fix_from_the_future_from_when_the_team_held_it(team: TestTeam, store_for: StoreFor) -> None:
    """Where nothing records a receipt (an HQ archive), a fix and its entry both dated 2076 count from when the
    other members' heads entries show they held it (its effective clock), and the fix is doubtful; before any
    witness, the claim stands as it is."""
    ana, bo = team.members
    future = 3_345_000_000_000
    ana.write("position", {**FIX, "fix_ms": future, "source": "gps"}, clock=future)
    store = store_for(team.team_id)
    store.set_meta("receipts", "off")
    store.accept_batch([e.raw for e in team.all_entries()])
    [alone] = Views(store).positions()
    assert alone.received is None and alone.time == future and not alone.doubtful
    held = team.clock + 1000
    for witness in (bo, team.founder):
        named = {ana.key: [ana.entries[-1].seq, ana.entries[-1].id]}
        witness.write("heads", {"heads": named}, clock=team.tick())
    store.accept_batch([e.raw for e in team.all_entries()])
    [witnessed] = Views(store).positions()
    assert witnessed.clock == team.clock and witnessed.time == team.clock and witnessed.doubtful
    assert held <= witnessed.time < future


def test_the_scale_of_staleness() -> None:
    assert [staleness(m * 60_000) for m in (0, 2, 3, 15, 16, 60, 61)] == [0, 0, 1, 1, 2, 2, 3]


# ---- the write path and the network ------------------------------------------------------------------------


def test_the_profile_writes_what_takes_effect(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    with Profile.init(home, "Flood", display_name="Ana") as ana:
        ana.report_position(Report(520907000, 51214000, 6, fix_ms=1_790_000_000_000, source="gps", speed_cms=140))
        mine = ana.my_position()
        assert mine is not None and (mine.lat_e7, mine.speed_cms, mine.source) == (520907000, 140, "gps")
        with pytest.raises(ProfileError, match="lat_e7"):
            ana.report_position(Report(900_000_001, 0, 6, fix_ms=0))
        ana.clear_position()
        assert ana.my_position() is None
        ana.relay_post(ana.room("general").room, "hello from outside", Outsider("tak", "A-1", "ALPHA"))
        [msg] = ana.views.messages(ana.room("general").room)
        assert msg.author == ana.me and msg.via == Outsider("tak", "A-1", "ALPHA") and msg.priority == "routine"


async def test_a_position_reaches_the_other_node(tmp_path: Path) -> None:
    ana_home, bo_home = team_homes(tmp_path, 2)
    async with running_node(ana_home) as ana, running_node(bo_home) as bo, trio.open_nursery() as nursery:
        link_nodes(nursery, ana, bo)
        await ana.report_position(Report(520907000, 51214000, 6, fix_ms=1_790_000_000_000))
        await wait_until(lambda: [f.author for f in bo.views.positions()] == [ana.me])
        await ana.clear_position()
        await wait_until(lambda: bo.views.positions() == [])
        nursery.cancel_scope.cancel()
