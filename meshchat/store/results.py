"""What the accept path reports: one outcome per entry, and a summary per batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from meshchat.log.entry import Entry

NOT_LINKED = "does not link to the entry before"  # rejected: its author signed another entry before it


class Outcome(StrEnum):
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    FORK = "fork"  # a second entry for one (author, seq): kept as proof, author marked forked
    QUARANTINED = "quarantined"  # valid, but its author is not (yet) known to be a member
    DEFERRED = "deferred"  # valid as far as we can tell, but cannot be taken now (gap, quarantine full)
    REJECTED = "rejected"  # invalid: malformed, bad signature, broken chain, other team, removed author


@dataclass(frozen=True, slots=True)
class AcceptResult:
    outcome: Outcome
    entry: Entry | None
    reason: str = ""


@dataclass(slots=True)
class BatchResult:
    """What a batch did. ``appended`` lists the entries now in the store, in the order they were stored;
    ``others`` says what happened to every entry that was not appended, and why."""

    appended: list[Entry] = field(default_factory=list)
    forks: list[Entry] = field(default_factory=list)  # fork proofs new to this store
    others: list[AcceptResult] = field(default_factory=list)

    def add(self, result: AcceptResult) -> None:
        self.others.append(result)

    @property
    def counts(self) -> dict[Outcome, int]:
        counts = dict.fromkeys(Outcome, 0)
        counts[Outcome.APPENDED] = len(self.appended)
        for other in self.others:
            counts[other.outcome] += 1
        return counts

    @property
    def rejections(self) -> list[AcceptResult]:
        return [r for r in self.others if r.outcome is Outcome.REJECTED]


class Head(NamedTuple):
    """The last entry of an author's log that this store holds."""

    seq: int
    id: bytes
    clock: int


class NewEntry(NamedTuple):
    """A stored entry as the node's watcher sees it (see ``Store.new_since``)."""

    rowid: int
    author: bytes
    seq: int
    kind: str
    room: bytes | None


class NewSummary(NamedTuple):
    """Entries stored after some rowid, summed up (see ``Store.summary_since``)."""

    last_rowid: int
    total: int
    kinds: frozenset[str]
    rooms: frozenset[bytes]
    heads: dict[bytes, int]  # the authors of these entries, and the head of each
