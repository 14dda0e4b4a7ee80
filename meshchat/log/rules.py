"""Membership and roles: a pure function of the membership entries in the log.

Every node evaluates the same entries in the same order, ``(clock, author, seq)``, so every node reaches the
same membership, whatever order the entries arrived in. Roles have strict ranks, owner > admin > member >
observer: admins add and remove members and observers, only the owner (the founder) adds or removes admins,
and nobody removes the owner.

A role holds for a span of its holder's own entries. Because an author's clocks strictly increase along its
chain, a role change at order key ``K`` splits that author's entries in two, and a span can be given as a
range of *doubled clocks* (see :func:`span_threshold`) that SQL can join on.

``member.remove {member, upto_seq}`` cuts the removed key's log at ``upto_seq``: later entries are refused by
every node. A removal wins over concurrent actions of the removed party: evaluation repeats with those actions
left out until the set of removals stops changing.

Invites: an admin authorises a one-time invite key (``member.invite``); the newcomer shows the code's secret to
the *issuer's* node, which admits it by writing ``member.admit`` in its own log. Only the issuer admits with its
invites, so whether an invite was used is the order of the issuer's own chain (no clock decides it), expiry is
judged by the issuer's clock when it admits, and a revocation counts against the admission only if it comes
first in the team's order (both are admins' entries). Nothing the newcomer writes or claims takes part. A
key's first role (admitted, or added by hand) holds from its own first entry, whatever its clock says; later
role changes split its entries by the order, as above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from meshchat.log.codec import Value
from meshchat.log.entry import Entry
from meshchat.log.kinds import MEMBERSHIP_KINDS, parse_body

MAX_PASSES = 8


class Role(IntEnum):
    OBSERVER = 0
    MEMBER = 1
    ADMIN = 2
    OWNER = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r} (owner, admin, member or observer)") from None

    @property
    def label(self) -> str:
        return self.name.lower()


# The least role an author must hold for an entry of each kind to have effect. Membership kinds are judged by
# the rules below; a kind missing here (``heads``, unknown kinds) has no effect on views at all.
MIN_ROLE: dict[str, Role] = {
    "msg.post": Role.MEMBER,
    "msg.pin": Role.MEMBER,
    "msg.retract": Role.MEMBER,  # own messages; admins may retract any (see views)
    "msg.ack": Role.OBSERVER,
    "checkin.reply": Role.OBSERVER,
    "checkin.request": Role.ADMIN,
    "room.create": Role.ADMIN,
    "room.archive": Role.ADMIN,
    "incident.open": Role.MEMBER,
    "incident.update": Role.MEMBER,
    "task.open": Role.MEMBER,
    "task.update": Role.MEMBER,
    "position": Role.OBSERVER,  # where I am: everyone in the team, observers too
    "position.clear": Role.OBSERVER,
    "position.relay": Role.MEMBER,  # a TAK user's position, relayed by a bridge (docs/tak.md)
}


# What each kind lets a person do, in words, and who may: for refusals a person can act on.
ACTION_WORDS = {
    "msg.post": "post messages",
    "msg.pin": "pin messages",
    "msg.retract": "retract messages",
    "msg.ack": "acknowledge messages",
    "checkin.reply": "answer roll calls",
    "checkin.request": "start roll calls",
    "room.create": "create rooms",
    "room.archive": "archive rooms",
    "incident.open": "open incidents",
    "incident.update": "update incidents",
    "task.open": "open tasks",
    "task.update": "update tasks",
}
_WHO = {Role.OBSERVER: "members of the team", Role.MEMBER: "members and admins", Role.ADMIN: "admins"}
_A_ROLE = {Role.OBSERVER: "an observer", Role.MEMBER: "a member", Role.ADMIN: "an admin", Role.OWNER: "the owner"}


def refusal_words(kind: str, role: Role | None) -> str:
    """What a person is told when their role does not let an entry of ``kind`` take effect: who may, what they
    are, and what to do (``Only admins can create rooms; you are a member: ask an admin``)."""
    needed = MIN_ROLE.get(kind, Role.ADMIN)
    what = ACTION_WORDS.get(kind, "do this")
    you = _A_ROLE[role] if role is not None else "not a member of this team (any more)"
    ask = "ask an admin" if needed >= Role.ADMIN else "ask an admin to change your role"
    return f"Only {_WHO[needed]} can {what}; you are {you}: {ask}"


def invitable_roles(role: Role | None) -> tuple[Role, ...]:
    """The roles a member holding ``role`` may invite newcomers with: admins invite observers and members,
    the owner admins too; nobody else invites."""
    if role is None or role < Role.ADMIN:
        return ()
    return (Role.OBSERVER, Role.MEMBER, Role.ADMIN) if role >= Role.OWNER else (Role.OBSERVER, Role.MEMBER)


def role_allows(role: Role | None, kind: str) -> bool:
    """Whether an author holding ``role`` (``None``: none) writes entries of ``kind`` that take effect."""
    needed = MIN_ROLE.get(kind)
    return needed is not None and role is not None and role >= needed


@dataclass(frozen=True, slots=True, order=True)
class OrderKey:
    """Where an entry sits in the one order every node agrees on."""

    clock: int
    author: bytes
    seq: int


@dataclass(frozen=True, slots=True)
class ControlEntry:
    """A membership entry as the rules need it (the store hands these over; no I/O here)."""

    clock: int
    author: bytes
    seq: int
    kind: str
    body: Mapping[str, Value]

    @property
    def key(self) -> OrderKey:
        return OrderKey(self.clock, self.author, self.seq)

    @classmethod
    def of(cls, entry: Entry) -> ControlEntry:
        return cls(entry.clock, entry.author, entry.seq, entry.kind, entry.body())


def span_threshold(holder: bytes, change: OrderKey) -> int:
    """The least doubled clock ``2*clock + 1`` of ``holder``'s entries that sort after ``change``.

    An entry ``(c, holder, s)`` sorts after ``(C, Y, S)`` when ``c > C``, or ``c == C`` and ``holder > Y``
    (the same author never has two entries with one clock). So the threshold is ``2C+1`` when
    ``holder > Y`` and ``2C+2`` otherwise, and "entry covered" is ``2*c + 1 >= threshold``.
    """
    return 2 * change.clock + (1 if holder > change.author else 2)


@dataclass(frozen=True, slots=True)
class RoleSpan:
    """``role`` holds for the holder's entries with ``lo <= 2*clock + 1 < hi``."""

    lo: int
    hi: int
    role: Role


