"""``timeline.html``: the whole operation as one self-contained page that opens offline in any browser.

No scripts, no external resources (a Content-Security-Policy forbids them, in case anything slipped through),
every piece of log text escaped and wrapped in ``<bdi>`` so that right-to-left text cannot reorder the line
around it. Retracted messages stay readable, marked as retracted: HQ sees everything. An entry whose time is
doubtful (its author's clock disagrees with where the team's evidence puts it, or it reached the exporting
node long after later entries had) says what it claims and when it arrived.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import TextIO

from meshchat.blobs.saving import save_name
from meshchat.blobs.store import human_size
from meshchat.export.attachments import attachment_path
from meshchat.export.reports.items import Item, timeline, value_text
from meshchat.export.reports.model import ReportData
from meshchat.export.reports.text import h, one_line, utc, utc_day, utc_time
from meshchat.export.reports.whereabouts import STYLE, place_html, positions_section
from meshchat.log.attachments import THUMB_MAGIC
from meshchat.log.kinds import severity_label
from meshchat.log.views import Message, time_doubt_text

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = (
    """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:72rem;padding:1rem;
color:#1b1b1b;background:#fff}
h1{margin:.2rem 0;font-size:1.6rem}h2{border-bottom:2px solid #333;padding-bottom:.2rem;margin-top:2rem}
h3{margin:1.2rem 0 .3rem;font-size:1rem;background:#eef;padding:.2rem .4rem}
.meta{color:#444}.note{background:#f6f6f6;border-left:4px solid #888;padding:.4rem .7rem}
.alert{background:#fde8e8;border-left:4px solid #c00;padding:.4rem .7rem}
nav a{margin-right:1rem}
table{border-collapse:collapse;width:100%}td,th{padding:.2rem .4rem;vertical-align:top;text-align:left}
th{background:#f0f0f0}tr+tr td{border-top:1px solid #e4e4e4}
#rollcalls th{width:12rem}
td.time{white-space:nowrap;font-variant-numeric:tabular-nums;width:5.5rem}
td.room{white-space:nowrap;color:#555;width:8rem}td.who{white-space:nowrap;width:10rem}
td.id{font-family:monospace;color:#777;width:6rem}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.tag{display:inline-block;font-size:.75rem;font-weight:600;padding:0 .35rem;border-radius:.25rem;margin-left:.3rem;
background:#ddd}
.tag.flash{background:#c00;color:#fff}.tag.priority{background:#e80;color:#fff}.tag.retracted{background:#555;color:#fff}
.tag.pinned{background:#27a;color:#fff}.tag.unacked{background:#fdd}.tag.doubt{background:#fd6}
tr.retracted .text{text-decoration:line-through;color:#666}
tr.incident td,tr.task td{background:#fff7e0}tr.checkin td,tr.reply td{background:#eaf6ea}
tr.reply.help td{background:#fde8e8}
.files{margin:.3rem 0 0;padding:0;list-style:none}.files li{margin:.15rem 0}
.files img{display:block;max-width:12rem;max-height:9rem;border:1px solid #ccc;margin:.15rem 0}
.files .missing{color:#777}
@media print{nav{display:none}h3{break-after:avoid}}
"""
    + STYLE
)


def write_timeline(data: ReportData, out: TextIO) -> None:
    """Write the page in pieces: a long operation's timeline is tens of megabytes."""
    for piece in _page(data):
        out.write(piece)


def _page(data: ReportData) -> Iterator[str]:
    title = data.team_name or data.team_id.hex()[:16]
    yield (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{h(title)} \u2014 meshchat timeline</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    )
    yield from _header(data, title)
    yield from _alerts(data)
    yield from _members(data)
    yield from _incidents(data)
    yield from _rollcalls(data)
    yield from positions_section(data)
    yield from _timeline(data)
    yield "</body>\n</html>\n"


def _header(data: ReportData, title: str) -> Iterator[str]:
    narrowed = []
    if data.filter.since is not None:
        narrowed.append(f"from {utc(data.filter.since)}")
    if data.filter.room is not None:
        narrowed.append(f"room {h(data.room_name(data.filter.room))} only")
    yield f'<header>\n<h1><bdi>{h(title)}</bdi></h1>\n<p class="meta">Team <code>{data.team_id.hex()}</code><br>'
    yield (
        f"Exported {utc(data.exported_at)} by <bdi>{h(data.name(data.exported_by))}</bdi> "
        f"(<code>{data.exported_by.hex()[:16]}</code>); the log holds {data.entry_count:,} entries"
        f"{'; this report shows ' + ', '.join(narrowed) if narrowed else ''}. All times UTC.</p>\n"
    )
    yield (
        '<p class="note">This page is a reading aid. The evidence is <code>log.msgpack</code>, every entry '
        "signed by its author: run <code>meshchat verify</code> on this directory to check it, and that this "
        "page is the one the exporting node wrote.</p>\n"
        '<nav><a href="#members">Members</a><a href="#incidents">Incidents</a>'
        '<a href="#rollcalls">Roll calls</a><a href="#positions">Positions</a><a href="#timeline">Timeline</a></nav>\n'
        "</header>\n"
    )


def _alerts(data: ReportData) -> Iterator[str]:
    for author, seq in sorted(data.forks.items()):
        yield (
            f'<p class="alert"><strong>Fork:</strong> <bdi>{h(data.name(author))}</bdi> '
            f"(<code>{author.hex()[:16]}</code>) signed two different entries as number {seq}. Their entries "
            "from there on have no effect; both are kept as proof.</p>\n"
        )


def _members(data: ReportData) -> Iterator[str]:
    yield '<section id="members">\n<h2>Members</h2>\n<table>\n<tr><th>Name</th><th>Role</th><th>Key</th></tr>\n'
    for person in sorted(data.people.values(), key=lambda p: (p.role == "removed", p.label.lower())):
        yield (
            f"<tr><td><bdi>{h(person.label)}</bdi></td><td>{h(person.role)}</td>"
            f'<td class="id">{person.key.hex()}</td></tr>\n'
        )
    yield "</table>\n</section>\n"


def _incidents(data: ReportData) -> Iterator[str]:
    yield '<section id="incidents">\n<h2>Incidents</h2>\n'
    if not data.incidents:
        yield "<p>No incidents.</p>\n</section>\n"
        return
    yield (
        "<table>\n<tr><th>Incident</th><th>Severity</th><th>Status</th><th>Commander</th><th>Location</th>"
        "<th>Opened</th><th>Last change</th></tr>\n"
    )
    for obj in data.incidents:
        yield (
            f"<tr><td><bdi>{h(value_text(data, obj.get('title')))}</bdi>"
            f' <span class="id">{obj.obj.hex()[:8]}</span></td>'
            f"<td>{h(severity_label(obj.get('severity')))}</td><td>{h(value_text(data, obj.get('status')))}</td>"
            f"<td><bdi>{h(value_text(data, obj.get('commander')))}</bdi></td>"
            f"<td>{place_html(obj.get('location'))}</td>"
            f"<td>{utc(obj.opened_clock)} by <bdi>{h(data.name(obj.opened_by))}</bdi></td>"
            f"<td>{utc(obj.last_change.clock)}</td></tr>\n"
        )
    yield "</table>\n</section>\n"


def _rollcalls(data: ReportData) -> Iterator[str]:
    yield '<section id="rollcalls">\n<h2>Roll calls</h2>\n'
    if not data.checkins:
        yield "<p>No roll calls.</p>\n"
    for c in data.checkins:
        safe = [data.name(k) for k, r in c.replies.items() if r.status == "safe"]
        help_ = [f"{data.name(k)}{': ' + r.note if r.note else ''}" for k, r in c.replies.items() if r.status != "safe"]
        missing = [data.name(k) for k in c.missing]
        yield (
            f"<h3><bdi>{h(c.question)}</bdi> \u2014 {utc(c.clock)} in {h(data.room_name(c.room))}, "
            f"asked by <bdi>{h(data.name(c.requested_by))}</bdi></h3>\n<table>\n"
            f"<tr><th>Need help ({len(help_)})</th><td>{_names(help_)}</td></tr>\n"
            f"<tr><th>Safe ({len(safe)})</th><td>{_names(safe)}</td></tr>\n"
            f"<tr><th>No answer ({len(missing)})</th><td>{_names(missing)}</td></tr>\n</table>\n"
        )
    yield "</section>\n"


def _names(names: list[str]) -> str:
    return ", ".join(f"<bdi>{h(n)}</bdi>" for n in sorted(names, key=str.lower)) or "-"


def _timeline(data: ReportData) -> Iterator[str]:
    yield '<section id="timeline">\n<h2>Timeline</h2>\n'
    messages = data.message_by_id()
    day = ""
    rows: list[str] = []
    for item in timeline(data):
        this_day = utc_day(item.clock)
        if this_day != day:
            if rows:
                yield "".join(rows) + "</table>\n"
                rows = []
            day = this_day
            yield f"<h3>{day}</h3>\n<table>\n"
        rows.append(_row(data, item, messages))
        if len(rows) >= 1000:
            yield "".join(rows)
            rows = []
    if day:
        yield "".join(rows) + "</table>\n"
    else:
        yield "<p>Nothing happened in this period.</p>\n"
    yield "</section>\n"


def _row(data: ReportData, item: Item, messages: dict[bytes, Message]) -> str:
    classes = [item.kind]
    tags: list[str] = []
    text = item.text
    short_id = ""
    msg = item.message
    if msg is not None:
        short_id = msg.id.hex()[:8]
        if msg.priority == "flash":
            tags.append('<span class="tag flash">FLASH</span>')
        elif msg.priority != "routine":
            tags.append(f'<span class="tag priority">{h(msg.priority.upper())}</span>')
        if msg.ack_required or msg.id in data.acks:
            tags.append(_acknowledged(data, msg))
        if msg.pinned:
            tags.append('<span class="tag pinned">PINNED</span>')
        retractions = data.retractions.get(msg.id)
        if retractions or msg.retracted:
            classes.append("retracted")
            by = retractions[0] if retractions else None
            who = f" by {h(data.name(by.author))} at {utc(by.clock)}" if by else ""
            tags.append(f'<span class="tag retracted">RETRACTED{who}</span>')
        if msg.reply_to is not None:
            answered = messages.get(msg.reply_to)
            if answered is not None:
                text = f"\u21b3 {data.name(answered.author)}: {one_line(answered.text, 60)}\n{text}"
    elif item.needs_help:
        classes.append("help")
    doubt = item.time_doubt
    if doubt is not None:
        tags.append(f'<span class="tag doubt">TIME DOUBTFUL: {h(time_doubt_text(doubt, utc))}</span>')
    where = f" {place_html(msg.location)}" if msg is not None and msg.location else ""
    return (
        f'<tr class="{" ".join(classes)}"><td class="time">{utc_time(item.clock)}</td>'
        f'<td class="room">{h(data.room_name(item.room))}</td>'
        f'<td class="who"><bdi>{h(data.sender(msg, item.author))}</bdi></td>'
        f'<td class="what"><bdi class="text">{h(text)}</bdi>{where}{"".join(tags)}{_files(data, msg)}</td>'
        f'<td class="id">{short_id}</td></tr>\n'
    )


def _files(data: ReportData, msg: Message | None) -> str:
    """A message's files: each picture's thumbnail (from the signed entry, inline: no external resource), a
    link to the file in the export, or that the exporting node never fetched it (with its id)."""
    if msg is None or not msg.files:
        return ""
    items = []
    for file in msg.files:
        about = f"{h(human_size(file.size))}, {h(file.type)}"
        thumb = ""
        if file.thumb and file.thumb.startswith(THUMB_MAGIC):
            thumb = f'<img src="data:image/jpeg;base64,{base64.b64encode(file.thumb).decode()}" alt="">'
        if file.blob in data.files_here:
            link = (
                f'<a href="{attachment_path(file.blob)}" download="{h(save_name(file))}"><bdi>{h(file.name)}</bdi></a>'
            )
            items.append(f"<li>{thumb}\U0001f4ce {link} ({about})</li>")
        else:
            items.append(
                f'<li>{thumb}\U0001f4ce <bdi>{h(file.name)}</bdi> ({about}) <span class="missing">not in this export: '
                f"never fetched by the exporting node; file {file.blob.hex()}</span></li>"
            )
    return f'<ul class="files">{"".join(items)}</ul>'


def _acknowledged(data: ReportData, msg: Message) -> str:
    """Who acknowledged a message and when (UTC time of their ``msg.ack``), or that nobody did."""
    acks = data.acks.get(msg.id, [])
    if not acks:
        return '<span class="tag unacked">acknowledged by nobody</span>'
    who = ", ".join(f"<bdi>{h(data.name(a.author))}</bdi> {utc_time(a.clock)}" for a in acks)
    return f'<span class="tag acked">acknowledged by {len(acks)}: {who}</span>'
