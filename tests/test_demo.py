"""The demo's teammates: real nodes on loopback, peered with yours; the script leaves something in every area,
and they answer the person."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from meshchat.demo import LOOPBACK, create_demo_home, run_teammates
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

            mine = await node.post("general", "Leave the valley floor", flash=True)
            checkin = await node.request_checkin("general", "Everyone safe?")

            def answered() -> dict[bytes, str]:
                (mine_roll,) = [c for c in views.checkins() if c.checkin == checkin]
                return {k: r.status for k, r in mine_roll.replies.items()}

            both = {team_key(node, "Bo"), team_key(node, "Cy")}
            await wait_until(lambda: set(views.message(mine.id).acked_by) == both, timeout=10)  # type: ignore[union-attr]
            await wait_until(lambda: answered() == dict.fromkeys(both, "safe"), timeout=10)
            await trio.sleep(60)  # virtual: a minute more of the teammates, and still nothing twice
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