@dataclass(slots=True)
class Member:
    key: bytes
    role: Role | None  # None once removed
    name: str = ""
    callsign: str = ""
    added_by: bytes | None = None
    since: int = 0
    removed_upto: int | None = None
    removed_by: bytes | None = None
    removed_at: OrderKey | None = None  # the effective removal's place in the order
    removal_asked: int | None = None  # the upto_seq that removal wrote (removed_upto is higher if it held more)
    key_from: OrderKey | None = None  # when it got the network key it holds: its invite's issue, or its addition
    invite: bytes | None = None  # the invite it was admitted with
    sealed_key: bytes | None = None  # the network key its admission sealed to it (member.admit)
    names: list[tuple[OrderKey, str, str]] = field(default_factory=list)  # (from, name, callsign), in order
    roles: list[tuple[OrderKey, Role | None]] = field(default_factory=list)  # (entry that set it, role), in order

    def rename(self, at: OrderKey, name: str, callsign: str) -> None:
        """Set the name and callsign from ``at`` on, keeping what they were before (see ``name_at``)."""
        self.name, self.callsign = name, callsign
        self.names.append((at, name, callsign))

    def name_at(self, at: OrderKey) -> tuple[str, str]:
        """``(name, callsign)`` as they were at ``at`` in the team's order: an HQ record names an entry's author
        as the team knew them when it was written, not as they were called at the end."""
        current = ("", "")
        for since, name, callsign in self.names:
            if since > at:
                break
            current = (name, callsign)
        return current


@dataclass(slots=True)
class Invite:
    invite_pk: bytes
    role: Role
    expires: int
    issuer: bytes
    issued: OrderKey
    used_by: bytes | None = None
    used_at: OrderKey | None = None  # the admission that used it
    revoked_by: bytes | None = None

    def state(self, now_ms: int) -> str:
        """``used``, ``revoked``, ``expired`` (by ``now_ms``, the caller's clock) or ``open``."""
        if self.used_by is not None:
            return "used"
        if self.revoked_by is not None:
            return "revoked"
        return "expired" if self.expires < now_ms else "open"

    def refusal(self, now_ms: int) -> str | None:
        """Why an admission with this invite at ``now_ms`` is refused (the rules' words), or ``None``."""
        state = self.state(now_ms)
        return None if state == "open" else INVITE_REFUSALS[state]


