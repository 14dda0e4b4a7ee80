"""The TAK bridge: runs beside a node (``meshchat tak``), on the node's public API only.

Out, to TAK: each member's latest position as a PLI (while it is fresh: a position stale by our rules goes
stale on TAK maps at the same moment), each open incident that has coordinates as a marker (a closed one is
sent once more, already stale, so maps drop it), and each FLASH message as GeoChat to All Chat Rooms. Only
these: routine chat, rooms, tasks and membership never leave the team.

In, from TAK: a unit's position becomes a ``position.relay`` entry and a GeoChat message a ``msg.post`` in the
bridge's room (``tak``), both written by this node's member and marked with the outsider's uid and callsign
(``via``): never as a member's own, never FLASH, never in another room. What comes in is bounded: positions by
the same policy as a GPS (moved 50 m or 5 minutes passed, at most every 30 s per outsider), chat by rate per
sender and in all, both under a total budget per minute; duplicates (a server replaying its cache) are dropped.
The trust boundary is in docs/tak.md.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import trio

from meshchat.events import EntriesAdded, MembershipChanged, NodeProblem
from meshchat.geo.point import Point
from meshchat.gps import RETRY_S, ReportPolicy
from meshchat.log.clock import wall_ms
from meshchat.log.codec import Value
from meshchat.log.kinds import severity_label
from meshchat.log.positions import STALE_MS, Fix, Report
from meshchat.log.views import POSITION_KINDS, Message, Outsider, TrackedObject, location_text
from meshchat.profile import ProfileError
from meshchat.tak import cot
from meshchat.tak.cot import CotError, CotEvent, Place
from meshchat.tak.transport import Link, Target, open_link

if TYPE_CHECKING:
    from meshchat.node import Node

log = logging.getLogger(__name__)
V = TypeVar("V")
Outgoing = tuple[str, object, bytes]  # uid, what it shows (resent when that changes), the event

RELEVANT_KINDS = POSITION_KINDS | {"incident.open", "incident.update", "msg.post", "msg.retract", "member.profile"}
MARKER_STALE_MS = 3_600_000  # an open incident's marker lives an hour unless republished
CHAT_STALE_MS = 86_400_000
DEBOUNCE_S = 0.2  # changes that come together are sent together
ROOM_TOPIC = "TAK users' messages, relayed by a bridge: they are not members of the team"


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    target: Target
    room: str = "tak"
    colour: str = "Cyan"  # the team's colour on TAK maps
    republish_s: float = 60.0  # everything again this often (a server restarted, a datagram lost)
    flash_lookback_ms: int = 3_600_000  # FLASH messages up to this old when the bridge starts go out too
    outsider_policy: ReportPolicy = field(default_factory=ReportPolicy)
    positions_per_minute: int = 120  # relayed positions, in all
    chats_per_minute: int = 60  # relayed messages, in all
    chats_per_sender_per_minute: int = 10
    tracked_outsiders: int = 1000  # outsiders whose last relayed position is remembered (the oldest go)
    retry_s: tuple[float, ...] = RETRY_S


@dataclass
class BridgeStats:
    sent: int = 0
    relayed_positions: int = 0
    relayed_messages: int = 0
    dropped: int = 0  # over a budget, a duplicate, or not due yet
    unreadable: int = 0  # events that are not CoT we read
    connections: int = 0


class Budget:
    """At most ``per_minute`` in any minute, as a token bucket (a burst of up to ``per_minute``)."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.tokens = float(per_minute)
        self.at: float | None = None  # trio's clock, from the first take (made before trio may run)

    def take(self) -> bool:
        now = trio.current_time()
        elapsed = 0.0 if self.at is None else now - self.at
        self.tokens = min(self.capacity, self.tokens + elapsed * self.capacity / 60.0)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def why(exc: BaseException) -> str:
    """What went wrong, in words: trio reports a broken TLS stream with no message of its own, its cause
    (e.g. the server's "certificate required" alert) says it."""
    cause = exc.__cause__
    return str(cause or exc) or type(exc).__name__


