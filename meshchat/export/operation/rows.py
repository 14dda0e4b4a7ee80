"""The rows of each table of ``operation.sqlite``, from the same views and rules the app and the reports use.

Nothing here decides what an entry means: members and their roles come from the evaluated
:class:`~meshchat.log.rules.Membership`; rooms, messages with their marks, incidents, tasks and roll calls
from the report model (``meshchat.export.reports.model.collect``), which reads the store's views with
authority applied exactly as the UI does. This module only lays those facts out as rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from meshchat.export.entries import Placed, json_text, json_value
from meshchat.export.operation import schema
from meshchat.export.reports.model import ReportData
from meshchat.export.reports.text import clean
from meshchat.export.summary import role_label
from meshchat.geo.point import Point
from meshchat.log.codec import Value
from meshchat.log.kinds import severity_label
from meshchat.log.positions import Fix, time_doubtful
from meshchat.log.rules import Membership
from meshchat.log.views import FieldChange, TrackedObject, location_text

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Source:
    """Everything the tables are made of, read in one snapshot of one store."""

    team_id: bytes
    team_name: str
    membership: Membership
    data: ReportData  # the report model, unfiltered
    heads: dict[bytes, int]  # author -> how many entries of theirs the log holds
    entries: Callable[[], Iterable[Placed]]  # the whole log, in the team's order, with its times
    version: int = schema.SCHEMA_VERSION  # the schema the file is written in (verify: the one it found)


def sql_time(clock_ms: int) -> str:
    """``2026-11-25 07:10:42.123``: UTC, a form SQLite's date functions and DuckDB's casts read."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(clock_ms // 1000)) + f".{clock_ms % 1000:03d}"


def _text(value: Value) -> str:
    """A register value as text: strings cleaned, members and ids as hex, locations as text."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return clean(location_text(value))
    if value is None:
        return ""
    return json_text(json_value(value)) if isinstance(value, list) else str(value)


def _opt_text(value: Value) -> str | None:
    return None if value is None else _text(value)


def _hex(value: Value) -> str | None:
    return value.hex() if isinstance(value, bytes) else None


def _int(value: Value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def team(src: Source) -> Iterator[Row]:
    founder = src.membership.founder
    created = src.membership.members[founder].since if founder in src.membership.members else 0
    yield (
        src.team_id.hex(),
        clean(src.team_name),
        founder.hex() if founder else "",
        created,
        sql_time(created),
        sum(src.heads.values()),
        src.version,
    )


def members(src: Source) -> Iterator[Row]:
    m = src.membership
    for key in sorted(set(m.members) | set(src.heads)):
        member = m.members.get(key)
        since = member.since if member else 0
        yield (
            key.hex(),
            clean(member.name if member else ""),
            clean(member.callsign if member else ""),
            clean(src.data.name(key)),
            role_label(m, key),
            _hex(member.added_by) if member else None,
            since,
            sql_time(since),
            _hex(member.removed_by) if member else None,
            member.removed_upto if member else None,
            src.heads.get(key, 0),
        )


def member_roles(src: Source) -> Iterator[Row]:
    for key, member in sorted(src.membership.members.items()):
        for at, role in member.roles:
            label = role.label if role is not None else "removed"
            yield key.hex(), label, at.clock, sql_time(at.clock), at.author.hex(), at.seq


def rooms(src: Source) -> Iterator[Row]:
    for room in src.data.rooms.values():
        yield (
            room.room.hex(),
            clean(room.name),
            clean(room.topic),
            int(room.archived),
            room.created_by.hex(),
            room.clock,
            sql_time(room.clock),
        )


def messages(src: Source) -> Iterator[Row]:
    data = src.data
    for msg in data.messages:
        location = msg.location
        yield (
            msg.id.hex(),
            msg.room.hex(),
            msg.author.hex(),
            msg.seq,
            msg.clock,
            sql_time(msg.clock),
            msg.priority,
            int(msg.ack_required),
            len(data.acks.get(msg.id, [])),
            int(msg.retracted or msg.id in data.retractions),
            int(msg.pinned),
            _hex(msg.reply_to),
            clean(location_text(location)) if isinstance(location, dict) else None,
            clean(msg.text),
        )


def attachments(src: Source) -> Iterator[Row]:
    for msg in src.data.messages:
        for position, file in enumerate(msg.files, 1):
            yield (
                msg.id.hex(),
                position,
                file.blob.hex(),
                file.size,
                clean(file.name),
                file.type,
                file.width,
                file.height,
            )


def acks(src: Source) -> Iterator[Row]:
    for target, marks in src.data.acks.items():
        for mark in marks:
            yield target.hex(), mark.author.hex(), mark.seq, mark.clock, sql_time(mark.clock)


def retractions(src: Source) -> Iterator[Row]:
    for target, marks in src.data.retractions.items():
        for mark in marks:
            yield target.hex(), mark.author.hex(), mark.seq, mark.clock, sql_time(mark.clock)


def pins(src: Source) -> Iterator[Row]:
    shown = {msg.id for msg in src.data.messages}
    for pin in src.data.pins:
        other = src.data.pinned_other.get(pin.target)
        if pin.target not in shown and other is None:
            continue  # a pin of an entry the log does not hold (or that never had effect): nothing to point at
        kind = other.kind if other is not None else "msg.post"
        yield pin.target.hex(), kind, pin.author.hex(), pin.seq, pin.clock, sql_time(pin.clock)


def incidents(src: Source) -> Iterator[Row]:
    for obj in src.data.incidents:
        last = obj.last_change
        yield (
            obj.obj.hex(),
            _text(obj.get("title")),
            _int(obj.get("severity")),
            severity_label(obj.get("severity")),
            _text(obj.get("status")),
            _opt_text(obj.get("commander")),
            _opt_text(obj.get("location")),
            _opt_text(obj.get("summary")),
            _hex(obj.parent),
            obj.opened_by.hex(),
            obj.opened_clock,
            sql_time(obj.opened_clock),
            last.clock,
            sql_time(last.clock),
        )


def _history(objects: Iterable[TrackedObject]) -> Iterator[Row]:
    for obj in objects:
        for change in obj.history:
            yield (obj.obj.hex(), *_change(change))


def _change(change: FieldChange) -> Row:
    return (
        change.name,
        _text(change.value),
        change.author.hex(),
        change.seq,
        change.clock,
        sql_time(change.clock),
        change.entry_id.hex(),
    )


def incident_history(src: Source) -> Iterator[Row]:
    return _history(src.data.incidents)


def tasks(src: Source) -> Iterator[Row]:
    for obj in src.data.tasks:
        last = obj.last_change
        yield (
            obj.obj.hex(),
            _hex(obj.parent),
            _text(obj.get("title")),
            _text(obj.get("status")),
            _hex(obj.get("owner")),
            _opt_text(obj.get("location")),
            obj.opened_by.hex(),
            obj.opened_clock,
            sql_time(obj.opened_clock),
            last.clock,
            sql_time(last.clock),
        )


def task_history(src: Source) -> Iterator[Row]:
    return _history(src.data.tasks)


def rollcalls(src: Source) -> Iterator[Row]:
    for c in src.data.checkins:
        statuses = [reply.status for reply in c.replies.values()]
        yield (
            c.checkin.hex(),
            c.room.hex(),
            clean(c.question),
            c.deadline,
            c.requested_by.hex(),
            c.clock,
            sql_time(c.clock),
            statuses.count("safe"),
            len(statuses) - statuses.count("safe"),
            len(c.missing),
        )


def rollcall_answers(src: Source) -> Iterator[Row]:
    latest = {(c.checkin, key): reply.clock for c in src.data.checkins for key, reply in c.replies.items()}
    for checkin, replies in src.data.replies.items():
        for r in replies:
            is_latest = int(latest.get((checkin, r.author)) == r.clock)
            where = _opt_text(r.location)
            yield (
                checkin.hex(),
                r.author.hex(),
                r.seq,
                r.clock,
                sql_time(r.clock),
                r.status,
                clean(r.note),
                where,
                is_latest,
            )


def rollcall_missing(src: Source) -> Iterator[Row]:
    for c in src.data.checkins:
        for key in c.missing:
            yield c.checkin.hex(), key.hex()


def positions(src: Source) -> Iterator[Row]:
    """Each member's reports (and the ends of their sharing), then each relayed one, by author and seq."""
    rows: list[Row] = []
    for track in src.data.tracks:
        rows += [_fix_row(fix, "fix") for segment in track.segments for fix in segment]
        rows += [(track.member.hex(), seq, clock, sql_time(clock), "cleared", *[None] * 12, 0, None, None, None)
                 for seq, clock in track.cleared]  # fmt: skip
    rows += [_fix_row(fix, "relayed") for fix in src.data.relayed]
    return iter(sorted(rows, key=lambda row: (row[0], row[1])))