INVITE_REFUSALS = {"used": "invite was already used", "revoked": "invite was revoked", "expired": "invite had expired"}


@dataclass(frozen=True, slots=True)
class Rotation:
    """An effective ``key.rotate``: a new network key, sealed to each of ``keys``' members."""

    at: OrderKey
    keys: Mapping[bytes, bytes]  # member key -> sealed network key


@dataclass(frozen=True, slots=True)
class Refusal:
    """A membership entry that had no effect, and why: shown in the CLI, the UI and the HQ export."""

    author: bytes
    seq: int
    kind: str
    reason: str
    clock: int = 0  # where the refused entry sits in the order (with author and seq)
    invite: bytes | None = None  # a refused ``member.admit``: the invite it used

    @property
    def key(self) -> OrderKey:
        return OrderKey(self.clock, self.author, self.seq)


INFINITY = 2**62


@dataclass
class Membership:
    """The outcome of evaluating the membership entries."""

    team_id: bytes
    founder: bytes | None = None
    members: dict[bytes, Member] = field(default_factory=dict)
    invites: dict[bytes, Invite] = field(default_factory=dict)
    spans: dict[bytes, list[RoleSpan]] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    rotations: list[Rotation] = field(default_factory=list)  # effective key.rotate entries, in team order
    # Admissions refused although their issuer sealed the network key to the newcomer (a revocation came first
    # in the order): that key must be rotated away from the newcomer, as from a removed member.
    refused_admissions: dict[bytes, Refusal] = field(default_factory=dict)  # newcomer -> its refused admission
    seq_limits: dict[bytes, int] = field(default_factory=dict)  # forked authors: entries up to here count

    def role_of(self, key: bytes) -> Role | None:
        """The role ``key`` holds now (after every entry evaluated)."""
        member = self.members.get(key)
        return member.role if member else None

    def role_at(self, key: bytes, clock: int) -> Role | None:
        """The role that governs an entry of ``key`` written at ``clock``."""
        point = 2 * clock + 1
        for span in self.spans.get(key, ()):
            if span.lo <= point < span.hi:
                return span.role
        return None

    def authority(self, key: bytes, seq: int, clock: int) -> Role | None:
        """The role behind one entry ``(key, seq, clock)``, or ``None`` when the entry has no effect: its
        author held no role then, was removed before ``seq``, or forked its log at or before ``seq``."""
        member = self.members.get(key)
        if member is None:
            return None
        if member.removed_upto is not None and seq > member.removed_upto:
            return None
        if seq > self.seq_limits.get(key, INFINITY):
            return None
        return self.role_at(key, clock)

    def counts(self, key: bytes, seq: int) -> bool:
        """Whether ``key``'s entry ``seq`` can carry weight at all, whatever its role then: its author is or was
        a member, and the entry lies within its removal cut and its fork limit (timing evidence, for one)."""
        member = self.members.get(key)
        if member is None or (member.removed_upto is not None and seq > member.removed_upto):
            return False
        return seq <= self.seq_limits.get(key, INFINITY)

    def may(self, key: bytes, seq: int, clock: int, kind: str) -> bool:
        """Whether an entry of ``kind`` by ``key`` has effect on the views."""
        return role_allows(self.authority(key, seq, clock), kind)

    def removed_upto(self, key: bytes) -> int | None:
        member = self.members.get(key)
        return member.removed_upto if member else None

    def admits(self, key: bytes) -> bool:
        """Whether entries of ``key`` belong in the store (rather than in quarantine): it holds or once held a
        role. What the entries may *do* is decided per entry by the spans."""
        return key in self.spans

    def display_name(self, key: bytes) -> str:
        member = self.members.get(key)
        if member and (member.callsign or member.name):
            return member.callsign or member.name
        return key.hex()[:8]


