"""A small, fully deterministic team on disk for the TUI tests: fixed keys, fixed clocks, fixed ids.

Ana founded "Flood response" and is the person at the keyboard (her identity is the home's); Bo is an admin,
Cy a member. Entries are signed here (Ed25519 is deterministic, so ids are too) and stored through the
store's accept path, exactly as entries from the network would be. ``deliver`` adds entries to a home that an
app has open, as a peer (or another process) would.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from meshchat.identity import Identity, save_identity
from meshchat.log.entry import ZERO_ID, Entry, sign_entry
from meshchat.store import Store
from meshchat.testing import AuthorLog

START = 1_795_590_000_000  # 2026-11-25 07:00:00 UTC
GENERAL = bytes.fromhex("11" * 16)
LOGISTICS = bytes.fromhex("22" * 16)


class Scene:
    def __init__(self, team: str = "Flood response") -> None:
        self.clock = START
        self.pending: list[Entry] = []  # written since the last save or deliver
        founder = Identity(bytes([1]) * 32)
        genesis = sign_entry(
            founder, team_id=ZERO_ID, seq=1, prev=None, clock=self.tick(), kind="team.create", body={"name": team}
        )
        self.team = team
        self.team_id = genesis.id
        self.ana = AuthorLog(founder, self.team_id, [genesis])
        self.bo = AuthorLog(Identity(bytes([2]) * 32), self.team_id)
        self.cy = AuthorLog(Identity(bytes([3]) * 32), self.team_id)
        self.me = self.ana
        self.write(self.ana, "member.profile", name="Ana")
        self.write(self.ana, "room.create", room=GENERAL, name="general", topic="Everything without a room")
        self.write(self.ana, "member.add", member=self.bo.key, name="Bo", role="admin")
        self.write(self.ana, "member.add", member=self.cy.key, name="Cy", role="member")

    def tick(self, seconds: int = 60) -> int:
        self.clock += seconds * 1000
        return self.clock

    def write(self, author: AuthorLog, kind: str, *, seconds: int = 60, **body: Any) -> Entry:
        entry = author.write(kind, body, clock=self.tick(seconds))
        self.pending.append(entry)
        return entry

    def post(self, author: AuthorLog, text: str, *, room: bytes = GENERAL, flash: bool = False, **extra: Any) -> Entry:
        if flash:
            extra |= {"priority": "flash", "ack_required": True}
        return self.write(author, "msg.post", room=room, text=text, **extra)

    def fork(self, author: AuthorLog, text: str) -> Entry:
        """A second entry signed with the seq of ``author``'s last one: a fork (a restored backup, a copied
        key). Nodes keep it as proof and count the author's log only up to the seq before."""
        last = author.entries[-1]
        before = author.entries[-2] if len(author.entries) > 1 else None
        twin = sign_entry(
            author.identity,
            team_id=self.team_id,
            seq=last.seq,
            prev=before.id if before else None,
            clock=last.clock + 1,
            kind="msg.post",
            body={"room": GENERAL, "text": text},
        )
        self.pending.append(twin)
        return twin

    @property
    def entries(self) -> list[Entry]:
        return [e for author in (self.ana, self.bo, self.cy) for e in author.entries]

    def save(self, home: Path) -> Path:
        """A home for ``self.me`` holding every entry written so far."""
        home.mkdir(parents=True)
        save_identity(self.me.identity, home / "identity.key")
        store = Store.create(home / "meshchat.db", self.team_id)
        try:
            store.set_meta("team_name", self.team)
            store.set_meta("network_key", bytes(32))
            held = self.entries
            deliver_to(store, held + [e for e in self.pending if e not in held])  # forks are not in any log
        finally:
            store.close()
        self.pending = []
        return home

    def deliver(self, home: Path) -> None:
        """Add what was written since ``save`` (or the last ``deliver``), as a peer's sync would."""
        store = Store.open(home / "meshchat.db")
        try:
            deliver_to(store, self.pending)
        finally:
            store.close()
        self.pending = []


def deliver_to(store: Store, entries: Iterable[Entry]) -> None:
    ordered = sorted(entries, key=lambda e: (e.author, e.seq))
    result = store.accept_batch([e.raw for e in ordered])
    assert not result.rejections, result.rejections


def pin_timezone() -> None:
    """Times on screen are local: pin the zone so tests and snapshots read the same everywhere."""
    import os

    os.environ["TZ"] = "UTC"
    time.tzset()
