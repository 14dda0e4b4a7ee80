"""Public helpers for tests: teams of in-memory authors that sign chains of entries without any store.

``TestTeam`` founds a team and admits members, giving each an :class:`AuthorLog` that signs that author's
next entry. Entries can then be fed to stores in any order, which is what convergence tests need.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from meshchat.identity import Identity
from meshchat.log.entry import ZERO_ID, Entry, sign_entry

BASE_CLOCK = 1_790_000_000_000  # a fixed past instant (late 2026): tests do not depend on the wall clock


@dataclass
class AuthorLog:
    """One author's log being written in memory."""

    identity: Identity
    team_id: bytes
    entries: list[Entry] = field(default_factory=list)

    @property
    def key(self) -> bytes:
        return self.identity.public_key

    def write(self, kind: str, body: dict[str, Any], *, clock: int) -> Entry:
        last = self.entries[-1] if self.entries else None
        entry = sign_entry(
            self.identity,
            team_id=self.team_id,
            seq=last.seq + 1 if last else 1,
            prev=last.id if last else None,
            clock=max(clock, last.clock + 1 if last else 0),
            kind=kind,
            body=body,
        )
        self.entries.append(entry)
        return entry


class TestTeam:
    """A founder who admits members at increasing clocks; ``tick`` gives the next clock."""

    __test__ = False  # not a pytest test class

    def __init__(self, name: str = "Test team", *, members: int = 2, role: str = "member") -> None:
        self.clock = BASE_CLOCK
        founder = Identity.generate()
        genesis = sign_entry(
            founder,
            team_id=ZERO_ID,
            seq=1,
            prev=None,
            clock=self.tick(),
            kind="team.create",
            body={"name": name},
        )
        self.team_id = genesis.id
        self.founder = AuthorLog(founder, genesis.id, [genesis])
        self.members: list[AuthorLog] = []
        self.room = secrets.token_bytes(16)
        self.founder.write("room.create", {"room": self.room, "name": "general", "topic": ""}, clock=self.tick())
        for _ in range(members):
            self.add_member(role)

    def tick(self, step: int = 1000) -> int:
        self.clock += step
        return self.clock

    def add_member(self, role: str = "member", *, by: AuthorLog | None = None) -> AuthorLog:
        member = AuthorLog(Identity.generate(), self.team_id)
        (by or self.founder).write(
            "member.add",
            {"member": member.key, "name": f"m{len(self.members)}", "role": role},
            clock=self.tick(),
        )
        self.members.append(member)
        return member

    def post(self, author: AuthorLog, text: str, **extra: Any) -> Entry:
        return author.write("msg.post", {"room": self.room, "text": text, **extra}, clock=self.tick())

    @property
    def authors(self) -> list[AuthorLog]:
        return [self.founder, *self.members]

    def all_entries(self) -> list[Entry]:
        return [e for author in self.authors for e in author.entries]


def synthetic_history(n: int, *, authors: int = 20, seed: int = 0) -> TestTeam:
    """A team whose logs hold about ``n`` entries from ``authors`` authors: mostly posts of varied length,
    with acks, incident updates and pins mixed in, as in a busy operation. Deterministic for a seed."""
    import random

    rng = random.Random(seed)
    team = TestTeam(members=authors - 1)
    incident = bytes(16)
    team.founder.write("incident.open", {"incident": incident, "title": "Flood", "severity": 2}, clock=team.tick())
    recent: list[Entry] = []
    remaining = n - len(team.all_entries())
    everyone = team.authors
    for i in range(remaining):
        author = everyone[i % len(everyone)]
        clock = team.tick(rng.randrange(1, 50))
        roll = rng.random()
        if roll < 0.05 and recent:
            author.write("msg.ack", {"target": rng.choice(recent).id}, clock=clock)
        elif roll < 0.08:
            fields = {"status": rng.choice(["active", "contained"])}
            author.write("incident.update", {"incident": incident, "fields": fields}, clock=clock)
        elif roll < 0.09 and recent:
            author.write("msg.pin", {"target": rng.choice(recent).id}, clock=clock)
        else:
            words = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(3, 30)))
            recent.append(author.write("msg.post", {"room": team.room, "text": words}, clock=clock))
            if len(recent) > 50:
                recent.pop(0)
    return team


_WORDS = [
    "water",
    "level",
    "rising",
    "north",
    "levee",
    "sector",
    "pump",
    "team",
    "two",
    "clear",
    "road",
    "blocked",
    "need",
    "sandbags",
    "at",
    "bridge",
    "ok",
]
