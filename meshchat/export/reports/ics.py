"""ICS-style forms: an ICS-214 activity log per incident (and one for the whole team), and an ICS-309
communications log.

ICS-214 (Activity Log): incident name, operational period, resources assigned, then date/time and notable
activity in time order. Activity is drawn from the incident's own updates, its tasks, pinned entries that
concern it (messages pinned in its room, pinned updates of it or its tasks) and roll calls in its room.

ICS-309 (Communications Log): one row per message: time, from and the sender's message number, to and the
receiver's number, subject. A member's message number is the entry's ``seq`` in their own log, which the
member's device assigned and signed: the same number on every copy. A message goes to its room (the net);
the receivers who acknowledged it are listed with *their* number for that traffic, the ``seq`` of their
``msg.ack`` entry, as a radio operator logs a received message under their own number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

from meshchat.export.reports.items import Item, checkin_items, object_items, pin_items, value_text
from meshchat.export.reports.model import ReportData
from meshchat.export.reports.text import SHEET_ZONE, csv_cell, h, one_line, sheet_time, utc
from meshchat.export.reports.timeline import CSP
from meshchat.log.kinds import severity_label
from meshchat.log.views import Message, TrackedObject

FORM_STYLE = """
body{font:13px/1.4 system-ui,sans-serif;margin:1rem auto;max-width:60rem;color:#111}
h1{font-size:1.2rem;margin:0}table{border-collapse:collapse;width:100%;margin:.6rem 0}
td,th{border:1px solid #444;padding:.2rem .4rem;vertical-align:top;text-align:left}th{background:#eee}
.form td.label{width:14rem;font-weight:600;background:#f6f6f6}.text{white-space:pre-wrap;overflow-wrap:anywhere}
.time{white-space:nowrap;font-variant-numeric:tabular-nums}
"""


def _form_head(title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        f"<title>{h(title)}</title>\n<style>{FORM_STYLE}</style>\n</head>\n<body>\n"
    )


# ---- ICS-214 -----------------------------------------------------------------------------------------------


def incident_activity(data: ReportData, incident: TrackedObject) -> list[Item]:
    """The notable activity of one incident, in the team's order."""
    room = incident.parent
    tasks = [t for t in data.tasks if t.parent == incident.obj]
    items = object_items(data, incident)
    for task in tasks:
        items.extend(object_items(data, task))
    for item in pin_items(data):
        if item.incident == incident.obj or (room is not None and item.room == room):
            items.append(item)
    if room is not None:
        items.extend(i for i in checkin_items(data) if i.room == room)
    return sorted(set(items), key=lambda i: i.order)


def operational_period(incident: TrackedObject) -> tuple[int, int | None]:
    """From the opening to the closing (``None`` while it is not closed)."""
    if incident.get("status") == "closed":
        closing = [c for c in incident.history if c.name == "status" and c.value == "closed"]
        return incident.opened_clock, closing[-1].clock
    return incident.opened_clock, None


def resources(data: ReportData, incident: TrackedObject) -> list[tuple[str, str]]:
    """(name, ICS position) of everyone assigned to or acting on the incident."""
    out: list[tuple[str, str]] = []
    for change in incident.history:
        if change.name == "commander" and isinstance(change.value, str) and change.value.strip():
            out.append((change.value, "Incident Commander"))
    for task in data.tasks:
        if task.parent != incident.obj:
            continue
        for change in task.history:
            if change.name == "owner" and isinstance(change.value, bytes):
                out.append((data.name(change.value), f"Task owner: {value_text(data, task.get('title'))}"))
    out.append((data.name(incident.opened_by), "Opened the incident"))
    for change in incident.history:
        if change.author != incident.opened_by:
            out.append((data.name(change.author), "Updated the incident"))
    return list(dict.fromkeys(out))


def write_ics214(data: ReportData, incident: TrackedObject, out: TextIO) -> None:
    activity = incident_activity(data, incident)
    start, end = operational_period(incident)
    title = value_text(data, incident.get("title"))
    until = utc(end) if end is not None else f"ongoing at export ({utc(data.exported_at)})"
    rows = [
        (
            "1. Incident name",
            f"{title} ({severity_label(incident.get('severity'))}, status {value_text(data, incident.get('status'))})",
        ),
        ("2. Operational period", f"from {utc(start)} to {until}"),
        ("3. Unit", data.team_name),
        ("Incident id", incident.obj.hex()),
    ]
    _write_214(data, f"ICS-214 Activity Log: {title}", rows, resources(data, incident), activity, out)


def write_ics214_team(data: ReportData, out: TextIO) -> None:
    """The unit's own activity log: every incident opened or closed, every pinned entry, every roll call and
    every "need help" answer to one (a member in trouble is always notable)."""
    items: list[Item] = list(pin_items(data))
    items.extend(i for i in checkin_items(data) if i.kind == "checkin" or i.needs_help)
    for incident in data.incidents:
        for item in object_items(data, incident):
            if "opened" in item.text or "status \u2192" in item.text:
                items.append(item)
    items.sort(key=lambda i: i.order)
    clocks = [i.clock for i in items]
    period = f"from {utc(min(clocks))} to {utc(max(clocks))}" if clocks else "no activity"
    rows = [
        ("1. Incident name", f"All incidents of {data.team_name}"),
        ("2. Operational period", period),
        ("3. Unit", data.team_name),
    ]
    people = [(p.label, p.role) for p in sorted(data.people.values(), key=lambda p: p.label.lower())]
    _write_214(data, f"ICS-214 Activity Log: {data.team_name}", rows, people, items, out)


def _write_214(
    data: ReportData,
    title: str,
    rows: list[tuple[str, str]],
    people: list[tuple[str, str]],
    activity: list[Item],
    out: TextIO,
) -> None:
    out.write(_form_head(title))
    out.write('<h1>ICS-214 Activity Log (meshchat)</h1>\n<table class="form">\n')
    for label, value in rows:
        out.write(f'<tr><td class="label">{h(label)}</td><td><bdi>{h(value)}</bdi></td></tr>\n')
    out.write(
        f'<tr><td class="label">Prepared by</td><td><bdi>{h(data.name(data.exported_by))}</bdi>, '
        f"{utc(data.exported_at)}</td></tr>\n</table>\n"
    )
    out.write(
        "<h2>6. Resources assigned</h2>\n<table>\n<tr><th>Name</th><th>ICS position</th><th>Home agency</th></tr>\n"
    )
    for name, position in people:
        out.write(
            f"<tr><td><bdi>{h(name)}</bdi></td><td><bdi>{h(position)}</bdi></td><td>{h(data.team_name)}</td></tr>\n"
        )
    out.write(
        "</table>\n<h2>7. Activity log</h2>\n<table>\n<tr><th>Date/time (UTC)</th><th>Notable activities</th></tr>\n"
    )
    for item in activity:
        who = data.sender(item.message, item.author)
        out.write(
            f'<tr><td class="time">{utc(item.clock)}</td>'
            f'<td><bdi class="text">{h(who)}: {h(item.text)}</bdi></td></tr>\n'
        )
    if not activity:
        out.write("<tr><td></td><td>No activity recorded.</td></tr>\n")
    out.write("</table>\n</body>\n</html>\n")


# ---- ICS-309 -----------------------------------------------------------------------------------------------

ICS309_COLUMNS = ("time", "zone", "from", "from_key", "from_msg_no", "to", "to_msg_nos", "subject", "priority", "id")


def _ics309_rows(data: ReportData) -> Iterator[tuple[Message, str, str, str]]:
    """(message, to, receivers' numbers, subject) per message."""
    by_id = data.message_by_id()
    for msg in data.messages:
        to = f"#{data.room_name(msg.room)} (all)"
        if msg.reply_to is not None and msg.reply_to in by_id:
            answered = by_id[msg.reply_to]
            to = f"{data.name(answered.author)} re #{answered.seq}, via #{data.room_name(msg.room)}"
        numbers = "; ".join(f"{data.name(a.author)} #{a.seq}" for a in data.acks.get(msg.id, []))
        subject = one_line(msg.text)
        if msg.priority != "routine":
            subject = f"{msg.priority.upper()}: {subject}"
        if msg.retracted:
            subject += " (retracted)"
        yield msg, to, numbers, subject


def write_ics309_csv(data: ReportData, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ICS309_COLUMNS)
    for msg, to, numbers, subject in _ics309_rows(data):
        writer.writerow(
            (
                sheet_time(msg.clock),
                SHEET_ZONE,
                csv_cell(data.sender(msg, msg.author)),
                msg.author.hex(),
                msg.seq,
                csv_cell(to),
                csv_cell(numbers),
                csv_cell(subject),
                msg.priority,
                msg.id.hex(),
            )
        )


def write_ics309_html(data: ReportData, out: TextIO) -> None:
    clocks = [m.clock for m in data.messages]
    period = f"from {utc(min(clocks))} to {utc(max(clocks))}" if clocks else "no messages"
    out.write(_form_head(f"ICS-309 Communications Log: {data.team_name}"))
    out.write('<h1>ICS-309 Communications Log (meshchat)</h1>\n<table class="form">\n')
    for label, value in (
        ("1. Incident name", data.team_name),
        ("2. Operational period", period),
        ("3. Radio net", f"meshchat team {data.team_id.hex()[:16]}"),
        ("Prepared by", f"{data.name(data.exported_by)}, {utc(data.exported_at)}"),
    ):
        out.write(f'<tr><td class="label">{h(label)}</td><td><bdi>{h(value)}</bdi></td></tr>\n')
    out.write(
        "</table>\n<table>\n<tr><th>Time (UTC)</th><th>From</th><th>Msg #</th><th>To</th><th>Msg #</th>"
        "<th>Subject</th></tr>\n"
    )
    for msg, to, numbers, subject in _ics309_rows(data):
        out.write(
            f'<tr><td class="time">{utc(msg.clock)}</td><td><bdi>{h(data.sender(msg, msg.author))}</bdi></td>'
            f"<td>{msg.seq}</td><td><bdi>{h(to)}</bdi></td><td><bdi>{h(numbers)}</bdi></td>"
            f'<td><bdi class="text">{h(subject)}</bdi></td></tr>\n'
        )
    out.write("</table>\n</body>\n</html>\n")