def _fix_row(fix: Fix, kind: str) -> Row:
    point = Point(fix.lat_e7, fix.lon_e7)
    via = fix.via
    return (
        fix.author.hex(),
        fix.seq,
        fix.clock,
        sql_time(fix.clock),
        kind,
        point.lat,
        point.lon,
        fix.lat_e7,
        fix.lon_e7,
        point.mgrs(),
        fix.accuracy_m,
        fix.alt_m,
        fix.heading_deg,
        fix.speed_cms,
        fix.source,
        fix.fix_ms,
        sql_time(fix.fix_ms),
        int(time_doubtful(fix.fix_ms, fix.clock, None)),
        via.net if via else None,
        clean(via.uid) if via else None,
        clean(via.callsign) if via else None,
    )


def entries(src: Source) -> Iterator[Row]:
    for placed in src.entries():
        e, received = placed.entry, placed.received
        yield (
            e.id.hex(),
            e.author.hex(),
            e.seq,
            e.clock,
            sql_time(e.clock),
            e.kind,
            e.prev.hex() if e.prev is not None else None,
            json_text(json_value(e.body())),
            e.sig.hex(),
            placed.effective,
            sql_time(placed.effective),
            received,
            sql_time(received) if received is not None else None,
        )


def readme(src: Source) -> Iterator[Row]:
    return iter(schema.readme_rows(src.version))


ROWS: dict[str, Callable[[Source], Iterable[Row]]] = {
    schema.README.name: readme,
    schema.TEAM.name: team,
    schema.MEMBERS.name: members,
    schema.MEMBER_ROLES.name: member_roles,
    schema.ROOMS.name: rooms,
    schema.MESSAGES.name: messages,
    schema.ATTACHMENTS.name: attachments,
    schema.ACKS.name: acks,
    schema.RETRACTIONS.name: retractions,
    schema.PINS.name: pins,
    schema.INCIDENTS.name: incidents,
    schema.INCIDENT_HISTORY.name: incident_history,
    schema.TASKS.name: tasks,
    schema.TASK_HISTORY.name: task_history,
    schema.ROLLCALLS.name: rollcalls,
    schema.ROLLCALL_ANSWERS.name: rollcall_answers,
    schema.ROLLCALL_MISSING.name: rollcall_missing,
    schema.POSITIONS.name: positions,
    schema.ENTRIES.name: entries,
}
