"""One rule, one place: every reader agrees on which retractions, pins and acknowledgements take effect.

Hypothesis writes histories in which posts, retractions (of messages and of other entries), pins, acks, role
changes and removals interleave, some of them concurrent. Then four readers judge them: the views the CLI and
the TUI read (``Views``), the HQ reports (``collect``), the offline verifier (``verify_export`` on a real
export), and the profile's check before it signs (which must predict what every node will show once the entry
is written). They must agree entry for entry.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshchat.export.problems import Severity
from meshchat.export.reports.model import ReportFilter, collect
from meshchat.export.verify import verify_export
from meshchat.export.writer import export_store
from meshchat.log.clock import wall_ms
from meshchat.log.entry import Entry
from meshchat.log.rules import Membership, Role
from meshchat.log.views import Message
from meshchat.profile import Profile, ProfileError
from meshchat.store import Store
from meshchat.store.queries import Views
from meshchat.testing import AuthorLog, TestTeam, author_home

ROLES = ("observer", "member", "admin")
ACTIONS = ("post", "post", "retract", "retract_other", "pin", "ack", "role", "remove", "heads")


@dataclass(frozen=True)
class Step:
    action: str
    actor: int  # index into the team's authors (0 is the owner)
    target: int  # index into what the action points at (posts, members, roles), taken modulo its length
    gap: int  # clock step: 0 writes concurrently with the previous entry


steps = st.lists(
    st.builds(
        Step,
        action=st.sampled_from(ACTIONS),
        actor=st.integers(0, 4),
        target=st.integers(0, 50),
        gap=st.sampled_from([0, 1, 1000]),
    ),
    min_size=4,
    max_size=30,
)


def write_history(plan: list[Step]) -> tuple[TestTeam, list[Entry]]:
    """The owner, an admin, two members and an observer act out ``plan``."""
    team = TestTeam(members=0)
    for role in ("admin", "member", "member", "observer"):
        team.add_member(role)
    authors = team.authors
    posts: list[Entry] = []
    others = [team.founder.entries[1]]  # the room.create: an entry that is not a message
    cuts: dict[bytes, int] = {}  # the lowest cut any removal asked for: nobody passes on entries past it
    for step in plan:
        actor = authors[step.actor]
        clock = team.tick(step.gap) if step.gap else team.clock
        if step.action == "post" or not posts:
            posts.append(actor.write("msg.post", {"room": team.room, "text": f"m{len(posts)}"}, clock=clock))
        elif step.action in ("retract", "pin", "ack"):
            target = posts[step.target % len(posts)]
            actor.write(f"msg.{step.action}", {"target": target.id}, clock=clock)
        elif step.action == "retract_other":
            actor.write("msg.retract", {"target": others[step.target % len(others)].id}, clock=clock)
        elif step.action == "role":
            member = authors[1 + step.target % 4]
            role = ROLES[step.target // 4 % 3]
            actor.write("member.add", {"member": member.key, "name": "", "role": role}, clock=clock)
        elif step.action == "heads":  # what the actor's node holds, signed (hourly, and before a removal)
            held = {a.key: min(len(a.entries), cuts.get(a.key, 2**62)) for a in authors}
            named = {key: [seq, a.entries[seq - 1].id] for a in authors if (seq := held[a.key]) > 0 for key in [a.key]}
            actor.write("heads", {"heads": named}, clock=clock)
        else:
            member = authors[1 + step.target % 4]
            upto = (len(member.entries), len(member.entries) - 1, 0)[step.target % 3]  # what it holds, or less
            actor.write("member.remove", {"member": member.key, "upto_seq": max(upto, 0)}, clock=clock)
            cuts[member.key] = min(cuts.get(member.key, 2**62), max(upto, 0))
    return team, team.all_entries()


@dataclass(frozen=True)
class Judged:
    """What one reader says about each shown message: (retracted, pinned, who acknowledged)."""

    marks: dict[bytes, tuple[bool, bool, frozenset[bytes]]]


def judged_by_views(messages: list[Message]) -> Judged:
    return Judged({m.id: (m.retracted, m.pinned, frozenset(m.acked_by)) for m in messages})


def judged_by_reports(store: Store, messages: list[Message], exporter: bytes) -> Judged:
    data = collect(store, report_filter=ReportFilter(), exported_at=0, exported_by=exporter)
    pinned = {p.target for p in data.pins}
    return Judged(
        {
            m.id: (
                m.id in data.retractions,
                m.id in pinned,
                frozenset(a.author for a in data.acks.get(m.id, [])),
            )
            for m in data.messages
        }
    )


_dirs = count()


def retracted_by_verifier(store: Store, signer: AuthorLog, root: Path) -> set[bytes]:
    """The messages the verifier says are hidden; it must also place every removal's cut where the store does."""
    out = root / f"export{next(_dirs)}"
    export_store(store, signer.identity, out)
    report = verify_export(out)
    m = store.membership
    # A heads entry may name a removed member's entry past the cut a removal placed there (the remover never
    # saw it): no node passes those on, so the verifier calls them missing. Anything else is a real problem.
    errors = [
        p
        for p in report.problems
        if p.severity is Severity.ERROR
        and not (
            p.code == "missing-head" and p.author is not None and p.seq is not None and _past_cut(m, p.author, p.seq)
        )
    ]
    assert not errors, [p.message for p in errors]
    floors = {p.author: p.seq for p in report.problems if p.code == "removal-floor"}
    raised = {
        key: member.removed_upto
        for key, member in m.members.items()
        if member.removal_asked is not None
        and member.removed_upto is not None
        and member.removal_asked < member.removed_upto
        and key in store.heads()
    }
    assert floors == raised
    return {r.target for r in report.retractions if r.effective}


