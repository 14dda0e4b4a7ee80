"""Team administration as every node evaluates it: concurrent admins, invites, roles, removal, key rotation.

Histories are generated from seeds: two admins act at the same time on either side of a partition (adding,
removing and re-roling the same people), members and observers post meanwhile, and the owner may remove one
of the admins. Every node must reach the same membership and views whatever order the entries arrive in.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from meshchat.identity import Identity
from meshchat.log.entry import Entry
from meshchat.log.netkeys import GRACE_MS, network_keys, rotation_reason, seal_network_key, stale_rotation
from meshchat.log.rules import ControlEntry, Membership, Role, evaluate
from meshchat.store import Store
from meshchat.store.queries import Views
from meshchat.testing import AuthorLog, TestTeam

StoreFor = Callable[..., Store]
SEEDS = range(24)


def load(store_for: StoreFor, team: TestTeam, order: int | None) -> Store:
    """A fresh store fed the team's entries one at a time in a seeded order (``None``: in one batch)."""
    store = store_for(team.team_id)
    entries = team.all_entries()
    if order is None:
        store.accept_batch([e.raw for e in entries])
        return store
    random.Random(order).shuffle(entries)
    for entry in entries:
        store.accept(entry.raw)
    store.accept_batch([e.raw for e in entries])  # whatever waited on a gap comes in now
    return store


def summary(m: Membership, *, refusals: bool = True) -> str:
    """What membership decided, as one comparable string. (A node may hold a refused entry that another
    keeps in quarantine, so ``refusals=False`` where stores are compared after arbitrary arrival orders.)"""
    members = sorted((k, m.role, m.removed_upto, m.name) for k, m in m.members.items())
    refused = sorted((r.author, r.seq, r.reason) for r in m.refusals) if refusals else []
    rotations = [(r.at, sorted(r.keys)) for r in m.rotations]
    invites = sorted((i.invite_pk, i.used_by, i.revoked_by) for i in m.invites.values())
    return repr((members, refused, rotations, invites))


def partitioned_history(seed: int) -> TestTeam:
    """Two admins, cut off from each other, change the same people's membership at the same time."""
    rng = random.Random(seed)
    team = TestTeam(members=0)
    admins = [team.add_member("admin"), team.add_member("admin")]
    people = [team.add_member(rng.choice(["member", "member", "observer"])) for _ in range(4)]
    strangers = [AuthorLog(Identity.generate(), team.team_id) for _ in range(3)]
    start = team.clock
    for admin in admins:  # each side of the partition, from the same starting point
        clock = start
        for _ in range(rng.randrange(3, 8)):
            clock += rng.randrange(1, 400)
            target = rng.choice(people + strangers)
            action = rng.random()
            if action < 0.35:
                body = {"member": target.key, "name": "", "role": rng.choice(["member", "observer"])}
                admin.write("member.add", body, clock=clock)
            elif action < 0.7:
                upto = rng.randrange(0, len(target.entries) + 1)
                admin.write("member.remove", {"member": target.key, "upto_seq": upto}, clock=clock)
                admin.write("key.rotate", {"keys": seal_network_key(bytes(32), [a.key for a in admins])}, clock=clock)
            elif action < 0.85:
                admin.write(
                    "member.add", {"member": target.key, "name": "", "role": "admin"}, clock=clock
                )  # owner only
            else:
                admin.write("msg.post", {"room": team.room, "text": f"admin {clock}"}, clock=clock)
    for person in people + strangers:  # meanwhile everyone else keeps posting
        clock = start
        for _ in range(rng.randrange(0, 4)):
            clock += rng.randrange(1, 400)
            person.write("msg.post", {"room": team.room, "text": f"post {clock}"}, clock=clock)
    team.members.extend(strangers)
    if rng.random() < 0.5:  # the owner, concurrently, removes one of the admins
        victim = rng.choice(admins)
        upto = rng.randrange(1, len(victim.entries) + 1)
        team.founder.write(
            "member.remove", {"member": victim.key, "upto_seq": upto}, clock=start + rng.randrange(1, 2000)
        )
    return team


@pytest.mark.parametrize("seed", SEEDS)
def test_concurrent_admins_converge_in_any_order(seed: int, store_for: StoreFor) -> None:
    team = partitioned_history(seed)
    genesis = team.founder.entries[0]
    controls = [ControlEntry.of(e) for e in team.all_entries()]
    expected = evaluate(team.team_id, genesis.author, genesis.clock, controls)
    rng = random.Random(seed)
    for _ in range(10):  # the pure evaluation: the order of its input does not matter
        rng.shuffle(controls)
        assert summary(evaluate(team.team_id, genesis.author, genesis.clock, controls)) == summary(expected)
    # Real stores fed in different arrival orders hold the same membership and show the same views.
    stores = [load(store_for, team, order) for order in (None, seed, seed + 1000)]
    assert {summary(s.membership, refusals=False) for s in stores} == {summary(expected, refusals=False)}
    assert len({Views(s).snapshot() for s in stores}) == 1
    _check_ranks(team, expected)