class TakBridge:
    """``await bridge.run()`` beside a running node; it connects, and reconnects with backoff, until cancelled."""

    def __init__(self, node: Node, settings: BridgeSettings, *, clock: Callable[[], int] = wall_ms) -> None:
        self.node = node
        self.settings = settings
        self.clock = clock
        self.stats = BridgeStats()
        self.prefix = f"meshchat.{node.team_id.hex()[:8]}."  # our events; ignored when they come back
        self.room: bytes | None = None
        self._sent: dict[str, object] = {}  # uid -> what was sent for it (resent only when that changes)
        self._flash_floor = 0
        self._flashes_sent: set[bytes] = set()
        self._outsiders: OrderedDict[str, tuple[float, Point]] = OrderedDict()
        self._chats_seen: OrderedDict[str, None] = OrderedDict()
        self._positions = Budget(settings.positions_per_minute)
        self._chats = Budget(settings.chats_per_minute)
        self._senders: OrderedDict[str, Budget] = OrderedDict()
        self._problems: set[str] = set()

    def member_uid(self, key: bytes) -> str:
        return f"{self.prefix}{key.hex()[:16]}"

    # ---- running -------------------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self.start()
        task_status.started()
        failures = 0
        target = self.settings.target
        while True:
            try:
                async with open_link(target) as link:
                    self.stats.connections += 1
                    log.info("TAK: connected to %s", target)
                    problem = await self.serve(link)
                    failures = 0
            except OSError as exc:
                problem = f"cannot reach {target}: {exc.strerror or exc}"
            delay = self.settings.retry_s[min(failures, len(self.settings.retry_s) - 1)]
            failures += 1
            log.warning("TAK: %s; trying again in %g s", problem, delay)
            await trio.sleep(delay)

    async def start(self) -> None:
        """Before the first connection: the room (made if need be; raises ProfileError if it cannot be), and
        how far back FLASH messages go out."""
        self.room = await self._room()
        self._flash_floor = self.clock() - self.settings.flash_lookback_ms

    async def _room(self) -> bytes:
        """The room TAK users' messages go to; made (by an admin's bridge) if the team has none of that name."""
        name = self.settings.room
        room = self.node.views.find_room(name)
        if room is not None:
            return room.room
        if not self.node.may("room.create"):
            raise ProfileError(
                f"the team has no room {name!r} for TAK users: an admin makes it ('meshchat room create {name}')"
            )
        return await self.node.create_room(name, ROOM_TOPIC)

    async def serve(self, link: Link) -> str:
        """One connection: publish and read until either side fails; returns why it ended."""
        self._sent.clear()  # a new connection (perhaps a restarted server) gets everything
        ended: list[str] = []
        async with trio.open_nursery() as nursery:

            async def publish() -> None:
                try:
                    await self._publish_loop(link)
                except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    ended.append(f"sending failed: {why(exc)}")
                nursery.cancel_scope.cancel()

            nursery.start_soon(publish)
            try:
                async for raw in link.events():
                    await self._received(raw)
                ended.append("the other side closed the connection")
            except CotError as exc:
                ended.append(f"the stream is not CoT: {exc}")
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                ended.append(f"reading failed: {why(exc)}")
            nursery.cancel_scope.cancel()
        return ended[0] if ended else "the connection ended"

    # ---- out: members, incidents, FLASH --------------------------------------------------------------------

    async def _publish_loop(self, link: Link) -> None:
        with self.node.events() as changes:
            await self.publish(link)
            while True:
                with trio.move_on_after(self.settings.republish_s) as timer:
                    async for event in changes:
                        if isinstance(event, MembershipChanged) or (
                            isinstance(event, EntriesAdded) and event.kinds & RELEVANT_KINDS
                        ):
                            break
                    await trio.sleep(DEBOUNCE_S)
                await self.publish(link, again=timer.cancelled_caught)

    async def publish(self, link: Link, *, again: bool = False) -> int:
        """Send what changed since the last send (``again``: everything still current). Returns how many."""
        now = self.clock()
        outgoing = self._members(now) + self._incidents(now)
        count = 0
        for uid, version, event in outgoing:
            if again or self._sent.get(uid) != version:
                await link.send(event)
                self._sent[uid] = version
                count += 1
        for message in self.node.views.flashes(after_clock=self._flash_floor):
            if message.id not in self._flashes_sent:
                await link.send(self._flash(message, now))
                self._flashes_sent.add(message.id)
                count += 1
        self.stats.sent += count
        return count

    def _members(self, now: int) -> list[Outgoing]:
        out: list[Outgoing] = []
        members = self.node.membership.members
        for fix in self.node.views.positions():
            stale = fix.time + STALE_MS
            member = members.get(fix.author)
            if stale <= now or member is None or member.role is None:
                continue  # a stale position goes stale on TAK maps too; a removed member is not shown
            uid = self.member_uid(fix.author)
            event = cot.pli(
                uid=uid,
                callsign=xml_text(self.node.name_of(fix.author)),
                place=Place(fix.lat_e7 / 1e7, fix.lon_e7 / 1e7, float(fix.accuracy_m), _alt(fix)),
                time_ms=fix.time,
                stale_ms=stale,
                now_ms=now,
                colour=self.settings.colour,
                gps=fix.source == "gps",
                course=fix.heading_deg,
                speed=None if fix.speed_cms is None else fix.speed_cms / 100,
                remarks=xml_text(f"meshchat: {self.node.team_name}"),
            )
            out.append((uid, (fix.seq, self.node.name_of(fix.author)), event))
        return out

    def _incidents(self, now: int) -> list[Outgoing]:
        out: list[Outgoing] = []
        for incident in self.node.views.incidents():
            place = _incident_place(incident)
            uid = f"{self.prefix}incident.{incident.obj.hex()}"
            if place is None:
                continue
            open_ = incident.get("status") != "closed"
            if not open_ and uid not in self._sent:
                continue  # closed before we ever showed it
            severity = incident.get("severity")
            level = severity if isinstance(severity, int) else 3
            title = f"{severity_label(level)}: {_words(incident.get('title'))}"
            event = cot.marker(
                uid=uid,
                title=xml_text(title),
                place=place,
                severity=level,
                remarks=xml_text(_incident_remarks(incident)),
                now_ms=now,
                stale_ms=now + MARKER_STALE_MS if open_ else now,
            )
            out.append((uid, (incident.last_change.entry_id, open_), event))
        return out

    def _flash(self, message: Message, now: int) -> bytes:
        sender = self.member_uid(message.author)
        place = _message_place(message) or _fix_place(self._latest_fix(message.author))
        name = self.node.name_of(message.author)
        return cot.geochat(
            message_uid=f"GeoChat.{sender}.{cot.ALL_CHAT}.{message.id.hex()[:32]}",
            sender_uid=sender,
            sender_callsign=xml_text(name),
            text=xml_text(f"FLASH from {name}: {message.text}"),
            place=place or Place(0.0, 0.0),
            now_ms=now,
            stale_ms=now + CHAT_STALE_MS,
        )

    def _latest_fix(self, member: bytes) -> Fix | None:
        return next((f for f in self.node.views.positions() if f.author == member), None)

    # ---- in: positions and chat from TAK users -------------------------------------------------------------

    async def _received(self, raw: bytes) -> None:
        try:
            event = cot.read_event(raw)
        except CotError as exc:
            self.stats.unreadable += 1
            log.debug("TAK: dropped an event: %s", exc)
            return
        if event.uid.startswith(self.prefix) or (event.chat and event.chat.sender_uid.startswith(self.prefix)):
            return  # our own, back from the server or the multicast group
        if event.is_chat:
            await self._chat(event)
        elif event.is_position:
            await self._position(event)

    async def _position(self, event: CotEvent) -> None:
        assert event.place is not None
        point = Point.degrees(event.place.lat, event.place.lon)
        now = trio.current_time()
        last = self._outsiders.get(event.uid)
        if not self.settings.outsider_policy.due(last, now, point) or not self._positions.take():
            self.stats.dropped += 1
            return
        self._remember(self._outsiders, event.uid, (now, point), self.settings.tracked_outsiders)
        ce, hae = event.place.ce, event.place.hae
        report = Report(
            point.lat_e7,
            point.lon_e7,
            math.ceil(min(ce, 1_000_000.0)),
            fix_ms=max(0, min(event.time_ms, self.node.team_now())),  # never fresher than its arrival, team time
            alt_m=round(hae) if hae != cot.UNKNOWN else None,
            heading_deg=round(event.course) % 360 if event.course is not None else None,
            speed_cms=round(event.speed * 100) if event.speed is not None else None,
        )
        if await self._write(self.node.relay_position(Outsider("tak", event.uid, event.callsign), report)):
            self.stats.relayed_positions += 1

    async def _chat(self, event: CotEvent) -> None:
        chat = event.chat
        assert chat is not None and self.room is not None
        sender = self._senders.get(chat.sender_uid) or Budget(self.settings.chats_per_sender_per_minute)
        self._remember(self._senders, chat.sender_uid, sender, self.settings.tracked_outsiders)
        if event.uid in self._chats_seen or not sender.take() or not self._chats.take():
            self.stats.dropped += 1
            return
        self._remember(self._chats_seen, event.uid, None, 10_000)
        where = None
        if event.place is not None and event.place.ce < cot.UNKNOWN:
            point = Point.degrees(event.place.lat, event.place.lon)
            where = {"lat_e7": point.lat_e7, "lon_e7": point.lon_e7}
        via = Outsider("tak", chat.sender_uid, chat.sender_callsign)
        if await self._write(self.node.relay_post(self.room, chat.text, via, location=where)):
            self.stats.relayed_messages += 1

    async def _write(self, write: Awaitable[object]) -> bool:
        try:
            await write
        except ProfileError as exc:  # not allowed any more, a full disk: said once, dropped
            message = f"the TAK bridge could not write: {exc}"
            if message not in self._problems:
                self._problems.add(message)
                log.warning("%s", message)
                self.node.publish(NodeProblem(message))
            return False
        return True

    @staticmethod
    def _remember(table: OrderedDict[str, V], key: str, value: V, limit: int) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > limit:
            table.popitem(last=False)


