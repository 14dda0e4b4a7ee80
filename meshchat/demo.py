"""``meshchat demo``: a throwaway team where two teammates post, open an incident, raise a FLASH, answer a
roll call and report where they are, so a newcomer sees the product working within a minute.

The teammates are real: Bo and Cy each have a home and identity of their own and run a
:class:`~meshchat.node.Node` on 127.0.0.1 beside yours, in the app's trio run. Your node dials Bo's (a
configured peer) and Cy's node dials yours (an incoming peer), so what they write reaches you through the
same handshake, sync and accept path as a teammate's laptop would, and the peers screen shows both links. The
:class:`Director` only decides what they say and when; before a teammate acts on something (acknowledges a
FLASH, updates an incident) it waits until that teammate's own node has it.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import trio

from meshchat.geo.measure import moved
from meshchat.geo.point import Point
from meshchat.log.codec import Value
from meshchat.log.positions import Report
from meshchat.node import Node, NodeConfig
from meshchat.profile import Profile
from meshchat.store.queries import Views

TEAM_NAME = "Flood response (demo)"
LOOPBACK = "127.0.0.1"
NOTICE = (
    "This is a demo team: Bo and Cy are simulated teammates, each a real node on this machine (F4 shows the "
    "links). Type and press Enter to post; ctrl+f makes the next message FLASH. F2 shows the incident board, "
    "F3 the roll call (s = safe), F5 where everyone is. ctrl+q quits and deletes the demo."
)
POLL_S = 0.02
STAGING = Point.degrees(51.9935, 5.0920)  # the staging area behind a river dike (the Lek near Vianen)
BOIL = moved(STAGING, 330.0, -150.0)  # the seepage at km 4, at the dike's toe
WALK_STEPS = 12  # Cy walks from the staging area to the boil in this many reports
WALK_EVERY_S = 10.0  # while walking, a report this often (times ``pace``)
STILL_EVERY_S = 30.0  # standing, "still here" this often (the GPS policy's minimum; never faster, even in tests)


@dataclass
class DemoTeam:
    """The demo's homes: yours (the owner), Bo's (an admin, so he may start a roll call) and Cy's (a member).
    Each is a real home with its own identity; Bo's and Cy's start with your log, so their nodes know the
    team before the first sync."""

    home: Path
    bo_home: Path
    cy_home: Path


def create_demo_home(home: Path) -> DemoTeam:
    """Found the demo team in ``home`` (rooms general and logistics) and make Bo's and Cy's homes beside it."""
    teammates = {"Bo": ("admin", home.parent / "bo"), "Cy": ("member", home.parent / "cy")}
    with Profile.init(home, TEAM_NAME, display_name="You") as founder:
        for name, (role, their_home) in teammates.items():
            with Profile.create_joining(their_home, founder.team_id, founder.team_name, founder.network_key) as mate:
                founder.add_member(mate.me, role, name)
        founder.create_room("logistics", "Fuel, food, transport")
        raws = list(founder.store.iter_raw())
    for _, their_home in teammates.values():
        with Profile.open(their_home) as mate:
            mate.store.accept_batch(raws)
    return DemoTeam(home, teammates["Bo"][1], teammates["Cy"][1])


@dataclass
class Director:
    """Runs the demo's script against the teammates, then answers what the person does (acks their FLASH
    messages, answers their roll calls, and now and then says something). ``pace`` scales every pause
    (0 in tests)."""

    node: Node  # yours
    bo: Node
    cy: Node
    pace: float = 1.0
    rng: random.Random = field(default_factory=random.Random)
    acked: set[tuple[bytes, bytes]] = field(default_factory=set)  # (teammate, message) acks already given

    async def pause(self, seconds: float) -> None:
        await trio.sleep(seconds * self.pace)

    @staticmethod
    async def sees(mate: Node, has: Callable[[Views], object]) -> None:
        """Until ``mate``'s own node holds what it is about to act on (it arrives by sync, through you)."""
        while not has(mate.views):
            await trio.sleep(POLL_S)

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.report_positions)
            await self.script()
            await self.respond_forever()

    async def report_positions(self) -> None:
        """What the teammates' GPS would say: Bo stays at the staging area, Cy walks to the boil at km 4 and
        works there; each moves a few metres between reports (the F5 map shows them and Cy's track)."""
        for step in range(WALK_STEPS + 1):
            await self.report(self.bo, self.jittered(STAGING, 4.0))
            await self.report(self.cy, self.jittered(walked(step / WALK_STEPS), 3.0))
            await trio.sleep(max(0.05, WALK_EVERY_S * self.pace))
        while True:
            await trio.sleep(max(STILL_EVERY_S, STILL_EVERY_S * self.pace))
            await self.report(self.bo, self.jittered(STAGING, 4.0))
            await self.report(self.cy, self.jittered(BOIL, 8.0))

    def jittered(self, point: Point, metres: float) -> Point:
        return moved(point, self.rng.uniform(-metres, metres), self.rng.uniform(-metres, metres))

    async def report(self, mate: Node, where: Point) -> None:
        accuracy = self.rng.randint(4, 9)
        await mate.report_position(Report(where.lat_e7, where.lon_e7, accuracy, fix_ms=mate.team_now(), source="gps"))

    async def script(self) -> None:
        bo, cy = self.bo, self.cy
        await self.pause(2)
        await bo.post("general", "Morning all. At the north levee staging area: water 40 cm below the crest, rising.")
        await self.pause(4)
        await cy.post("general", "Copy. Pump truck and 200 sandbags on the way, ETA 15 min.")
        await self.pause(4)
        boil: dict[str, Value] = {"text": "north levee, km 4", "lat_e7": BOIL.lat_e7, "lon_e7": BOIL.lon_e7}
        incident = await bo.open_incident("Seepage at levee km 4", 2, location=boil)
        await bo.post("general", "Opened an incident for the seepage at km 4 (F2 shows the board).")
        await self.pause(4)
        await self.sees(cy, lambda v: v.find_object("incident", incident.hex()))
        await cy.update_incident(incident, {"status": "active", "commander": "Bo"})
        await cy.post("logistics", "Fuel for the pumps lasts about 6 hours. Who can fetch diesel?")
        await self.pause(5)
        flash = await bo.post(
            "general", "Seepage at km 4 is growing fast. Everyone off the levee crest NOW.", flash=True
        )
        await self.pause(3)
        await self.sees(cy, lambda v: v.message(flash.id))
        await cy.ack(flash.id)
        await cy.post("general", "Off the crest, team of 4 at the pump truck.", reply_to=flash.id)
        await self.pause(4)
        checkin = await bo.request_checkin("general", "Roll call after the evacuation: are you safe?")
        await self.pause(3)
        await self.sees(cy, lambda v: any(c.checkin == checkin for c in v.checkins()))
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
        """Acknowledge the person's FLASH messages and answer their roll calls, as each teammate's node gets them."""
        me = self.node.me
        for member in (self.bo, self.cy):
            for msg in member.views.unacknowledged(member.me):
                if msg.author == me and (member.me, msg.id) not in self.acked:
                    self.acked.add((member.me, msg.id))
                    await self.pause(self.rng.uniform(0.5, 2))
                    await member.ack(msg.id)
            for checkin in member.views.checkins():
                if checkin.requested_by == me and member.me in checkin.missing:
                    await self.pause(self.rng.uniform(0.5, 2))
                    await member.reply_checkin(checkin.checkin, "safe")