def _check_ranks(team: TestTeam, m: Membership) -> None:
    """What every evaluation must respect, whatever the history: ranks, and removals' cuts."""
    assert m.role_of(team.founder.key) is Role.OWNER
    admins = team.members[:2]
    for key, member in m.members.items():
        if key != team.founder.key and member.role is Role.ADMIN:
            assert key in (a.key for a in admins), "only the owner makes admins"
        if member.removed_upto is not None:
            assert member.role is None
            assert m.authority(key, member.removed_upto + 1, 2**52) is None


# ---- the single cases, each refused on every node ---------------------------------------------------------------


def _everywhere(store_for: StoreFor, team: TestTeam) -> list[Store]:
    """The team's entries in four stores, each fed in another order; they must agree on everything."""
    stores = [load(store_for, team, order) for order in (None, 1, 2, 3)]
    assert len({summary(s.membership, refusals=False) for s in stores}) == 1
    assert len({Views(s).snapshot() for s in stores}) == 1
    return stores


def _reason(store: Store, entry: Entry) -> str | None:
    """What the rules say of ``entry`` given everything the store holds (what the CLI tells a user)."""
    trial = store.evaluate_membership([ControlEntry.of(entry)])
    return next((r.reason for r in trial.refusals if (r.author, r.seq) == (entry.author, entry.seq)), None)