def xml_text(text: str) -> str:
    """Text XML 1.0 can carry: characters it forbids (most C0 controls, lone surrogates, U+FFFE/FFFF) are
    dropped, or the event would not parse at the other end. (TAK shows what we send; our own text is
    members' text, made safe for terminals where it is shown here.)"""
    return "".join(c for c in text if _xml_char(ord(c)))


def _xml_char(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


def _alt(fix: Fix) -> float:
    return float(fix.alt_m) if fix.alt_m is not None else cot.UNKNOWN


def _incident_place(incident: TrackedObject) -> Place | None:
    where = incident.get("location")
    if not isinstance(where, dict):
        return None
    lat, lon = where.get("lat_e7"), where.get("lon_e7")
    return Place(lat / 1e7, lon / 1e7) if isinstance(lat, int) and isinstance(lon, int) else None


def _incident_remarks(incident: TrackedObject) -> str:
    parts = [f"status {_words(incident.get('status'))}"]
    for name in ("commander", "summary"):
        value = _words(incident.get(name))
        if value:
            parts.append(f"{name} {value}")
    where = incident.get("location")
    if isinstance(where, dict) and where.get("text"):
        parts.append(f"at {location_text({'text': where['text']})}")
    return "meshchat incident: " + "; ".join(parts)


def _message_place(message: Message) -> Place | None:
    where = message.location
    if not isinstance(where, dict):
        return None
    lat, lon = where.get("lat_e7"), where.get("lon_e7")
    return Place(lat / 1e7, lon / 1e7) if isinstance(lat, int) and isinstance(lon, int) else None


def _words(value: Value) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _fix_place(fix: Fix | None) -> Place | None:
    return None if fix is None else Place(fix.lat_e7 / 1e7, fix.lon_e7 / 1e7, float(fix.accuracy_m))
