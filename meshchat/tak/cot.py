"""Cursor on Target: the events the bridge sends (built with pytak's CoT helpers) and the ones it reads (with
defusedxml: no DTDs, no entity expansion, no external references), each bounded and checked. Pure: no I/O.

What we send: a member's position as a PLI (``a-f-G-U-C``, callsign, team colour, course and speed), an open
incident as a spot marker (``b-m-p-s-m``), a FLASH message as GeoChat to All Chat Rooms (``b-t-f``). What we
read: any unit's position (``a-*`` with a point) and GeoChat (``b-t-f``); everything else is ignored.
"""

from __future__ import annotations

import math
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from meshchat.log.kinds import MAX_CALLSIGN, MAX_RELAY_UID

with warnings.catch_warnings():  # pytak warns at import about optional extras (TLS enrolment, HTTP) we do not use
    warnings.simplefilter("ignore")
    import pytak

MAX_EVENT = 65_536  # bytes: a GeoChat of the longest text ATAK sends is a few KB
MAX_CHAT = 2_000  # characters of a GeoChat we relay; longer ones are cut, and say so
UNKNOWN = 9_999_999.0  # CoT's "no value" for ce, le and hae
ALL_CHAT = "All Chat Rooms"
PLI_TYPE = "a-f-G-U-C"  # a friendly ground unit: how ATAK shows a team member
MARKER_TYPE = "b-m-p-s-m"  # a spot map marker
CHAT_TYPE = "b-t-f"  # GeoChat
SEVERITY_COLOURS = {1: -65536, 2: -65536, 3: -32768, 4: -256, 5: -1}  # ARGB ints, as ATAK writes marker colours


class CotError(ValueError):
    """Bytes that are not a CoT event we can read: the event is dropped (a stream that keeps sending them, or
    one over the bounds, ends)."""


# ---- sending ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    lat: float
    lon: float
    ce: float = UNKNOWN  # circular error, metres
    hae: float = UNKNOWN  # height above the ellipsoid, metres


def pli(
    *,
    uid: str,
    callsign: str,
    place: Place,
    time_ms: int,
    stale_ms: int,
    now_ms: int,
    colour: str,
    gps: bool,
    course: float | None = None,
    speed: float | None = None,
    remarks: str = "",
) -> bytes:
    """A member's position for TAK maps: its callsign in the team's colour, as ATAK's own PLI looks."""
    children = [
        _element("__group", name=colour, role="Team Member"),
        _element("precisionlocation", geopointsrc="GPS" if gps else "USER", altsrc="GPS" if gps else "???"),
    ]
    if course is not None or speed is not None:
        children.append(_element("track", course=f"{course or 0:.1f}", speed=f"{speed or 0:.2f}"))
    if remarks:
        children.append(_text_element("remarks", remarks))
    return _event(uid, PLI_TYPE, "m-g" if gps else "h-e", place, children, callsign, time_ms, stale_ms, now_ms)


def marker(*, uid: str, title: str, place: Place, severity: int, remarks: str, now_ms: int, stale_ms: int) -> bytes:
    """An incident as a spot marker, coloured by severity, its details in the remarks."""
    children = [
        _element("color", argb=str(SEVERITY_COLOURS.get(severity, -1))),
        _element("usericon", iconsetpath="COT_MAPPING_SPOTMAP/b-m-p-s-m/" + str(SEVERITY_COLOURS.get(severity, -1))),
        _text_element("remarks", remarks),
        _element("archive"),
    ]
    return _event(uid, MARKER_TYPE, "h-g-i-g-o", place, children, title, now_ms, stale_ms, now_ms)


def geochat(
    *, message_uid: str, sender_uid: str, sender_callsign: str, text: str, place: Place, now_ms: int, stale_ms: int
) -> bytes:
    """A message to All Chat Rooms, as ATAK sends one (taky and TAK Server route it to every user)."""
    chat = _element(
        "__chat",
        parent="RootContactGroup",
        groupOwner="false",
        chatroom=ALL_CHAT,
        id=ALL_CHAT,
        senderCallsign=sender_callsign,
    )
    chat.append(_element("chatgrp", uid0=sender_uid, uid1=ALL_CHAT, id=ALL_CHAT))
    remarks = _text_element("remarks", text)
    remarks.set("source", f"BAO.F.ATAK.{sender_uid}")
    remarks.set("to", ALL_CHAT)
    remarks.set("time", cot_time(now_ms))
    children = [chat, _element("link", uid=sender_uid, type=PLI_TYPE, relation="p-p"), remarks]
    return _event(message_uid, CHAT_TYPE, "h-g-i-g-o", place, children, None, now_ms, stale_ms, now_ms)


