"""``meshchat demo``: a throwaway team where two teammates post, open an incident, raise a FLASH and answer a
roll call, so a newcomer sees the product working within a minute.

The teammates speak the node's own write API (:class:`Teammate`: ``post``, ``ack``, ``open_incident``, ...),
and :class:`SimulatedTeammate` implements it by signing entries as another identity and storing them through
the store's accept path, exactly as entries synced from a peer are stored. A real :class:`~meshchat.node.Node`
satisfies the same protocol, so once networking is in, the demo can run each teammate as a node of its own on
loopback (``NodeConfig(listen=..., peers=...)``) and pass those nodes as teammates: the script below does not
change.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import trio

from meshchat.identity import Identity
from meshchat.log.clock import wall_ms
from meshchat.log.codec import Value
from meshchat.log.entry import Entry, sign_entry
from meshchat.log.kinds import build_body
from meshchat.node import Node
from meshchat.profile import Profile, ProfileError

TEAM_NAME = "Flood response (demo)"
NOTICE = (
    "This is a demo team: Bo and Cy are simulated teammates. Type and press Enter to post; ctrl+f makes the "
    "next message FLASH. F2 shows the incident board, F3 the roll call (s = safe). ctrl+q quits and "
    "deletes the demo."
)


class Teammate(Protocol):
    """What a teammate does in the demo: a subset of :class:`~meshchat.node.Node`'s write API."""

    @property
    def me(self) -> bytes: ...

    async def post(
        self, room: str | bytes, text: str, *, flash: bool = False, reply_to: bytes | None = None
    ) -> Entry: ...

    async def ack(self, message: bytes) -> Entry: ...

    async def open_incident(
        self, title: str, severity: int, *, location: str | None = None, room: str | None = None
    ) -> bytes: ...

    async def update_incident(self, incident: bytes, fields: dict[str, Any]) -> Entry: ...

    async def open_task(self, title: str, *, owner: bytes | None = None, incident: bytes | None = None) -> bytes: ...

    async def request_checkin(self, room: str | bytes, question: str, *, deadline: int | None = None) -> bytes: ...

    async def reply_checkin(self, checkin: bytes, status: str, note: str = "") -> Entry: ...


class SimulatedTeammate:
    """Another identity writing into ``node``'s store through the accept path, as if synced from its laptop."""

    def __init__(self, identity: Identity, node: Node) -> None:
        self.identity = identity
        self.node = node
        self._last: Entry | None = None

    @property
    def me(self) -> bytes:
        return self.identity.public_key

    def _write(self, kind: str, **fields: Value) -> Entry:
        store = self.node.profile.store
        head = store.head(self.me)
        seq = head.seq + 1 if head else 1
        last_clock = head.clock if head else 0
        newest = max((h.clock for h in store.heads().values()), default=0)
        entry = sign_entry(
            self.identity,
            team_id=self.node.team_id,
            seq=seq,
            prev=head.id if head else None,
            clock=max(wall_ms(), last_clock + 1, newest + 1),
            kind=kind,
            body=build_body(kind, **fields),
        )
        result = store.accept_batch([entry.raw], verify_each=True)
        if not result.appended:
            raise ProfileError(f"the demo's {kind} was not stored: {result.others}")
        self.node.wake()
        return entry

    def _room(self, room: str | bytes) -> bytes:
        if isinstance(room, bytes):
            return room
        found = self.node.views.find_room(room)
        if found is None:
            raise ProfileError(f"no room {room!r}")
        return found.room

    async def post(self, room: str | bytes, text: str, *, flash: bool = False, reply_to: bytes | None = None) -> Entry:
        priority = "flash" if flash else "routine"
        return self._write(
            "msg.post", room=self._room(room), text=text, priority=priority, ack_required=flash, reply_to=reply_to
        )

    async def ack(self, message: bytes) -> Entry:
        return self._write("msg.ack", target=message)

    async def open_incident(
        self, title: str, severity: int, *, location: str | None = None, room: str | None = None
    ) -> bytes:
        incident = secrets.token_bytes(16)
        self._write(
            "incident.open",
            incident=incident,
            title=title,
            severity=severity,
            location={"text": location} if location else None,
            room=self._room(room) if room else None,
        )
        return incident

    async def update_incident(self, incident: bytes, fields: dict[str, Any]) -> Entry:
        return self._write("incident.update", incident=incident, fields=fields)

    async def open_task(self, title: str, *, owner: bytes | None = None, incident: bytes | None = None) -> bytes:
        task = secrets.token_bytes(16)
        self._write("task.open", task=task, title=title, owner=owner, incident=incident)
        return task

    async def request_checkin(self, room: str | bytes, question: str, *, deadline: int | None = None) -> bytes:
        checkin = secrets.token_bytes(16)
        self._write("checkin.request", checkin=checkin, room=self._room(room), question=question, deadline=deadline)
        return checkin

    async def reply_checkin(self, checkin: bytes, status: str, note: str = "") -> Entry:
        return self._write("checkin.reply", checkin=checkin, status=status, note=note)


