"""Who may open a link that was made with the network key: current members, and recent ones who prove it.

A node admits a peer whose key holds a role in the membership it has evaluated. A member this node has not
heard of yet brings *evidence*: the ``member.admit`` that admitted it and the ``member.invite`` behind it
(both from the issuer's log), or the ``member.add`` that added it. The evidence is checked like any entry
(strict decoding, team, signature) and the membership rules are evaluated with it added: the peer is admitted
when they would make it a member. A node that does not yet hold its team's genesis can check nothing but the
network key, and admits on that alone.

Newcomers are not admitted here: they dial with an invite's hello key, and only the invite's issuer admits
them (``meshchat.invites.admit_newcomer``).
"""

from __future__ import annotations

from meshchat.log.codec import DecodeError, unpack
from meshchat.log.entry import MAX_ENTRY_SIZE, Entry, EntryError, decode_entry
from meshchat.log.kinds import MEMBERSHIP_KINDS
from meshchat.log.rules import ControlEntry
from meshchat.proto.handshake import MAX_EVIDENCE
from meshchat.store import Store


def admission_evidence(store: Store, me: bytes) -> tuple[bytes, ...]:
    """The entries that show a node which may not have seen them that ``me`` is a member."""
    store.membership  # noqa: B018 (refreshes the store's caches if another connection wrote)
    out: list[bytes] = []
    admitted = _control_entry(store, "member.admit", "member", me)
    if admitted is not None:
        invite = _control_entry(store, "member.invite", "invite_pk", admitted.body().get("invite_pk"))
        if invite is not None:
            out.append(invite.raw)
        out.append(admitted.raw)
    added = _control_entry(store, "member.add", "member", me)
    if added is not None:
        out.append(added.raw)
    return tuple(out[:MAX_EVIDENCE])


def admit_peer(store: Store, key: bytes, evidence: tuple[bytes, ...]) -> str | None:
    """``None`` if ``key`` may link with us, else the reason it may not."""
    membership = store.membership
    if membership.role_of(key) is not None:
        return None
    if membership.removed_upto(key) is not None:
        return "removed from the team"
    refused = membership.refused_admissions.get(key)
    if refused is not None:
        return f"not a member: {refused.reason}"
    if membership.founder is None:
        return None  # we hold nothing to check against yet: the network key was the proof
    entries: list[Entry] = []
    for raw in evidence[:MAX_EVIDENCE]:
        try:
            entry = decode_entry(raw)
        except EntryError as exc:
            return f"malformed membership evidence: {exc}"
        if entry.team_id != store.team_id:
            return "membership evidence from another team"
        if entry.kind not in MEMBERSHIP_KINDS or not entry.verify_signature():
            return "membership evidence that does not verify"
        entries.append(entry)
    if not entries:
        return "not a member of this team (as far as this node knows)"
    trial = store.evaluate_membership([ControlEntry.of(e) for e in entries])
    if trial.role_of(key) is not None:
        return None
    reasons = [r.reason for r in trial.refusals if r.author == key]
    return f"not a member: {reasons[0]}" if reasons else "not a member of this team (as far as this node knows)"


def _control_entry(store: Store, kind: str, field: str, value: object) -> Entry | None:
    """The latest membership entry of ``kind`` whose body has ``field == value``."""
    if value is None:
        return None
    rows = store.connection.execute(
        "SELECT body, author, seq FROM v_control WHERE kind = ? ORDER BY clock DESC", (kind,)
    ).fetchall()
    for body, author, seq in rows:
        try:
            fields = unpack(body, max_len=MAX_ENTRY_SIZE)
        except DecodeError:
            continue
        if isinstance(fields, dict) and fields.get(field) == value:
            return store.entry(author, seq)
    return None
