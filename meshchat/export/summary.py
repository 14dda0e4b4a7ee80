"""What a log says about itself, computed the same way by the exporter and by the verifier.

The manifest states facts about the log (authors and their heads, forks, retractions, who is who). The
exporter computes them from what it writes and the verifier from what it reads, with the functions here, so
the two can only disagree when the bundle was changed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from meshchat.log.entry import Entry
from meshchat.log.kinds import MEMBERSHIP_KINDS, parse_body
from meshchat.log.rules import ControlEntry, Held, Membership, evaluate

_COUNTED_ONLY = frozenset({"msg.post", "msg.ack"})


@dataclass(frozen=True, slots=True)
class Retraction:
    """A ``msg.retract`` entry: who retracted which entry. Whether it had effect is for the views to say."""

    author: bytes
    seq: int
    clock: int
    id: bytes
    target: bytes


@dataclass(frozen=True, slots=True)
class HeadsClaim:
    """A signed ``heads`` entry: its author held these entries (``{author: (seq, id)}``) when writing it."""

    author: bytes
    seq: int
    clock: int
    id: bytes
    named: dict[bytes, tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class AuthorHead:
    """One author's part of the log: how many entries, and the last one."""

    key: bytes
    entries: int
    head_seq: int
    head_id: bytes


@dataclass(frozen=True, slots=True)
class ForkRecord:
    """Two or more signed entries of one author for one seq: the chain's entry and the proofs."""

    author: bytes
    seq: int
    ids: tuple[bytes, ...]


@dataclass
class LogSummary:
    """Feed it every chain entry of one team (any order); it keeps what the manifest and the verifier need."""

    team_id: bytes
    genesis: Entry | None = None
    controls: list[ControlEntry] = field(default_factory=list)
    retractions: list[Retraction] = field(default_factory=list)
    heads_claims: list[HeadsClaim] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)

    def needs(self, kind: str) -> bool:
        """Whether an entry of ``kind`` says anything here beyond its kind (posts and acks do not)."""
        return kind not in _COUNTED_ONLY

    def add(self, entry: Entry) -> None:
        kind = entry.kind
        self.kinds[kind] += 1
        if kind in _COUNTED_ONLY:
            return
        if kind in MEMBERSHIP_KINDS:
            if kind == "team.create":
                if entry.id == self.team_id:
                    self.genesis = entry
            else:
                self.controls.append(ControlEntry.of(entry))
            return
        body = parse_body(kind, entry.body())
        if body is None:
            return
        if kind == "msg.retract":
            target = body["target"]
            assert isinstance(target, bytes)
            self.retractions.append(Retraction(entry.author, entry.seq, entry.clock, entry.id, target))
        elif kind == "heads":
            named: dict[bytes, tuple[int, bytes]] = {}
            heads = body["heads"]
            assert isinstance(heads, dict)
            for key, value in heads.items():  # shapes checked by parse_body
                assert isinstance(value, list)
                seq, eid = value
                assert isinstance(key, bytes) and isinstance(seq, int) and isinstance(eid, bytes)
                named[key] = (seq, eid)
            self.heads_claims.append(HeadsClaim(entry.author, entry.seq, entry.clock, entry.id, named))

    def team_name(self) -> str:
        if self.genesis is None:
            return ""
        name = self.genesis.body().get("name")
        return name if isinstance(name, str) else ""

    def membership(self, forked: dict[bytes, int]) -> Membership:
        """Membership as every node evaluates it; ``forked`` maps authors to their lowest forked seq."""
        founder = self.genesis.author if self.genesis else None
        clock = self.genesis.clock if self.genesis else 0
        limits = {author: seq - 1 for author, seq in forked.items()}
        return evaluate(self.team_id, founder, clock, self.controls, seq_limits=limits, held=self.held())

    def held(self) -> list[Held]:
        """Every line of every heads entry (removal floors: see ``meshchat.log.rules.held_floor``)."""
        return [
            Held(c.author, c.seq, c.clock, author, seq)
            for c in self.heads_claims
            for author, (seq, _) in c.named.items()
        ]


def role_label(membership: Membership, key: bytes) -> str:
    """``owner``, ``admin``, ``member``, ``observer``, ``removed``, or ``unknown`` (never a member)."""
    member = membership.members.get(key)
    if member is not None and member.role is not None:
        return member.role.label
    if member is not None or membership.admits(key):
        return "removed"
    return "unknown"


def log_order_key(first_clock: int, author: bytes) -> tuple[int, bytes]:
    """Authors appear in a log stream by the clock of their first entry, then by key: one order for one set
    of entries, and close to the order in which members were admitted (so an import rarely has to wait)."""
    return (first_clock, author)
