"""Issue 12.3: a removal cannot erase a member's past.

``member.remove {member, upto_seq}`` cuts the member's log at ``upto_seq``. An admin could write
``upto_seq=0`` and hide everything the member ever wrote, on every node and in the HQ export. The cut now
never goes below what the remover's own node had accepted from the member when it wrote the removal: its own
earlier ``heads`` entries say so, and an honest node signs one right before removing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from export_support import found_team, sync

from meshchat.export.verify import verify_export
from meshchat.export.writer import export_store
from meshchat.log.entry import Entry
from meshchat.profile import Profile
from meshchat.store import Outcome, Store
from meshchat.store.queries import Views
from meshchat.testing import AuthorLog, TestTeam

StoreFor = Callable[..., Store]


def heads(writer: AuthorLog, team: TestTeam, *held: AuthorLog) -> Entry:
    """A ``heads`` entry of ``writer`` naming the head of each of ``held`` (what a node signs hourly)."""
    named = {a.key: [a.entries[-1].seq, a.entries[-1].id] for a in held}
    return writer.write("heads", {"heads": named}, clock=team.tick())


def test_upto_seq_zero_cannot_hide_what_the_remover_held(store_for: StoreFor, tmp_path: Path) -> None:
    team = TestTeam(members=0)
    admin = team.add_member("admin")
    member = team.add_member("member")
    for i in range(3):
        team.post(member, f"report {i}")
    heads(admin, team, member, team.founder)  # the admin's node held the member's three posts
    admin.write("member.remove", {"member": member.key, "upto_seq": 0}, clock=team.tick())
    late = team.post(member, "written after the removal")
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in team.all_entries()])

    m = store.membership
    assert m.role_of(member.key) is None, "the removal itself still counts"
    assert m.removed_upto(member.key) == 3 and m.members[member.key].removal_asked == 0
    assert [msg.text for msg in Views(store).messages(team.room)] == ["report 0", "report 1", "report 2"]
    assert store.accept(late.raw).outcome in (Outcome.REJECTED, Outcome.DUPLICATE)
    assert store.frontier()[member.key] == 3

    export_store(store, team.founder.identity, tmp_path / "export")
    report = verify_export(tmp_path / "export")
    assert report.ok
    codes = {p.code: p for p in report.problems}
    assert codes["removal-floor"].seq == 3 and "#0" in codes["removal-floor"].message


def test_the_floor_is_what_the_remover_held_not_what_others_held(store_for: StoreFor) -> None:
    """Only the remover's own statements before the removal count: another member's heads, or the remover's
    heads written after the removal, do not lift the cut (a removal still wins over what it never saw)."""
    team = TestTeam(members=0)
    admin = team.add_member("admin")
    member, other = team.add_member("member"), team.add_member("member")
    team.post(member, "seen by the admin")
    heads(admin, team, member)
    team.post(member, "seen only by another member")
    heads(other, team, member)
    admin.write("member.remove", {"member": member.key, "upto_seq": 0}, clock=team.tick())
    heads(admin, team, member)  # after the removal: no effect on its floor
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in team.all_entries()])
    assert store.membership.removed_upto(member.key) == 1
    assert [msg.text for msg in Views(store).messages(team.room)] == ["seen by the admin"]


def test_an_honest_removal_signs_what_it_holds_first(tmp_path: Path) -> None:
    ana, ben, cy = found_team(tmp_path)
    for i in range(4):
        ben.post("general", f"ben {i}")
    sync(ben, ana)
    ana.remove_member(ben.me)
    removal = next(e for e in _own_entries(ana) if e.kind == "member.remove")
    before = ana.store.entry(ana.me, removal.seq - 1)
    assert before is not None and before.kind == "heads"
    held = ana.store.head(ben.me)
    assert held is not None and before.body()["heads"] == {ben.me: [held.seq, held.id]}
    sync(ana, cy)
    shown = [m.text for m in cy.views.messages(cy.room("general").room)]
    assert [f"ben {i}" for i in range(4)] == [t for t in shown if t.startswith("ben")]
    for p in (ana, ben, cy):
        p.close()


def _own_entries(profile: Profile) -> list[Entry]:
    head = profile.store.head(profile.me)
    assert head is not None
    return [e for s in range(1, head.seq + 1) if (e := profile.store.entry(profile.me, s)) is not None]