@dataclass(frozen=True, slots=True)
class Held:
    """One line of a signed ``heads`` entry: its author (``witness``), in its entry ``wseq`` written at
    ``wclock``, says it held ``author``'s log up to ``upto``."""

    witness: bytes
    wseq: int
    wclock: int
    author: bytes
    upto: int


def held_floor(held: Iterable[Held], witness: bytes, before_seq: int, author: bytes) -> int:
    """The highest seq of ``author`` that ``witness``'s own entries before its ``before_seq`` say it held (0:
    none). What a removal by ``witness`` at ``before_seq`` cannot cut below."""
    return max((h.upto for h in held if h.witness == witness and h.author == author and h.wseq < before_seq), default=0)


def evaluate(
    team_id: bytes,
    founder: bytes | None,
    genesis_clock: int,
    entries: Iterable[ControlEntry],
    *,
    seq_limits: Mapping[bytes, int] | None = None,
    held: Iterable[Held] = (),
) -> Membership:
    """Evaluate membership. ``founder`` is the author of the genesis entry (``None`` while it is missing);
    ``seq_limits`` caps authors whose later entries must not count (forks: before the forked seq); ``held``:
    what removers' own ``heads`` entries say they held of the members they remove (at least those lines)."""
    ordered = sorted(
        (e for e in entries if e.kind in MEMBERSHIP_KINDS and e.kind != "team.create"), key=lambda e: e.key
    )
    limits = dict(seq_limits or {})
    evidence = list(held)
    cut: dict[bytes, int] = {}
    result = _evaluate_once(team_id, founder, genesis_clock, ordered, limits, cut, evidence)
    for _ in range(MAX_PASSES):
        removals = {k: m.removed_upto for k, m in result.members.items() if m.removed_upto is not None}
        if removals == cut:
            break
        cut = {k: v for k, v in removals.items() if v is not None}
        result = _evaluate_once(team_id, founder, genesis_clock, ordered, limits, cut, evidence)
    return result


class _Evaluation:
    """One pass over the membership entries: the membership being built, and how roles change in it."""

    def __init__(self, team_id: bytes, membership: Membership, held: list[Held]) -> None:
        self.team_id = team_id
        self.m = membership
        self.held = held
        # profiles written before their author's admission, with where they sit in the order
        self.early_profiles: dict[bytes, tuple[OrderKey, Mapping[str, Value]]] = {}

    def actor(self, entry: ControlEntry) -> Role:
        """The role of an entry's author, which the table's ``needs`` has already required."""
        role = self.m.role_of(entry.author)
        assert role is not None
        return role

    def set_role(self, key: bytes, role: Role | None, at: OrderKey, *, from_first_entry: bool = False) -> None:
        """``role`` for ``key``'s entries that sort after ``at`` (or, for an admission, all of them)."""
        spans = self.m.spans.setdefault(key, [])
        threshold = 0 if from_first_entry and not spans else span_threshold(key, at)
        if spans and spans[-1].hi == INFINITY:
            last = spans.pop()
            if last.lo < threshold:
                spans.append(RoleSpan(last.lo, threshold, last.role))
        if role is not None:
            spans.append(RoleSpan(threshold, INFINITY, role))
        member = self.m.members.get(key)
        if member is None:
            member = self.m.members[key] = Member(key=key, role=role, since=at.clock, key_from=at)
        member.role = role
        member.roles.append((at, role))


def _evaluate_once(
    team_id: bytes,
    founder: bytes | None,
    genesis_clock: int,
    ordered: list[ControlEntry],
    limits: Mapping[bytes, int],
    cut: Mapping[bytes, int],
    held: list[Held],
) -> Membership:
    membership = Membership(team_id=team_id, founder=founder, seq_limits=dict(limits))
    run = _Evaluation(team_id, membership, held)
    if founder is None:
        return membership
    run.set_role(founder, Role.OWNER, OrderKey(genesis_clock, founder, 1))
    for entry in ordered:
        if entry.seq > min(limits.get(entry.author, INFINITY), cut.get(entry.author, INFINITY)):
            continue
        body = parse_body(entry.kind, entry.body)
        if body is None:
            membership.refusals.append(Refusal(entry.author, entry.seq, entry.kind, "malformed body"))
            continue
        reason = _apply(run, entry, body)
        if reason is not None:
            membership.refusals.append(Refusal(entry.author, entry.seq, entry.kind, reason))
    return membership