def walked(done: float) -> Point:
    """Where Cy is after ``done`` (0 to 1) of the walk from the staging area to the boil."""
    return moved(STAGING, 330.0 * done, -150.0 * done)


CHATTER: Sequence[tuple[str, str, str]] = (
    ("cy", "logistics", "Diesel sorted: the fire station lends us 200 litres."),
    ("bo", "general", "Water level steady for the last 20 minutes."),
    ("cy", "general", "Sandbag ring at km 4 is 60 cm high. Boil has slowed."),
    ("bo", "logistics", "Hot food at the staging area from 13:00."),
)


def demo_companion(team: DemoTeam, *, pace: float = 1.0) -> Callable[[Node], Awaitable[None]]:
    """What the app runs beside your node: Bo's and Cy's nodes on loopback, peered with yours, and the director."""

    async def run(you: Node) -> None:
        await run_teammates(team, you, pace=pace)

    return run


async def run_teammates(team: DemoTeam, you: Node, *, pace: float = 1.0) -> None:
    """Run Bo's and Cy's nodes and the script until cancelled. Your node dials Bo; Cy dials you if you listen
    (else you dial Cy too)."""
    config = NodeConfig(listen=(LOOPBACK, 0), discovery=False)
    bo = Node.open(team.bo_home, config)
    try:
        cy = Node.open(team.cy_home, config)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(bo.run)
                await nursery.start(cy.run)
                you.add_peer(*bo.listen_addresses[0], "static")
                while not any(p.peer.key == bo.me for p in you.peers()):  # one at a time: each link is told
                    await trio.sleep(POLL_S)  # apart by key, and both nodes are on 127.0.0.1
                if you.listen_addresses:
                    cy.add_peer(*you.listen_addresses[0], "static")
                else:
                    you.add_peer(*cy.listen_addresses[0], "static")
                await Director(you, bo, cy, pace).run()
        finally:
            cy.close()
    finally:
        bo.close()