@dataclass
class DemoTeam:
    """The demo's home and its two teammates' identities (Bo is an admin, so he may start a roll call)."""

    home: Path
    bo: Identity
    cy: Identity


def create_demo_home(home: Path) -> DemoTeam:
    """Found the demo team in ``home``: you (the owner), Bo (admin) and Cy (member), rooms general and logistics."""
    bo, cy = Identity.generate(), Identity.generate()
    with Profile.init(home, TEAM_NAME, display_name="You") as profile:
        profile.add_member(bo.public_key, "admin", "Bo")
        profile.add_member(cy.public_key, "member", "Cy")
        profile.create_room("logistics", "Fuel, food, transport")
    return DemoTeam(home, bo, cy)


@dataclass
class Director:
    """Runs the demo's script against the teammates, then answers what the person does (acks their FLASH
    messages, answers their roll calls, acknowledges their posts now and then). ``pace`` scales every pause
    (0 in tests)."""

    node: Node
    bo: Teammate
    cy: Teammate
    pace: float = 1.0
    rng: random.Random = field(default_factory=random.Random)
    acked: set[tuple[bytes, bytes]] = field(default_factory=set)  # (teammate, message) acks already given

    async def pause(self, seconds: float) -> None:
        await trio.sleep(seconds * self.pace)

    async def run(self) -> None:
        await self.script()
        await self.respond_forever()

    async def script(self) -> None:
        bo, cy = self.bo, self.cy
        await self.pause(2)
        await bo.post("general", "Morning all. At the north levee staging area: water 40 cm below the crest, rising.")
        await self.pause(4)
        await cy.post("general", "Copy. Pump truck and 200 sandbags on the way, ETA 15 min.")
        await self.pause(4)
        incident = await bo.open_incident("Seepage at levee km 4", 2, location="north levee, km 4")
        await bo.post("general", "Opened an incident for the seepage at km 4 (F2 shows the board).")
        await self.pause(4)
        await cy.update_incident(incident, {"status": "active", "commander": "Bo"})
        await cy.post("logistics", "Fuel for the pumps lasts about 6 hours. Who can fetch diesel?")
        await self.pause(5)
        flash = await bo.post(
            "general", "Seepage at km 4 is growing fast. Everyone off the levee crest NOW.", flash=True
        )
        await self.pause(3)
        await cy.ack(flash.id)
        await cy.post("general", "Off the crest, team of 4 at the pump truck.", reply_to=flash.id)
        await self.pause(4)
        checkin = await bo.request_checkin("general", "Roll call after the evacuation: are you safe?")
        await self.pause(3)
        await cy.reply_checkin(checkin, "safe")
        await self.pause(3)
        await bo.open_task("Sandbag ring around the boil at km 4", owner=cy.me, incident=incident)
        await self.pause(4)
        await bo.update_incident(incident, {"severity": 1, "summary": "Boil 2 m from the toe; ring being built."})
        await cy.post("general", "Sandbag ring started. Need two more people at km 4.")

    async def respond_forever(self) -> None:
        chatter = list(CHATTER)
        quiet = 0.0
        while True:
            await trio.sleep(max(0.05, self.pace))  # never a busy loop, even at pace 0
            await self.respond()
            quiet += 1
            if chatter and quiet >= 25:
                quiet = 0
                author, room, text = chatter.pop(0)
                await (self.bo if author == "bo" else self.cy).post(room, text)

    async def respond(self) -> None:
        """Acknowledge the person's FLASH messages and answer their roll calls."""
        me = self.node.me
        for member in (self.bo, self.cy):
            for msg in self.node.views.unacknowledged(member.me):
                if msg.author == me and (member.me, msg.id) not in self.acked:
                    self.acked.add((member.me, msg.id))
                    await self.pause(self.rng.uniform(0.5, 2))
                    await member.ack(msg.id)
            for checkin in self.node.views.checkins():
                if checkin.requested_by == me and member.me in checkin.missing:
                    await self.pause(self.rng.uniform(0.5, 2))
                    await member.reply_checkin(checkin.checkin, "safe")


CHATTER: Sequence[tuple[str, str, str]] = (
    ("cy", "logistics", "Diesel sorted: the fire station lends us 200 litres."),
    ("bo", "general", "Water level steady for the last 20 minutes."),
    ("cy", "general", "Sandbag ring at km 4 is 60 cm high. Boil has slowed."),
    ("bo", "logistics", "Hot food at the staging area from 13:00."),
)


def demo_companion(team: DemoTeam, *, pace: float = 1.0) -> Callable[[Node], Awaitable[None]]:
    """What the app runs beside the node: the director with two simulated teammates."""

    async def run(node: Node) -> None:
        director = Director(node, SimulatedTeammate(team.bo, node), SimulatedTeammate(team.cy, node), pace)
        await director.run()

    return run