def test_observer_posts_have_no_effect_anywhere(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    observer = team.add_member("observer")
    team.post(observer, "observers read only")
    observer.write("msg.ack", {"target": team.founder.entries[-1].id}, clock=team.tick())  # acks are allowed
    for store in _everywhere(store_for, team):
        assert Views(store).messages(team.room) == []


def test_a_member_cannot_add_invite_or_rotate(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    member = team.add_member("member")
    outsider = Identity.generate().public_key
    add = member.write("member.add", {"member": outsider, "name": "", "role": "member"}, clock=team.tick())
    invite, _ = team.invite(member)
    rotate = member.write("key.rotate", {"keys": seal_network_key(bytes(32), [member.key])}, clock=team.tick())
    for store in _everywhere(store_for, team):
        m = store.membership
        assert m.role_of(outsider) is None and invite not in m.invites and m.rotations == []
        assert _reason(store, add) == _reason(store, rotate) == "only admins change membership"


def test_admins_cannot_touch_admins_or_their_invites(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    a1, a2 = team.add_member("admin"), team.add_member("admin")
    owner_invite, _ = team.invite(team.founder, role="admin")
    demote = a1.write("member.add", {"member": a2.key, "name": "", "role": "member"}, clock=team.tick())
    remove = a1.write("member.remove", {"member": a2.key, "upto_seq": 1}, clock=team.tick())
    revoke = a1.write("invite.revoke", {"invite_pk": owner_invite}, clock=team.tick())
    for store in _everywhere(store_for, team):
        m = store.membership
        assert m.role_of(a2.key) is Role.ADMIN and m.invites[owner_invite].revoked_by is None
        assert _reason(store, demote) == _reason(store, remove) == "only the owner changes an admin"
        assert _reason(store, revoke) == "only the owner revokes an invite for an admin"


@pytest.mark.parametrize("case", ["reuse", "expired", "revoked"])
def test_spent_invites_admit_nobody_anywhere(case: str, store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    admin = team.add_member("admin")
    pk, _ = team.invite(admin, expires=team.clock + 10_000)
    if case == "reuse":
        first = team.admit(admin, pk)
    elif case == "revoked":
        admin.write("invite.revoke", {"invite_pk": pk}, clock=team.tick())
    late = team.admit(admin, pk, clock=team.clock + (20_000 if case == "expired" else 1))
    team.post(late, "should not be heard")
    reason = {"reuse": "invite was already used", "expired": "invite had expired", "revoked": "invite was revoked"}
    for store in _everywhere(store_for, team):
        m = store.membership
        assert m.role_of(late.key) is None
        assert _reason(store, admin.entries[-1]) == reason[case]
        assert "should not be heard" not in [msg.text for msg in Views(store).messages(team.room)]
        if case == "reuse":
            assert m.role_of(first.key) is Role.MEMBER and m.invites[pk].used_by == first.key


def test_revoking_a_used_invite_changes_nothing(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    pk, _ = team.invite(team.founder)
    admitted = team.admit(team.founder, pk)
    revoke = team.founder.write("invite.revoke", {"invite_pk": pk}, clock=team.tick())
    for store in _everywhere(store_for, team):
        m = store.membership
        assert m.role_of(admitted.key) is Role.MEMBER
        assert _reason(store, revoke) == "invite was already used"


def test_an_invite_used_on_two_sides_of_a_split_admits_only_through_its_issuer(store_for: StoreFor) -> None:
    """The code is used on both sides of a partition: the newcomer reaches the issuer's node; a thief with a
    photograph of the code reaches another admin, whose (modified) node admits it, and also writes its own
    admission with a clock before the newcomer's. Only the issuer's admission counts, on every node."""
    team = TestTeam(members=0)
    issuer, other_admin = team.add_member("admin"), team.add_member("admin")
    pk, _ = team.invite(issuer)
    split = team.clock
    newcomer = team.admit(issuer, pk, clock=split + 500)
    team.post(newcomer, "the newcomer, admitted")
    thief = team.admit(other_admin, pk, clock=split + 100)  # earlier in the order than the real admission
    thief.write("member.admit", {"member": thief.key, "invite_pk": pk, "sealed_key": bytes(80)}, clock=split + 1)
    team.post(thief, "the thief")
    for store in _everywhere(store_for, team):
        m = store.membership
        assert m.role_of(newcomer.key) is Role.MEMBER and m.invites[pk].used_by == newcomer.key
        assert m.role_of(thief.key) is None
        assert _reason(store, other_admin.entries[-1]) == "only the invite's issuer admits with it"
        texts = [msg.text for msg in Views(store).messages(team.room)]
        assert "the newcomer, admitted" in texts and "the thief" not in texts


@pytest.mark.parametrize("revoke_first", [True, False])
def test_a_revoke_racing_an_admission_is_settled_by_the_two_admins_order(
    revoke_first: bool, store_for: StoreFor
) -> None:
    """Cut off from each other, one admin revokes the invite while its issuer admits a newcomer with it. The
    team's order of those two admins' entries decides, the same on every node; the newcomer's clock plays no
    part. A newcomer refused after the fact got the network key sealed to it: it must be rotated away."""
    team = TestTeam(members=0)
    issuer, revoker = team.add_member("admin"), team.add_member("admin")
    pk, _ = team.invite(issuer)
    split = team.clock
    revoke = revoker.write("invite.revoke", {"invite_pk": pk}, clock=split + (100 if revoke_first else 900))
    newcomer = team.admit(issuer, pk, clock=split + 500)
    team.post(newcomer, "posted once admitted")
    for store in _everywhere(store_for, team):
        m = store.membership
        texts = [msg.text for msg in Views(store).messages(team.room)]
        if revoke_first:
            assert m.role_of(newcomer.key) is None
            assert _reason(store, issuer.entries[-1]) == "invite was revoked"
            assert "posted once admitted" not in texts
            assert rotation_reason(m) == "a refused newcomer may know the current key"
        else:
            assert m.role_of(newcomer.key) is Role.MEMBER
            assert _reason(store, revoke) == "invite was already used"
            assert "posted once admitted" in texts
            assert rotation_reason(m) is None


def test_an_admitted_member_counts_from_its_first_entry_whatever_its_clock(store_for: StoreFor) -> None:
    """A newcomer whose laptop is a day behind writes its first entries with clocks before its admission: its
    name and its posts count all the same."""
    team = TestTeam(members=0)
    pk, _ = team.invite(team.founder)
    newcomer = team.admit(team.founder, pk)
    day = 24 * 3600 * 1000
    newcomer.entries.clear()  # the admission is not in its own log: start its log with a slow clock
    newcomer.write("member.profile", {"name": "Slow", "callsign": "S-1"}, clock=team.clock - day)
    newcomer.write("msg.post", {"room": team.room, "text": "from a slow clock"}, clock=team.clock - day + 10)
    for store in _everywhere(store_for, team):
        assert store.membership.role_of(newcomer.key) is Role.MEMBER
        assert store.membership.display_name(newcomer.key) == "S-1"
        assert "from a slow clock" in [msg.text for msg in Views(store).messages(team.room)]


def test_a_member_added_by_hand_counts_from_its_first_entry_whatever_its_clock(store_for: StoreFor) -> None:
    """The defect (issue 12.2): a member whose laptop is a day behind posted into nothing. Its entries carried
    clocks before its ``member.add``, no role held there, and every node stored them and showed none. Its first
    role now holds from its own first entry; a later change of role still splits by the order."""
    team = TestTeam(members=0)
    slow = team.add_member("member")
    day = 24 * 3600 * 1000
    slow.write("msg.post", {"room": team.room, "text": "from a slow clock"}, clock=team.clock - day)
    team.founder.write("member.add", {"member": slow.key, "role": "observer", "name": ""}, clock=team.tick())
    slow.write("msg.post", {"room": team.room, "text": "after the demotion"}, clock=team.tick())
    for store in _everywhere(store_for, team):
        texts = [msg.text for msg in Views(store).messages(team.room)]
        assert "from a slow clock" in texts
        assert "after the demotion" not in texts, "an observer's post has no effect"


# ---- key rotation ---------------------------------------------------------------------------------------------


def test_rotation_reaches_remaining_members_only() -> None:
    team = TestTeam(members=0)
    admin, stays, goes = team.add_member("admin"), team.add_member("member"), team.add_member("member")
    base, new = b"b" * 32, b"n" * 32
    goes_upto = len(goes.entries)
    team.founder.write("member.remove", {"member": goes.key, "upto_seq": goes_upto}, clock=team.tick())
    m = _evaluate(team)
    assert stale_rotation(m), "a removal with no rotation after it leaves the key known to the removed"
    rotation = team.founder.write(
        "key.rotate", {"keys": seal_network_key(new, [team.founder.key, admin.key, stays.key])}, clock=team.tick()
    )
    m = _evaluate(team)
    assert not stale_rotation(m)
    for author in (admin, stays):
        keys = network_keys(m, author.key, base, *_curve(author.identity))
        assert keys.current == new and keys.epoch == 1
        assert keys.accepted(rotation.clock) == (new, base)  # the grace period: the old key still links
        assert keys.accepted(rotation.clock + GRACE_MS + 1) == (new,)
    assert network_keys(m, goes.key, base, *_curve(goes.identity)).current == base  # it has nothing new


def test_a_concurrent_rotation_sealed_to_a_removed_member_is_stale() -> None:
    team = TestTeam(members=0)
    a1, a2 = team.add_member("admin"), team.add_member("admin")
    goes = team.add_member("member")
    clock = team.tick()
    a1.write("member.remove", {"member": goes.key, "upto_seq": 0}, clock=clock)
    a1.write("key.rotate", {"keys": seal_network_key(b"1" * 32, [team.founder.key, a1.key, a2.key])}, clock=clock)
    # a2 had not seen the removal: its rotation, later in the order, still includes the removed member
    a2.write("key.rotate", {"keys": seal_network_key(b"2" * 32, [a1.key, a2.key, goes.key])}, clock=clock + 5)
    m = _evaluate(team)
    assert stale_rotation(m)
    everyone = [team.founder.key, a1.key, a2.key]
    team.founder.write("key.rotate", {"keys": seal_network_key(b"3" * 32, everyone)}, clock=team.tick())
    assert not stale_rotation(_evaluate(team))


def test_a_member_left_with_an_older_key_gets_the_current_one() -> None:
    team = TestTeam(members=0)
    everyone = [team.founder.key]
    early_pk, _ = team.invite(team.founder)
    other = team.add_member("admin")
    everyone.append(other.key)
    rotate = {"keys": seal_network_key(b"1" * 32, everyone)}
    late_pk, _ = team.invite(team.founder)
    team.admit(team.founder, late_pk)
    assert rotation_reason(_evaluate(team)) is None
    # Another admin rotates, cut off from the issuer; the issuer then admits with the invite it made before:
    # the admission sorts after the rotation but may seal the key of before it.
    other.write("key.rotate", rotate, clock=team.tick())
    team.founder.write(
        "key.rotate", {"keys": seal_network_key(b"2" * 32, [*everyone, team.members[-1].key])}, clock=team.tick()
    )
    early = team.admit(team.founder, early_pk)
    assert rotation_reason(_evaluate(team)) == "a member has only an older key"
    everyone += [team.members[1].key, early.key]
    team.founder.write("key.rotate", {"keys": seal_network_key(b"3" * 32, everyone)}, clock=team.tick())
    assert rotation_reason(_evaluate(team)) is None


def _evaluate(team: TestTeam) -> Membership:
    genesis = team.founder.entries[0]
    return evaluate(team.team_id, genesis.author, genesis.clock, [ControlEntry.of(e) for e in team.all_entries()])


def _curve(identity: Identity) -> tuple[bytes, bytes]:
    return identity.curve25519_public(), identity.curve25519_secret()


def test_admins_create_and_archive_rooms_members_do_not(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    admin, member = team.add_member("admin"), team.add_member("member")
    ops, logistics = b"o" * 16, b"l" * 16
    admin.write("room.create", {"room": ops, "name": "ops", "topic": ""}, clock=team.tick())
    member.write("room.create", {"room": logistics, "name": "logistics", "topic": ""}, clock=team.tick())
    member.write("room.archive", {"room": ops}, clock=team.tick())
    admin.write("room.archive", {"room": team.room}, clock=team.tick())
    for store in _everywhere(store_for, team):
        rooms = {r.name: r.archived for r in Views(store).rooms()}
        assert rooms == {"general": True, "ops": False}