# ---- the membership rules: one handler per kind ---------------------------------------------------------------
#
# Every membership kind is judged by one entry of CONTROL_RULES below, and by nothing else: evaluation looks the
# kind up, checks the author's standing (``needs``), and lets the handler apply the entry or name the reason it
# has no effect. A kind that is not in the table is not a membership kind (``kinds.MEMBERSHIP_KINDS`` lists the
# same kinds, plus the genesis, which is judged by being the genesis). What may live in a handler: reads and
# changes of the :class:`Membership` being built, through ``_Evaluation`` for roles. Nothing else: no I/O, no
# clock but the entry's, no state outside the evaluation, so every node reaches the same result.

Handler = Callable[["_Evaluation", ControlEntry, Mapping[str, Value]], "str | None"]


@dataclass(frozen=True, slots=True)
class ControlRule:
    """How one membership kind is judged."""

    needs: Role | None  # the least role its author must hold when it is evaluated; None: no role (a join)
    apply: Handler  # applies the entry, or returns why it has no effect
    refusal: str = "only admins change membership"  # the reason when the author's role is too low


def _apply_profile(run: _Evaluation, entry: ControlEntry, body: Mapping[str, Value]) -> str | None:
    """Any member names itself. A newcomer's clock may put its first entries before its admission: a profile by
    an author that was never a member waits for its admission (``_apply_admit``)."""
    if run.m.role_of(entry.author) is None:
        if entry.author in run.m.members:
            return "author is not a member"
        run.early_profiles[entry.author] = (entry.key, body)
        return None
    run.m.members[entry.author].rename(entry.key, str(body["name"]), str(body["callsign"]))
    return None


def _apply_invite(run: _Evaluation, entry: ControlEntry, body: Mapping[str, Value]) -> str | None:
    m = run.m
    role = Role.parse(str(body["role"]))
    if role >= Role.ADMIN and role not in invitable_roles(run.actor(entry)):
        return "only the owner invites admins"
    invite_pk = _blob(body["invite_pk"])
    if invite_pk in m.invites:
        return "invite key already issued"
    expires = body["expires"]
    assert isinstance(expires, int)
    m.invites[invite_pk] = Invite(invite_pk, role, expires, entry.author, entry.key)
    return None


def _apply_revoke(run: _Evaluation, entry: ControlEntry, body: Mapping[str, Value]) -> str | None:
    invite = run.m.invites.get(_blob(body["invite_pk"]))
    if invite is None:
        return "no such invite"
    if invite.used_by is not None:
        return "invite was already used"
    if invite.role >= Role.ADMIN and run.actor(entry) < Role.OWNER:
        return "only the owner revokes an invite for an admin"
    if invite.revoked_by is None:
        invite.revoked_by = entry.author
    return None


def _apply_rotate(run: _Evaluation, entry: ControlEntry, body: Mapping[str, Value]) -> str | None:
    keys = body["keys"]
    assert isinstance(keys, dict)
    run.m.rotations.append(Rotation(entry.key, {_blob(k): _blob(v) for k, v in keys.items()}))
    return None


def _target_refusal(run: _Evaluation, entry: ControlEntry, target: bytes) -> str | None:
    """Why the author may not change ``target``'s membership at all (ranks), or None."""
    if target == run.m.founder:
        return "the owner's role cannot change"
    current = run.m.role_of(target)
    if current is not None and current >= Role.ADMIN and run.actor(entry) < Role.OWNER:
        return "only the owner changes an admin"
    return None


def _apply_add(run: _Evaluation, entry: ControlEntry, body: Mapping[str, Value]) -> str | None:
    m = run.m
    target = _blob(body["member"])
    refusal = _target_refusal(run, entry, target)
    if refusal is not None:
        return refusal
    role = Role.parse(str(body["role"]))
    if role >= Role.ADMIN and run.actor(entry) < Role.OWNER:
        return "only the owner makes admins"
    existing = m.members.get(target)
    if existing is not None and existing.removed_upto is not None:
        return "a removed key cannot come back (invite a new key)"
    # A key's first role holds from its own first entry, whatever its clock: a newcomer whose laptop runs a
    # day behind writes "before" its addition, and must not post into nothing (as for an admission).
    run.set_role(target, role, entry.key, from_first_entry=existing is None)
    member = m.members[target]
    if not member.name:
        member.rename(entry.key, str(body["name"]), member.callsign)
    if member.added_by is None:
        member.added_by = entry.author
    sealed = body.get("sealed_key")
    if member.sealed_key is None and isinstance(sealed, bytes):  # a key added by hand gets its first network key
        member.sealed_key = sealed
    return None


