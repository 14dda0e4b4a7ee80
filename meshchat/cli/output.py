"""Output for people: every line a command prints goes through :func:`say`; and times, names, ids, tables.

Member text (names, messages, titles), text from files and text from peers is untrusted: :func:`say` shows
each line through :func:`meshchat.log.safe_text.safe_text`, so a control character cannot act on the
terminal and a newline inside a message cannot fake a line of its own (``tests/test_cli_safe_text.py`` runs
every command with hostile text). ``meshchat.terminal.guarded_terminal`` catches what escapes this.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from meshchat.blobs.store import human_size
from meshchat.log.attachments import Attachment
from meshchat.log.codec import Value
from meshchat.log.kinds import severity_label
from meshchat.log.safe_text import safe_text
from meshchat.log.views import Message, TrackedObject, location_text, time_doubt_text


def say(line: str = "", *, file: TextIO | None = None) -> None:
    """Print ``line`` as one line of output, safe to show whatever it holds."""
    print(safe_text(line), file=file if file is not None else sys.stdout)


def say_lines(text: str) -> None:
    """Print text that is several lines on purpose (a QR code), each line made safe."""
    for line in text.removesuffix("\n").split("\n"):
        say(line)


def say_json(document: Any) -> None:
    """A JSON document for programs: ASCII only, so strings keep their exact text (``\\u001b``, ``\\u202e``)
    and nothing raw reaches a terminal."""
    print(json.dumps(document, indent=1, sort_keys=True, ensure_ascii=True))


def add_json_option(parser: Any) -> None:
    """``--json`` for a reading command: its result as one JSON document, of the shape docs/cli.md gives."""
    parser.add_argument("--json", action="store_true", help="print one JSON document instead (docs/cli.md)")


def when(clock_ms: int) -> str:
    """Local time of a clock, as a field log wants it: ``2026-11-25 07:10:42``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(clock_ms / 1000))


def when_zoned(clock_ms: int) -> str:
    """Local time with its offset from UTC, for times a reader elsewhere compares: ``2026-11-25 08:10:42 +0100``."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(clock_ms / 1000))


def short(blob: bytes, digits: int = 8) -> str:
    return blob.hex()[:digits]


def value_text(value: Value) -> str:
    if isinstance(value, dict):
        return location_text(value)
    if isinstance(value, bytes):
        return short(value)
    return "" if value is None else str(value)


def message_line(msg: Message, author: str) -> str:
    marks = []
    if msg.is_flash:
        marks.append("FLASH")
    elif msg.priority != "routine":
        marks.append(msg.priority.upper())
    if msg.pinned:
        marks.append("pinned")
    if msg.ack_required:
        marks.append(f"acked by {len(msg.acked_by)}")
    doubt = msg.time_doubt  # its author's clock disagrees with the team's, or it reached us long after
    if doubt is not None:
        marks.append("time doubtful: " + time_doubt_text(doubt, when))
    tag = f" [{', '.join(marks)}]" if marks else ""
    text = "(retracted) " + msg.text if msg.retracted else msg.text
    if isinstance(msg.location, dict):
        text += f"  @ {location_text(msg.location)}"
    if msg.via is not None:  # an outsider's words, relayed by the author's bridge: never shown as the author's
        author = f"{msg.via.label} via {author}"
    return f"{when(msg.clock)}  {author:<12} {text}{tag}  #{short(msg.id)}"


def attachment_line(file: Attachment, fraction: float) -> str:
    """One attachment under its message: name, size, type (pixels for an image) and whether it is here
    (``fraction``: how much of it this node holds)."""
    kind = f"{file.type} {file.width}x{file.height}" if file.width and file.height else file.type
    state = "here" if fraction >= 1 else f"partly here ({int(fraction * 100)}%)" if fraction > 0 else "not fetched"
    return f"    + {file.name}  {human_size(file.size)}  {kind}  {state}  blob {file.blob.hex()[:16]}"


def incident_line(obj: TrackedObject, name_of: dict[bytes, str]) -> str:
    last = obj.last_change
    who = name_of.get(last.author, short(last.author))
    what = "opened" if len(obj.history) == len(obj.fields) and last.clock == obj.opened_clock else last.name
    return (
        f"{short(obj.obj)}  {severity_label(obj.get('severity'))}  {value_text(obj.get('status')):<9}  "
        f"{value_text(obj.get('title'))}  (commander: {value_text(obj.get('commander')) or '-'}; "
        f"last: {what} by {who} at {when(last.clock)})"
    )
