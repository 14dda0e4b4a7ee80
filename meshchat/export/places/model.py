"""The places of an operation, read from the report model (which reads the views with authority applied as
the app does): nothing here decides what an entry means. Only what the log says counts: a fix's time is the
time it claims, beside the clock of its entry (no node's receipt time: the files are a function of the log).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from meshchat.export.reports.model import ReportData
from meshchat.export.reports.text import clean
from meshchat.geo.point import Point
from meshchat.log.codec import Value
from meshchat.log.kinds import severity_label
from meshchat.log.positions import Fix, time_doubtful
from meshchat.store.positions import Track

Properties = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Placed:
    """Something that happened at a point: an incident, a task, a roll-call answer, a message."""

    kind: str
    point: Point
    name: str  # cleaned
    properties: Properties


@dataclass(frozen=True, slots=True)
class MemberTrack:
    member: bytes
    name: str  # cleaned
    track: Track


@dataclass(frozen=True, slots=True)
class Places:
    team_name: str
    team_id: bytes
    tracks: tuple[MemberTrack, ...]
    relayed: tuple[Fix, ...]
    placed: tuple[Placed, ...]


def places_of(data: ReportData, team_name: str) -> Places:
    """The places in ``data``; ``team_name`` as the log names the team (the genesis entry, not a node's
    settings: the files must come out the same from the log alone)."""
    tracks = tuple(MemberTrack(t.member, clean(data.name(t.member)), t) for t in data.tracks)
    placed: list[Placed] = []
    for obj in data.incidents:
        point = point_of(obj.get("location"))
        if point is not None:
            severity = obj.get("severity")
            title = str(obj.get("title", ""))
            label = f"{severity_label(severity)}: {title}"
            placed.append(
                Placed(
                    "incident",
                    point,
                    clean(label),
                    {
                        "incident": obj.obj.hex(),
                        "title": clean(title),
                        "severity": severity if isinstance(severity, int) else None,
                        "status": _text(obj.get("status")),
                        "commander": _text(obj.get("commander")),
                        "summary": _text(obj.get("summary")),
                        "place": _place_text(obj.get("location")),
                        "opened_by": data.name(obj.opened_by),
                        "opened_utc": utc_text(obj.opened_clock),
                        "last_change_utc": utc_text(obj.last_change.clock),
                    },
                )
            )
    for obj in data.tasks:
        point = point_of(obj.get("location"))
        if point is not None:
            owner = obj.get("owner")
            placed.append(
                Placed(
                    "task",
                    point,
                    clean(str(obj.get("title", ""))),
                    {
                        "task": obj.obj.hex(),
                        "incident": obj.parent.hex() if obj.parent else None,
                        "status": _text(obj.get("status")),
                        "owner": data.name(owner) if isinstance(owner, bytes) else None,
                        "place": _place_text(obj.get("location")),
                        "opened_utc": utc_text(obj.opened_clock),
                    },
                )
            )
    for checkin, replies in sorted(data.replies.items()):
        for reply in replies:
            point = point_of(reply.location)
            if point is not None:
                placed.append(
                    Placed(
                        "answer",
                        point,
                        clean(f"{data.name(reply.author)}: {reply.status}"),
                        {
                            "rollcall": checkin.hex(),
                            "member": reply.author.hex(),
                            "name": clean(data.name(reply.author)),
                            "status": reply.status,
                            "note": clean(reply.note),
                            "place": _place_text(reply.location),
                            "clock_utc": utc_text(reply.clock),
                        },
                    )
                )
    for msg in data.messages:
        point = point_of(msg.location)
        if point is not None:
            sender = data.sender(msg, msg.author)
            placed.append(
                Placed(
                    "message",
                    point,
                    clean(sender),
                    {
                        "message": msg.id.hex(),
                        "author": msg.author.hex(),
                        "sender": clean(sender),
                        "room": clean(data.room_name(msg.room)),
                        "text": clean(msg.text),
                        "retracted": msg.retracted,
                        "clock_utc": utc_text(msg.clock),
                    },
                )
            )
    return Places(team_name, data.team_id, tracks, tuple(data.relayed), tuple(placed))


def fix_properties(fix: Fix) -> Properties:
    """What a position report says, with both its times: the one it claims and its entry's clock."""
    point = Point(fix.lat_e7, fix.lon_e7)
    return {
        "seq": fix.seq,
        "fix_utc": utc_text(fix.fix_ms),
        "clock_utc": utc_text(fix.clock),
        "time_doubtful": time_doubtful(fix.fix_ms, fix.clock, None),
        "accuracy_m": fix.accuracy_m,
        "alt_m": fix.alt_m,
        "heading_deg": fix.heading_deg,
        "speed_cms": fix.speed_cms,
        "source": fix.source,
        "mgrs": point.mgrs(),
    }


def point_of(location: Value) -> Point | None:
    if not isinstance(location, dict):
        return None
    lat, lon = location.get("lat_e7"), location.get("lon_e7")
    return Point(lat, lon) if isinstance(lat, int) and isinstance(lon, int) else None


def utc_text(ms: int) -> str:
    """``2026-11-25T07:10:42.123Z``: ISO 8601, which QGIS and Google Earth read as a time."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _text(value: Value) -> str | None:
    return None if value is None else clean(str(value))


def _place_text(location: Value) -> str | None:
    if isinstance(location, dict) and isinstance(location.get("text"), str):
        return clean(str(location["text"]))
    return None