def _apply_remove(run: _Evaluation, entry: ControlEntry, body: Mapping[str, Value]) -> str | None:
    m = run.m
    target = _blob(body["member"])
    refusal = _target_refusal(run, entry, target)
    if refusal is not None:
        return refusal
    asked = body["upto_seq"]
    assert isinstance(asked, int)
    removed = m.members.get(target)
    if removed is None:
        return "not a member"
    # The remover cannot erase what it had already accepted from the member: its own earlier heads entries
    # (an honest node signs one right before removing) name how far it held the member's log.
    upto = max(asked, held_floor(run.held, entry.author, entry.seq, target))
    if removed.removed_upto is None or upto < removed.removed_upto:
        removed.removed_upto = upto
        removed.removal_asked = asked
        removed.removed_by = entry.author
        removed.removed_at = entry.key
    if removed.role is not None:
        run.set_role(target, None, entry.key)
    return None


def _apply_admit(run: _Evaluation, entry: ControlEntry, body: Mapping[str, Value]) -> str | None:
    """``member.admit {member, invite_pk, sealed_key}``: the invite's issuer admits a newcomer with it."""
    m = run.m
    invite = m.invites.get(_blob(body["invite_pk"]))
    if invite is None:
        return "unknown invite"
    if invite.issuer != entry.author:
        return "only the invite's issuer admits with it"
    newcomer = _blob(body["member"])
    existing = m.members.get(newcomer)
    if existing is not None:
        removed = existing.removed_upto is not None
        return "a removed key cannot come back (invite a new key)" if removed else "already a member"
    reason = invite.refusal(entry.clock)  # the issuer's clock, never the newcomer's
    if reason is not None:
        refusal = Refusal(entry.author, entry.seq, entry.kind, reason, entry.clock, invite.invite_pk)
        m.refused_admissions.setdefault(newcomer, refusal)
        return reason
    invite.used_by, invite.used_at = newcomer, entry.key
    run.set_role(newcomer, invite.role, entry.key, from_first_entry=True)
    member = m.members[newcomer]
    member.added_by, member.invite, member.sealed_key = invite.issuer, invite.invite_pk, _blob(body["sealed_key"])
    member.key_from = invite.issued  # conservative: a rotation after the invite not sealed to it means rotate again
    early = run.early_profiles.pop(newcomer, None)
    if early is not None:
        at, profile = early
        member.rename(at, str(profile["name"]), str(profile["callsign"]))
    return None


CONTROL_RULES: dict[str, ControlRule] = {
    "member.admit": ControlRule(Role.ADMIN, _apply_admit),
    "member.profile": ControlRule(None, _apply_profile),  # judged in its handler: see there
    "member.invite": ControlRule(Role.ADMIN, _apply_invite),
    "invite.revoke": ControlRule(Role.ADMIN, _apply_revoke),
    "key.rotate": ControlRule(Role.ADMIN, _apply_rotate),
    "member.add": ControlRule(Role.ADMIN, _apply_add),
    "member.remove": ControlRule(Role.ADMIN, _apply_remove),
}
assert set(CONTROL_RULES) == MEMBERSHIP_KINDS - {"team.create"}, "kinds.MEMBERSHIP_KINDS and the rules disagree"


def _apply(run: _Evaluation, entry: ControlEntry, body: Mapping[str, Value]) -> str | None:
    """Apply one membership entry by its kind's rule; return why it had no effect, or None."""
    rule = CONTROL_RULES[entry.kind]
    if rule.needs is not None:
        actor = run.m.role_of(entry.author)
        if actor is None:
            return "author is not a member"
        if actor < rule.needs:
            return rule.refusal
    return rule.apply(run, entry, body)


def _blob(value: Value) -> bytes:
    assert isinstance(value, bytes)
    return value
