"""``messages.csv`` (every message, one row, for spreadsheets) and ``incidents.json`` (every incident and
task with its full field history, for programs).

CSV cells holding log text are neutralised against formula injection (a leading ``=``, ``+``, ``-``, ``@``,
tab or carriage return gets a ``'``); the csv module quotes commas, quotes and newlines. JSON needs no help
beyond the encoder, which escapes everything that must be escaped.
"""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from meshchat.blobs.store import human_size
from meshchat.export.attachments import attachment_path
from meshchat.export.reports.model import ReportData
from meshchat.export.reports.text import SHEET_ZONE, clean, csv_cell, sheet_time, utc
from meshchat.log.codec import Value
from meshchat.log.views import FieldChange, Message, TrackedObject

MESSAGE_COLUMNS = (
    "time",
    "zone",
    "clock_ms",
    "room",
    "author",
    "author_key",
    "seq",
    "id",
    "priority",
    "ack_required",
    "acknowledged_by",
    "retracted",
    "retracted_by",
    "pinned",
    "reply_to",
    "text",
    "files",
)


def write_messages_csv(data: ReportData, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(MESSAGE_COLUMNS)
    for msg in data.messages:
        retractions = data.retractions.get(msg.id, [])
        writer.writerow(
            (
                sheet_time(msg.clock),
                SHEET_ZONE,
                msg.clock,
                csv_cell(data.room_name(msg.room)),
                csv_cell(data.sender(msg, msg.author)),
                msg.author.hex(),
                msg.seq,
                msg.id.hex(),
                msg.priority,
                "yes" if msg.ack_required else "no",
                csv_cell("; ".join(f"{data.name(a.author)} #{a.seq}" for a in data.acks.get(msg.id, []))),
                "yes" if msg.retracted or retractions else "no",
                csv_cell("; ".join(data.name(r.author) for r in retractions)),
                "yes" if msg.pinned else "no",
                msg.reply_to.hex() if msg.reply_to else "",
                csv_cell(msg.text),
                csv_cell(files_cell(data, msg)),
            )
        )


def files_cell(data: ReportData, msg: Message) -> str:
    """``breach.jpg (2.3 MB, image/jpeg, attachments/<id>); plan.pdf (...; not in this export, file <id>)``."""
    out = []
    for file in msg.files:
        where = (
            attachment_path(file.blob)
            if file.blob in data.files_here
            else f"not in this export, file {file.blob.hex()}"
        )
        out.append(f"{file.name} ({human_size(file.size)}, {file.type}, {where})")
    return "; ".join(out)


def json_value(data: ReportData, value: Value) -> Any:
    """A register value in JSON: keys as hex, text cleaned of invisible characters."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {str(k): json_value(data, v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(data, v) for v in value]
    return value


def _who(data: ReportData, key: bytes) -> dict[str, str]:
    return {"key": key.hex(), "name": clean(data.name(key))}


def _change(data: ReportData, change: FieldChange) -> dict[str, Any]:
    return {
        "time_utc": utc(change.clock),
        "clock_ms": change.clock,
        "field": change.name,
        "value": json_value(data, change.value),
        "by": _who(data, change.author),
        "seq": change.seq,
        "entry": change.entry_id.hex(),
    }


def object_doc(data: ReportData, obj: TrackedObject) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": obj.obj.hex()}
    for name, change in sorted(obj.fields.items()):
        doc[name] = json_value(data, change.value)
    doc["opened"] = {"time_utc": utc(obj.opened_clock), "clock_ms": obj.opened_clock, "by": _who(data, obj.opened_by)}
    doc["history"] = [_change(data, c) for c in obj.history]
    return doc


def write_incidents_json(data: ReportData, out: TextIO) -> None:
    incidents = []
    for obj in data.incidents:
        doc = object_doc(data, obj)
        doc["room"] = (
            {"id": obj.parent.hex(), "name": clean(data.room_name(obj.parent))} if obj.parent is not None else None
        )
        doc["tasks"] = [object_doc(data, t) for t in data.tasks if t.parent == obj.obj]
        incidents.append(doc)
    loose = [object_doc(data, t) for t in data.tasks if t.parent is None]
    doc = {
        "team": {"id": data.team_id.hex(), "name": clean(data.team_name)},
        "exported_at_utc": utc(data.exported_at),
        "incidents": incidents,
        "tasks_without_incident": loose,
    }
    json.dump(doc, out, ensure_ascii=False, indent=1, sort_keys=True)
    out.write("\n")
