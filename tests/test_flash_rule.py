"""The FLASH rule (meshchat/log/flash.py): who must acknowledge, who is silent or unreachable, when it is overdue."""

from __future__ import annotations

from pathlib import Path

from meshchat.log.flash import (
    FLASH_ACK_DEADLINE_MS,
    UNREACHABLE_AFTER_MS,
    flash_recipients,
    flash_status,
    split_by_reach,
)
from meshchat.log.rules import Membership, Role
from meshchat.store import Store
from meshchat.store.queries import Views
from meshchat.testing import TestTeam

ANA, BO, CY, DEE = (bytes([i]) * 32 for i in range(1, 5))
T0 = 1_800_000_000_000


def test_recipients_are_current_members_that_may_acknowledge_but_the_author(tmp_path: Path) -> None:
    team = TestTeam(members=0)
    bo = team.add_member("member")
    cy = team.add_member("observer")
    gone = team.add_member("member")
    team.founder.write("member.remove", {"member": gone.key, "upto_seq": 0}, clock=team.tick())
    store = Store.create(tmp_path / "s.db", team.team_id)
    store.accept_batch([e.raw for e in sorted(team.all_entries(), key=lambda e: e.clock)])
    membership: Membership = Views(store).membership
    assert membership.role_of(cy.key) is Role.OBSERVER
    assert flash_recipients(membership, bo.key) == tuple(sorted([team.founder.key, cy.key]))
    assert gone.key not in flash_recipients(membership, team.founder.key)
    store.close()


def test_silent_and_unreachable_are_told_apart_and_overdue_comes_at_the_deadline() -> None:
    heard = {BO: T0 + 60_000, CY: T0 - UNREACHABLE_AFTER_MS - 1}  # Dee: never heard from
    before = flash_status(T0, [], [BO, CY, DEE], heard, T0 + FLASH_ACK_DEADLINE_MS - 1)
    assert not before.overdue and before.silent == (BO,) and before.unreachable == (CY, DEE)
    after = flash_status(T0, [BO], [BO, CY, DEE], heard, T0 + FLASH_ACK_DEADLINE_MS)
    assert after.overdue and after.acked == (BO,) and after.waiting == (CY, DEE) and after.silent == ()
    assert after.due_ms == T0 + FLASH_ACK_DEADLINE_MS
    done = flash_status(T0, [BO, CY, DEE, ANA], [BO, CY, DEE], heard, T0 + 10 * FLASH_ACK_DEADLINE_MS)
    assert done.done and not done.overdue and done.acked == (BO, CY, DEE)  # an ack from a non-recipient: ignored


def test_it_is_a_function_of_its_inputs_only() -> None:
    args = (T0, [BO], [BO, CY], {CY: T0}, T0 + FLASH_ACK_DEADLINE_MS)
    assert flash_status(*args) == flash_status(*args)
    assert flash_status(*args, deadline_ms=FLASH_ACK_DEADLINE_MS + 1).overdue is False


def test_members_who_have_not_answered_split_into_heard_lately_and_unreachable() -> None:
    heard = {BO: T0, CY: T0 - UNREACHABLE_AFTER_MS}
    assert split_by_reach([DEE, CY, BO], heard, T0) == ((BO,), (CY, DEE))
    assert split_by_reach([BO], heard, T0 + UNREACHABLE_AFTER_MS) == ((), (BO,))
