"""Node.last_heard and Node.flash_status: when a node last heard from each member, and by which path, so the
FLASH rule can tell silent members from unreachable ones (issue 14.5)."""

from __future__ import annotations

from pathlib import Path

import trio

from meshchat.log.clock import wall_ms
from meshchat.log.flash import FLASH_ACK_DEADLINE_MS, UNREACHABLE_AFTER_MS
from meshchat.node import Node, NodeConfig
from meshchat.testing import link_nodes, team_homes, wait_until


async def test_a_member_is_heard_over_a_link_through_a_relay_or_only_in_the_log(tmp_path: Path) -> None:
    homes = team_homes(tmp_path, 4)
    ana, bo, cy, dee = (Node.open(h, NodeConfig(discovery=False, poll_interval=0.05)) for h in homes)
    try:
        async with trio.open_nursery() as nursery:
            for node in (ana, bo, cy, dee):
                await nursery.start(node.run)
            before = wall_ms()
            link_nodes(nursery, ana, bo)  # Ana - Bo - Cy; Dee stays apart
            link_nodes(nursery, bo, cy)
            flash = await ana.post("general", "Evacuate sector 4", flash=True)
            await cy.post("general", "Cy here")
            await wait_until(lambda: any(m.text == "Cy here" for m in ana.views.messages(ana.views.rooms()[0].room)))
            heard = ana.last_heard()
            assert heard[bo.me].path == "link" and heard[bo.me].at_ms >= before and heard[bo.me].address == "memory"
            assert heard[cy.me].path == "relay" and heard[cy.me].via == bo.me and heard[cy.me].at_ms >= before
            assert dee.me not in heard  # never wrote, never linked: nothing to go by
            message = ana.views.message(flash.id)
            assert message is not None
            assert ana.views.flashes_by(ana.me) == [message] and ana.views.flashes_by(cy.me) == []
            await wait_until(lambda: bo.views.message(flash.id) is not None)
            await bo.ack(flash.id)
            await wait_until(lambda: bo.me in (ana.views.message(flash.id) or message).acked_by)
            message = ana.views.message(flash.id)
            assert message is not None
            now = wall_ms()
            status = ana.flash_status(message, now)
            assert status.acked == (bo.me,) and status.silent == (cy.me,) and status.unreachable == (dee.me,)
            assert not status.overdue
            later = ana.flash_status(message, message.clock + FLASH_ACK_DEADLINE_MS)
            assert later.overdue and later.waiting == tuple(sorted([cy.me, dee.me]))
            much_later = ana.flash_status(message, now + UNREACHABLE_AFTER_MS + 1)
            assert much_later.unreachable == tuple(sorted([cy.me, dee.me]))  # Cy too, once quiet for long
            nursery.cancel_scope.cancel()
    finally:
        for node in (ana, bo, cy, dee):
            node.close()