def _past_cut(m: Membership, author: bytes, seq: int) -> bool:
    cut = m.removed_upto(author)
    return cut is not None and seq > cut


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
def test_views_reports_and_verifier_agree_on_every_mark(tmp_path: Path, plan: list[Step]) -> None:
    team, entries = write_history(plan)
    store = Store.create(tmp_path / f"s{next(_dirs)}.db", team.team_id)
    try:
        store.accept_batch([e.raw for e in entries])
        messages = Views(store).messages(team.room, limit=10**6)
        views = judged_by_views(messages)
        assert judged_by_reports(store, messages, team.founder.key) == views
        hidden = retracted_by_verifier(store, team.founder, tmp_path)
        assert {i for i, (retracted, _, _) in views.marks.items() if retracted} == hidden & set(views.marks)
        assert not hidden & {e.id for e in entries if e.kind != "msg.post"}, "only messages can be hidden"
    finally:
        store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps, actor=st.integers(1, 4))
def test_the_profiles_check_predicts_what_every_node_shows(tmp_path: Path, plan: list[Step], actor: int) -> None:
    """A member's own node refuses exactly the marks that would take no effect, judged at the entry's own
    place in the order (its role then, not "now"), and what it signs shows as it promised."""
    team, entries = write_history(plan)
    me = team.authors[actor]
    home = author_home(tmp_path / secrets.token_hex(4), me, network_key=bytes(32), raws=[e.raw for e in entries])
    with Profile.open(home) as profile:
        for msg in profile.views.messages(team.room, limit=10**6):
            for mark in ("retract", "pin", "ack"):
                try:
                    getattr(profile, mark)(msg.id)
                except ProfileError:
                    signed = False
                else:
                    signed = True
                shown = profile.views.message(msg.id)
                assert shown is not None
                took = {"retract": shown.retracted, "pin": shown.pinned, "ack": profile.me in shown.acked_by}[mark]
                if signed:
                    assert took, f"{mark} was signed but has no effect"
                else:
                    before = {"retract": msg.retracted, "pin": msg.pinned, "ack": profile.me in msg.acked_by}[mark]
                    assert took == before, f"{mark} was refused, yet the view changed"


def test_histories_exercise_every_rule(tmp_path: Path) -> None:
    """Guard against a vacuous property: a fixed plan holds effective and refused marks of every kind."""
    plan = [
        Step("post", 2, 0, 1000),
        Step("post", 3, 0, 1000),
        Step("retract", 3, 0, 1000),  # a member retracts another's message: no effect
        Step("retract", 1, 1, 1000),  # an admin retracts anyone's: hides
        Step("retract", 2, 0, 1000),  # the author retracts its own: hides
        Step("pin", 4, 0, 1000),  # the observer pins: no effect
        Step("ack", 4, 0, 1000),  # the observer acknowledges: counts
        Step("retract_other", 0, 0, 1000),  # the owner retracts the room.create: hides nothing
        Step("pin", 3, 0, 1000),  # a member pins: counts
        Step("role", 0, 2, 1000),  # the owner makes that member an observer
        Step("pin", 3, 1, 1000),  # its later pin has no effect
    ]
    team, entries = write_history(plan)
    store = Store.create(tmp_path / "s.db", team.team_id)
    store.accept_batch([e.raw for e in entries])
    messages = Views(store).messages(team.room)
    first, second = messages
    assert first.retracted and second.retracted
    assert first.pinned and not second.pinned
    assert team.authors[4].key in first.acked_by
    assert len(retracted_by_verifier(store, team.founder, tmp_path)) == 2
    store.close()


def test_the_profile_judges_a_mark_where_it_will_sit_not_now(tmp_path: Path) -> None:
    """The owner's clock runs a day ahead when it makes a member an admin. Every node places that promotion a
    day on, so the member's retraction of someone else's message, written now, would hide nothing: its own
    node refuses it instead of signing an entry without effect (it checked the role "now" before)."""
    team = TestTeam(members=0)
    member, other = team.add_member("member"), team.add_member("member")
    message = team.post(other, "not yours to retract")
    now = wall_ms()
    team.founder.write("member.add", {"member": member.key, "name": "", "role": "admin"}, clock=now + 86_400_000)
    home = author_home(tmp_path / "m", member, network_key=bytes(32), raws=[e.raw for e in team.all_entries()])
    with Profile.open(home) as profile:
        assert profile.my_role() is Role.ADMIN  # what the log says once every entry is applied
        with pytest.raises(ProfileError, match="only the author or an admin"):
            profile.retract(message.id)
        shown = profile.views.message(message.id)
        assert shown is not None and not shown.retracted
