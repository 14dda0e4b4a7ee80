"""What the entries that point at other entries do: retractions, pins and acknowledgements.

Whether a mark takes effect is decided here and nowhere else. The views (``store.queries``), the HQ reports
(``export.reports.model``), the offline verifier (``export.verify``) and the profile's check before it signs
(``profile``) all call these functions, so they cannot disagree (``tests/test_effects.py`` generates histories
and checks that they do not).

The rules, all judged with the membership at the mark's own place in the order (its author's role *then*,
its removal cut, its fork limit), never at the reader's "now":

- a **retraction** hides a message (a ``msg.post`` in the log): its author may retract it as a member, an admin
  may retract anyone's. A retraction of something that is not a message, or not in the log, hides nothing.
- a **pin** counts when its author may pin (member or above); the pinned entry may be any kind, and may arrive
  later: readers show it once they hold it.
- an **acknowledgement** counts when its author holds any role; one per member and message counts (the first).
- an **incident or task** belongs to the member whose id it is (:func:`opening`): a copy of its id by someone
  else is refused, however early its clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from meshchat.log.rules import Membership, Role, role_allows


class MarkStamp(NamedTuple):
    """One mark as the rules need it: which mark, who wrote it, its signed clock (its author's role is judged
    there) and its place in the team's order (its effective clock: see ``meshchat.log.timing``)."""

    mark: str  # "retract", "pin" or "ack"
    author: bytes
    seq: int
    clock: int
    placed: int


def retraction_hides(m: Membership, author: bytes, seq: int, clock: int, target_author: bytes | None) -> bool:
    """Whether a retraction ``(author, seq, clock)`` hides its target. ``target_author`` is the author of the
    target when the target is a message in the log, ``None`` otherwise (then it hides nothing)."""
    return retraction_allowed(m.authority(author, seq, clock), author, target_author)


def retraction_allowed(role: Role | None, author: bytes, target_author: bytes | None) -> bool:
    """The rule behind :func:`retraction_hides`, given the role the retraction's author holds at its place
    (the profile asks it with the role our next entry will hold)."""
    if role is None or target_author is None:
        return False
    return role >= Role.ADMIN or (target_author == author and role_allows(role, "msg.retract"))


def pin_counts(m: Membership, author: bytes, seq: int, clock: int) -> bool:
    """Whether a pin ``(author, seq, clock)`` counts, whatever it points at."""
    return m.may(author, seq, clock, "msg.pin")


def ack_counts(m: Membership, author: bytes, seq: int, clock: int) -> bool:
    """Whether an acknowledgement ``(author, seq, clock)`` counts (the first per member and message)."""
    return m.may(author, seq, clock, "msg.ack")


@dataclass(slots=True)
class MarksOn:
    """The marks that took effect on one entry, each in the team's order."""

    retractions: list[MarkStamp] = field(default_factory=list)
    pins: list[MarkStamp] = field(default_factory=list)
    acks: list[MarkStamp] = field(default_factory=list)  # the first acknowledgement of each member

    @property
    def retracted(self) -> bool:
        return bool(self.retractions)

    @property
    def pinned(self) -> bool:
        return bool(self.pins)

    @property
    def acked_by(self) -> tuple[bytes, ...]:
        return tuple(a.author for a in self.acks)


def marks_on(m: Membership, marks: Iterable[MarkStamp], target_author: bytes | None) -> MarksOn:
    """Fold the marks on one entry into those that took effect, each list in the team's order.
    ``target_author``: as for :func:`retraction_hides`."""
    out = MarksOn()
    acked: set[bytes] = set()
    for mark in sorted(marks, key=lambda k: (k.placed, k.author, k.seq)):
        if mark.mark == "retract":
            if retraction_hides(m, mark.author, mark.seq, mark.clock, target_author):
                out.retractions.append(mark)
        elif mark.mark == "pin":
            if pin_counts(m, mark.author, mark.seq, mark.clock):
                out.pins.append(mark)
        elif mark.mark == "ack" and mark.author not in acked and ack_counts(m, mark.author, mark.seq, mark.clock):
            acked.add(mark.author)
            out.acks.append(mark)
    return out


# ---- incidents and tasks: who opened one -------------------------------------------------------------------
#
# An incident or task is named by 16 bytes its opener chooses. Whoever opened it first owns it: its title,
# severity and first status are the opener's. "First" must not rest on a clock (a backdated copy would win),
# so a new id *certifies* its opener: 8 random bytes, then 8 bytes of BLAKE2b over them and the opener's key.
# An open of that id by anyone else is refused, whatever its clock; a second one by the opener too. Ids made
# before this rule (random, certifying nobody) fall back to the first open in the team's order.

OBJECT_ID_CONTEXT = b"meshchat/v1/object-id"


def new_object_id(opener: bytes, nonce: bytes) -> bytes:
    """The id of a new incident or task of ``opener`` (``nonce``: 8 random bytes)."""
    return nonce + _object_tag(opener, nonce)


def certifies(obj: bytes, author: bytes) -> bool:
    """Whether the id ``obj`` was made by ``author`` (see :func:`new_object_id`)."""
    return len(obj) == 16 and obj[8:] == _object_tag(author, obj[:8])


def _object_tag(opener: bytes, nonce: bytes) -> bytes:
    return hashlib.blake2b(OBJECT_ID_CONTEXT + opener + nonce, digest_size=8).digest()


class OpenStamp(NamedTuple):
    """One open of an incident or task that may take effect (its author's role allows it), where it sits."""

    placed: int  # its effective clock
    author: bytes
    seq: int


@dataclass(frozen=True, slots=True)
class Opening:
    """Who opened an object, and the opens of its id that were refused, each with the reason."""

    opener: OpenStamp
    refused: tuple[tuple[OpenStamp, str], ...]


def opening(obj: bytes, opens: Iterable[OpenStamp]) -> Opening | None:
    """Which of the opens of ``obj`` opened it: the first by its certified opener, else (an id made before ids
    certified their opener) the first in the team's order. ``None`` when there is none."""
    ordered = sorted(opens)
    if not ordered:
        return None
    owned = [o for o in ordered if certifies(obj, o.author)]
    first = min(owned, key=lambda o: o.seq) if owned else ordered[0]
    refused = []
    for other in ordered:
        if other == first:
            continue
        if other.author == first.author:
            reason = "opened already (by the same member, earlier in its log)"
        elif owned:
            reason = "the id belongs to another member's open (an id names its opener)"
        else:
            reason = "opened already by another member, earlier in the team's order"
        refused.append((other, reason))
    return Opening(first, tuple(refused))
