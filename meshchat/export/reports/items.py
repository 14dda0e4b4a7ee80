"""The report's events: one line per thing that happened, in the team's one order ``(clock, author, seq)``.

The HTML timeline shows all of them; the ICS-214 activity log picks an incident's own (its updates, its
tasks, pinned messages in its room, roll calls in its room).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from meshchat.export.reports.model import ReportData
from meshchat.log.codec import Value
from meshchat.log.entry import Entry
from meshchat.log.kinds import parse_body, severity_label
from meshchat.log.views import FieldChange, Message, TimeDoubt, TrackedObject, location_text

FIELD_ORDER = ("title", "severity", "status", "commander", "owner", "location", "summary")


@dataclass(frozen=True, slots=True)
class Item:
    clock: int
    author: bytes
    seq: int
    kind: str  # message, incident, task, checkin, reply, pin
    room: bytes | None
    text: str
    message: Message | None = None
    incident: bytes | None = None  # the incident this concerns, if any
    needs_help: bool = False  # a roll-call answer "need help": notable in every report
    doubt: TimeDoubt | None = None  # its time is doubtful (meshchat.log.views.TimeDoubt): reports say so

    @property
    def time_doubt(self) -> TimeDoubt | None:
        return self.message.time_doubt if self.message is not None else self.doubt

    @property
    def order(self) -> tuple[int, bytes, int, str]:
        return (self.clock, self.author, self.seq, self.kind)


def value_text(data: ReportData, value: Value) -> str:
    """A register value as a person reads it (locations with coordinates, member keys as names)."""
    if isinstance(value, dict):
        return location_text(value)
    if isinstance(value, bytes):
        return data.name(value) if len(value) == 32 else value.hex()[:8]
    return "-" if value is None or value == "" else str(value)


def _groups(history: tuple[FieldChange, ...]) -> Iterator[list[FieldChange]]:
    """Register changes grouped by the entry that made them (one update can change several fields)."""
    group: list[FieldChange] = []
    for change in history:
        if group and change.entry_id != group[0].entry_id:
            yield group
            group = []
        group.append(change)
    if group:
        yield group


def field_text(data: ReportData, name: str, value: Value) -> str:
    """A field's value as the board shows it: severities as ``S2 major``, everything else by :func:`value_text`."""
    return severity_label(value) if name == "severity" else value_text(data, value)


def _changes_text(data: ReportData, changes: list[FieldChange]) -> str:
    ordered = sorted(changes, key=lambda c: FIELD_ORDER.index(c.name) if c.name in FIELD_ORDER else 99)
    return "; ".join(f"{c.name} \u2192 {field_text(data, c.name, c.value)}" for c in ordered)


def object_items(data: ReportData, obj: TrackedObject) -> list[Item]:
    """An incident's or task's history as events: opened, then each update."""
    out = []
    incident = obj.obj if obj.kind == "incident" else obj.parent
    room = obj.parent if obj.kind == "incident" else None
    label = "Incident" if obj.kind == "incident" else "Task"
    title = str(obj.get("title", ""))
    for group in _groups(obj.history):
        first = group[0]
        if not data.filter.keeps(first.clock):
            continue
        opened = first.author == obj.opened_by and first.clock == obj.opened_clock
        if opened:
            fields = {c.name: c.value for c in group}
            text = f"{label} opened: {value_text(data, fields.get('title'))}"
            if obj.kind == "incident":
                text += f" ({severity_label(fields.get('severity'))})"
                if "location" in fields:
                    text += f" at {value_text(data, fields['location'])}"
            else:
                owner = fields.get("owner")
                if owner is not None:
                    text += f" (owner {value_text(data, owner)})"
                parent = data.incident_title(obj.parent)
                if parent:
                    text += f" for incident {parent}"
        else:
            text = f"{label} {title}: {_changes_text(data, group)}"
        out.append(
            Item(first.clock, first.author, first.seq, obj.kind, room, text, incident=incident, doubt=first.time_doubt)
        )
    return out


def message_items(data: ReportData) -> list[Item]:
    return [Item(m.clock, m.author, m.seq, "message", m.room, m.text, message=m) for m in data.messages]


def checkin_items(data: ReportData) -> list[Item]:
    out = []
    for c in data.checkins:
        out.append(Item(c.clock, c.requested_by, 0, "checkin", c.room, f"Roll call: {c.question}"))
        for reply in data.replies.get(c.checkin, []):
            if not data.filter.keeps(reply.clock):
                continue
            help_ = reply.status != "safe"
            note = f": {reply.note}" if reply.note else ""
            text = f"{'NEED HELP' if help_ else 'SAFE'}{note}"
            out.append(Item(reply.clock, reply.author, reply.seq, "reply", c.room, text, needs_help=help_))
    return out


def pin_items(data: ReportData) -> list[Item]:
    """Pinned entries as notable activity, at the time of the pinned entry, saying who pinned it. The author
    is the item's own (every report shows it beside the text), so the text does not name them again."""
    messages = data.message_by_id()
    out = []
    for pin in data.pins:
        msg = messages.get(pin.target)
        if msg is not None:
            text = f"{msg.text} (in #{data.room_name(msg.room)}, pinned by {data.name(pin.author)})"
            out.append(Item(msg.clock, msg.author, msg.seq, "pin", msg.room, text))
            continue
        entry = data.pinned_other.get(pin.target)
        if entry is not None:
            text = f"{entry.kind} entry #{entry.seq} (pinned by {data.name(pin.author)})"
            out.append(
                Item(entry.clock, entry.author, entry.seq, "pin", None, text, incident=_incident_of(data, entry))
            )
    return out


def _incident_of(data: ReportData, entry: Entry) -> bytes | None:
    """The incident a pinned incident or task entry concerns."""
    body = parse_body(entry.kind, entry.body()) or {}
    incident, task = body.get("incident"), body.get("task")
    if isinstance(incident, bytes):
        return incident
    for obj in data.tasks:
        if obj.obj == task:
            return obj.parent
    return None


def timeline(data: ReportData) -> list[Item]:
    """Every event of the report, in the team's order."""
    items = message_items(data) + checkin_items(data)
    for obj in [*data.incidents, *data.tasks]:
        items.extend(object_items(data, obj))
    return sorted(items, key=lambda i: i.order)