def cot_time(ms: int) -> str:
    """CoT's time format: ``2026-12-03T11:00:00.000Z``."""
    when = datetime.fromtimestamp(ms / 1000, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _event(
    uid: str,
    cot_type: str,
    how: str,
    place: Place,
    children: list[ET.Element],
    callsign: str | None,
    time_ms: int,
    stale_ms: int,
    now_ms: int,
) -> bytes:
    point = pytak.cot_point(place.lat, place.lon, _metres(place.ce), _metres(place.hae), UNKNOWN, precision=7)
    detail = pytak.cot_detail(*children, flow_tag=False)  # pytak's flow tag would name this machine
    event = pytak.cot_event(uid=uid, cot_type=cot_type, how=how, point=point, detail=detail, callsign=callsign)
    # pytak stamps its own wall clock; a position's time is when the fix was taken, and its stale time ours.
    event.set("time", cot_time(now_ms))
    event.set("start", cot_time(time_ms))
    event.set("stale", cot_time(stale_ms))
    return bytes(pytak.serialize_cot(event, xml_declaration=False))


def _element(tag: str, **attributes: str) -> ET.Element:
    element = ET.Element(tag)
    for name, value in attributes.items():
        element.set(name, value)
    return element


def _text_element(tag: str, text: str) -> ET.Element:
    element = ET.Element(tag)
    element.text = text
    return element


def _metres(value: float) -> str:
    return f"{value:.1f}"


# ---- reading ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chat:
    """A GeoChat message: who sent it (their uid and callsign), to which room, and its text."""

    sender_uid: str
    sender_callsign: str
    chatroom: str
    text: str


@dataclass(frozen=True, slots=True)
class CotEvent:
    """What the bridge takes from an event: who (uid, callsign), what (type), where, when, and any chat."""

    uid: str
    type: str
    how: str
    time_ms: int
    stale_ms: int
    place: Place | None  # None: no usable point (CoT's 0,0 with unknown error is "nowhere")
    callsign: str
    course: float | None = None
    speed: float | None = None
    chat: Chat | None = None

    @property
    def is_position(self) -> bool:
        return self.type.startswith("a-") and self.place is not None

    @property
    def is_chat(self) -> bool:
        return self.type == CHAT_TYPE and self.chat is not None


def read_event(data: bytes) -> CotEvent:
    """One CoT event from untrusted bytes; raises :class:`CotError` saying why it cannot be used."""
    if len(data) > MAX_EVENT:
        raise CotError(f"an event of {len(data):,} bytes (at most {MAX_EVENT:,})")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise CotError(f"not well-formed XML without DTD or entities: {type(exc).__name__}") from None
    if root.tag != "event":
        raise CotError(f"a <{root.tag[:20]}> is not a CoT event")
    uid, cot_type = root.get("uid", ""), root.get("type", "")
    if not 0 < len(uid) <= MAX_RELAY_UID or not uid.strip():
        raise CotError(f"an event's uid must be 1 to {MAX_RELAY_UID} characters")
    if not 0 < len(cot_type) <= 64:
        raise CotError("an event needs a type")
    detail = root.find("detail")
    contact = detail.find("contact") if detail is not None else None
    callsign = _cut(contact.get("callsign", "") if contact is not None else "", MAX_CALLSIGN)
    track = detail.find("track") if detail is not None else None
    return CotEvent(
        uid=uid,
        type=cot_type,
        how=root.get("how", "")[:16],
        time_ms=_time(root.get("time")),
        stale_ms=_time(root.get("stale")),
        place=_place(root.find("point")),
        callsign=callsign,
        course=_number(track.get("course"), 0, 360) if track is not None else None,
        speed=_number(track.get("speed"), 0, 1000) if track is not None else None,
        chat=_chat(detail) if cot_type == CHAT_TYPE and detail is not None else None,
    )


def _place(point: ET.Element | None) -> Place | None:
    if point is None:
        return None
    lat, lon = _number(point.get("lat"), -90, 90), _number(point.get("lon"), -180, 180)
    if lat is None or lon is None:
        raise CotError("a point's lat and lon must be numbers within range")
    ce = _number(point.get("ce"), 0, math.inf)
    if lat == 0 and lon == 0 and (ce is None or ce >= UNKNOWN):
        return None  # ATAK's "I do not know where I am"
    hae = _number(point.get("hae"), -12_000, 100_000)
    return Place(lat, lon, UNKNOWN if ce is None else ce, UNKNOWN if hae is None else hae)


def _chat(detail: ET.Element) -> Chat | None:
    chat, remarks, link = detail.find("__chat"), detail.find("remarks"), detail.find("link")
    if chat is None or remarks is None:
        return None
    sender = (link.get("uid", "") if link is not None else "") or chat.get("sender", "")
    text = "".join(remarks.itertext())
    if not text.strip() or not 0 < len(sender) <= MAX_RELAY_UID:
        return None
    if len(text) > MAX_CHAT:
        text = f"{text[:MAX_CHAT]} [cut: {len(text) - MAX_CHAT:,} more characters]"
    room = _cut(chat.get("chatroom", ""), 100)
    return Chat(sender, _cut(chat.get("senderCallsign", ""), MAX_CALLSIGN), room, text)


def _time(text: str | None) -> int:
    if not text or len(text) > 40:
        raise CotError("an event needs its time and stale (ISO 8601)")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CotError("an event's time is not ISO 8601") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _number(text: str | None, lo: float, hi: float) -> float | None:
    if text is None or len(text) > 32:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and lo <= value <= hi else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
