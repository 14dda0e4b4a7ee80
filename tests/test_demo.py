"""The demo's teammates: the script leaves something in every area, and they answer the person."""

from __future__ import annotations

from pathlib import Path

import trio

from meshchat.demo import Director, SimulatedTeammate, create_demo_home
from meshchat.node import Node, NodeConfig


async def test_the_script_fills_every_area_and_the_teammates_answer(tmp_path: Path) -> None:
    team = create_demo_home(tmp_path / "you")
    node = Node.open(team.home, NodeConfig(discovery=False))
    bo, cy = SimulatedTeammate(team.bo, node), SimulatedTeammate(team.cy, node)
    director = Director(node, bo, cy, pace=0)
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        await director.script()
        views = node.views
        general = node.profile.room("general").room
        posts = views.messages(general)
        assert [node.name_of(m.author) for m in posts][:2] == ["Bo", "Cy"]
        (flash,) = [m for m in posts if m.is_flash]
        assert flash.acked_by == (cy.me,) and [m.id for m in node.unacknowledged()] == [flash.id]
        (incident,) = views.incidents()
        assert incident.get("status") == "active" and incident.get("commander") == "Bo"
        assert incident.get("severity") == 1
        (task,) = views.tasks(incident.obj)
        assert task.get("owner") == cy.me
        (roll,) = views.checkins()
        assert roll.replies[cy.me].status == "safe" and roll.missing == (node.me,)
        assert views.messages(node.profile.room("logistics").room)

        mine = await node.post("general", "Leave the valley floor", flash=True)
        checkin = await node.request_checkin("general", "Everyone safe?")
        await director.respond()
        message = views.message(mine.id)
        assert message is not None and set(message.acked_by) == {bo.me, cy.me}
        (answered,) = [c for c in views.checkins() if c.checkin == checkin]
        assert {k: r.status for k, r in answered.replies.items()} == {bo.me: "safe", cy.me: "safe"}
        await director.respond()  # nothing twice
        assert len(views.message(mine.id).acked_by) == 2  # type: ignore[union-attr]
        nursery.cancel_scope.cancel()
    node.close()
