"""The demo's teammates: real nodes on loopback, peered with yours; the script leaves something in every area,
and they answer the person."""

from __future__ import annotations

import itertools
from pathlib import Path

import trio
import trio.testing

from meshchat.demo import BOIL, LOOPBACK, STAGING, STILL_EVERY_S, WALK_STEPS, create_demo_home, run_teammates
from meshchat.geo.measure import distance_m
from meshchat.geo.point import Point
from meshchat.log.clock import wall_ms
from meshchat.node import Node, NodeConfig
from meshchat.testing import run_cli, wait_until


async def test_the_teammates_fill_every_area_over_loopback_and_answer_the_person(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    team = create_demo_home(tmp_path / "you")
    node = Node.open(team.home, NodeConfig(listen=(LOOPBACK, 0), discovery=False))
    views = node.views
    general = node.profile.room("general").room
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            nursery.start_soon(lambda: run_teammates(team, node, pace=0))
            await wait_until(lambda: len(views.tasks()) == 1 and len(views.messages(general)) >= 7, timeout=20)
            found = {node.name_of(p.peer.key or b""): (p.peer.found_by, p.state) for p in node.peers()}
            assert found == {"Bo": ("static", "live"), "Cy": ("incoming", "live")}
            posts = views.messages(general)
            assert [node.name_of(m.author) for m in posts][:2] == ["Bo", "Cy"]
            (flash,) = [m for m in posts if m.is_flash]
            assert flash.acked_by == (team_key(node, "Cy"),) and [m.id for m in node.unacknowledged()] == [flash.id]
            await wait_until(lambda: views.incidents()[0].get("severity") == 1)
            (incident,) = views.incidents()
            assert incident.get("status") == "active" and incident.get("commander") == "Bo"
            (task,) = views.tasks(incident.obj)
            assert task.get("owner") == team_key(node, "Cy")
            (roll,) = views.checkins()
            assert roll.replies[team_key(node, "Cy")].status == "safe" and roll.missing == (node.me,)
            assert views.messages(node.profile.room("logistics").room)

            # The map is not empty: both teammates report where they are, close together, and Cy walks.
            await wait_until(lambda: len(views.track(team_key(node, "Cy")).fixes) > WALK_STEPS, timeout=20)
            fixes = {node.name_of(f.author): f for f in views.positions()}
            assert set(fixes) == {"Bo", "Cy"} and all(f.source == "gps" and f.accuracy_m < 10 for f in fixes.values())
            bo_at, cy_at = (Point(fixes[n].lat_e7, fixes[n].lon_e7) for n in ("Bo", "Cy"))
            assert distance_m(bo_at, STAGING) < 10 and distance_m(cy_at, BOIL) < 15
            walk = [Point(f.lat_e7, f.lon_e7) for f in views.track(team_key(node, "Cy")).fixes]
            assert distance_m(walk[0], STAGING) < 10 and len(set(walk)) > WALK_STEPS  # a path, not one spot
            assert all(distance_m(a, b) < 60 for a, b in itertools.pairwise(walk))  # walking, never jumping
            assert all(abs(f.fix_ms - wall_ms()) < 5 * 60_000 for f in fixes.values())
            (located,) = [i for i in views.incidents() if i.get("location")]
            where = located.get("location")
            assert isinstance(where, dict) and (where["lat_e7"], where["lon_e7"]) == (BOIL.lat_e7, BOIL.lon_e7)

            mine = await node.post("general", "Leave the valley floor", flash=True)
            checkin = await node.request_checkin("general", "Everyone safe?")

            def answered() -> dict[bytes, str]:
                (mine_roll,) = [c for c in views.checkins() if c.checkin == checkin]
                return {k: r.status for k, r in mine_roll.replies.items()}

            both = {team_key(node, "Bo"), team_key(node, "Cy")}
            await wait_until(lambda: set(views.message(mine.id).acked_by) == both, timeout=10)  # type: ignore[union-attr]
            await wait_until(lambda: answered() == dict.fromkeys(both, "safe"), timeout=10)
            reports = len(views.track(team_key(node, "Bo")).fixes)
            await trio.sleep(60)  # virtual: a minute more of the teammates, and still nothing twice
            assert len(views.track(team_key(node, "Bo")).fixes) - reports <= 60 // STILL_EVERY_S + 1  # no flood
            assert len(views.message(mine.id).acked_by) == 2  # type: ignore[union-attr]
            assert len([e for e in node.profile.store.iter_raw()]) == len(set(node.profile.store.iter_raw()))
            nursery.cancel_scope.cancel()
    finally:
        node.close()
    out = tmp_path / "usb"  # HQ gets the demo team's operation as data, and can check every file of it
    run_cli(team.home, "export", "--out", str(out), "--quiet")
    verified = run_cli(tmp_path / "hq", "verify", str(out), "--quiet").stdout
    assert "VERIFIED" in verified and "entries.jsonl:" in verified and "operation.sqlite:" in verified


def team_key(node: Node, name: str) -> bytes:
    (key,) = [k for k in node.membership.members if node.name_of(k) == name]
    return key
