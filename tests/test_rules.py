"""Membership rules: strict ranks, invites, removal, and the same result in any order."""

from __future__ import annotations

import random
from collections.abc import Callable

from meshchat.identity import Identity
from meshchat.log.entry import Entry
from meshchat.log.rules import ControlEntry, Role
from meshchat.store import Outcome, Store
from meshchat.store.queries import Views
from meshchat.testing import TestTeam

StoreFor = Callable[..., Store]


def load(store_for: StoreFor, team: TestTeam, *, shuffle: int | None = None) -> Store:
    store = store_for(team.team_id)
    entries = team.all_entries()
    if shuffle is not None:
        random.Random(shuffle).shuffle(entries)
        for entry in entries:  # one at a time, in a scrambled order
            store.accept(entry.raw)
        store.accept_batch([e.raw for e in entries])  # whatever waited on a gap comes in now
    else:
        store.accept_batch([e.raw for e in entries])
    return store


def test_ranks(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    admin = team.add_member("admin")
    member = team.add_member("member")
    x, y = Identity.generate().public_key, Identity.generate().public_key
    admin.write("member.add", {"member": x, "name": "", "role": "observer"}, clock=team.tick())  # allowed
    admin.write("member.add", {"member": y, "name": "", "role": "admin"}, clock=team.tick())  # owner only
    member.write("member.add", {"member": y, "name": "", "role": "member"}, clock=team.tick())  # admins only
    admin.write("member.remove", {"member": team.founder.key, "upto_seq": 1}, clock=team.tick())  # never the owner
    m = load(store_for, team).membership
    assert m.role_of(x) is Role.OBSERVER
    assert m.role_of(y) is None
    assert m.role_of(team.founder.key) is Role.OWNER
    reasons = {r.reason for r in m.refusals}
    assert {
        "only the owner makes admins",
        "only admins change membership",
        "the owner's role cannot change",
    } <= reasons


def test_removal_cuts_the_log_and_wins_over_concurrent_actions(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    admin = team.add_member("admin")
    victim = team.add_member("member")
    team.post(victim, "before removal")
    # Concurrently (the owner has not seen these): the admin adds someone, the victim posts.
    outsider = Identity.generate().public_key
    concurrent_clock = team.tick()
    admin.write("member.add", {"member": outsider, "name": "", "role": "member"}, clock=concurrent_clock)
    late = team.post(victim, "after removal")
    team.founder.write("member.remove", {"member": admin.key, "upto_seq": 0}, clock=concurrent_clock + 1)
    team.founder.write("member.remove", {"member": victim.key, "upto_seq": 1}, clock=team.tick())
    for seed in range(5):
        store = load(store_for, team, shuffle=seed)
        m = store.membership
        assert m.role_of(outsider) is None, "the removed admin's concurrent add must not count"
        assert m.role_of(victim.key) is None and m.removed_upto(victim.key) == 1
        texts = [msg.text for msg in Views(store).messages(team.room)]
        assert texts == ["before removal"]
        assert store.accept(late.raw).outcome in (Outcome.REJECTED, Outcome.DUPLICATE)
        assert store.frontier()[victim.key] == 1  # nothing past the cut is passed on


def why_refused(store: Store, entry: Entry) -> str | None:
    """What the rules say of ``entry`` given everything the store holds (what the CLI tells a user)."""
    trial = store.evaluate_membership([ControlEntry.of(entry)])
    return next((r.reason for r in trial.refusals if (r.author, r.seq) == (entry.author, entry.seq)), None)


def test_invite_is_used_once_whatever_the_order(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    pk, _ = team.invite(team.founder)
    first = team.admit(team.founder, pk)
    second = team.admit(team.founder, pk)  # a modified issuer's node admits twice: its own chain says which
    team.post(second, "I should not be heard")
    snapshots = set()
    for seed in range(6):
        store = load(store_for, team, shuffle=seed)
        m = store.membership
        assert m.role_of(first.key) is Role.MEMBER
        assert m.role_of(second.key) is None
        assert why_refused(store, team.founder.entries[-1]) == "invite was already used"
        snapshots.add(Views(store).snapshot())
    assert len(snapshots) == 1


def test_expired_revoked_and_unknown_invites(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    pk1, _ = team.invite(team.founder, expires=team.clock + 10)
    team.admit(team.founder, pk1, clock=team.clock + 1000)  # the issuer's own clock says it had expired
    late = team.founder.entries[-1]
    pk2, _ = team.invite(team.founder)
    team.founder.write("invite.revoke", {"invite_pk": pk2}, clock=team.tick())
    team.admit(team.founder, pk2)
    revoked = team.founder.entries[-1]
    team.admit(team.founder, Identity.generate().public_key)
    unknown = team.founder.entries[-1]
    store = load(store_for, team)
    assert [store.membership.role_of(m.key) for m in team.members] == [None, None, None]
    assert why_refused(store, late) == "invite had expired"
    assert why_refused(store, revoked) == "invite was revoked"
    assert why_refused(store, unknown) == "unknown invite"


def test_admitted_member_can_post(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    pk, _ = team.invite(team.founder, role="member")
    newcomer = team.admit(team.founder, pk)
    team.post(newcomer, "hello from the newcomer")
    store = load(store_for, team)
    assert [m.text for m in Views(store).messages(team.room)] == ["hello from the newcomer"]


def test_demotion_applies_from_its_place_in_the_order(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    m1 = team.add_member("member")
    team.post(m1, "as a member")
    team.founder.write("member.add", {"member": m1.key, "name": "", "role": "observer"}, clock=team.tick())
    team.post(m1, "as an observer")
    store = load(store_for, team, shuffle=3)
    assert [m.text for m in Views(store).messages(team.room)] == ["as a member"]
