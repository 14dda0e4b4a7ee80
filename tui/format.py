"""Words and times for people, shared by every screen. Pure: no Textual, no node.

Times are local wall-clock times of entry clocks (HLC milliseconds). Nothing here reads the current time, so
what a screen shows depends only on the log (snapshot tests rely on that; set ``TZ`` to pin the zone).

Text that members wrote (names, rooms, topics, titles, messages, notes) reaches a widget only through
:func:`shown` (one line) or :func:`shown_body` (a message body): the TUI's use of
``meshchat.log.safe_text``, so that no control character reaches the terminal and no newline breaks a row.
Give it to widgets as plain text (``Content(...)``, ``markup=False``), never as markup: ``[@click=...]`` in
a name would otherwise become a link that runs an action.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from meshchat.events import Heard
from meshchat.log.safe_text import safe_text
from meshchat.log.views import location_text


def shown(text: str) -> str:
    """Member text for one line of a widget (a name, a room, a title, a table cell): a newline shows as ⏎."""
    return safe_text(text)


def shown_body(text: str) -> str:
    """A message's text for a body that the widget lays out beside its own gutter, where later lines hang
    under the text and cannot pass for messages of their own: line breaks are kept."""
    return safe_text(text, keep_newlines=True)


def clock_time(clock_ms: int) -> str:
    """``07:10`` (local time): what a message line shows."""
    return time.strftime("%H:%M", time.localtime(clock_ms / 1000))


def clock_seconds(clock_ms: int) -> str:
    """``07:10:42`` (local time): incident timelines and sync times, where seconds matter."""
    return time.strftime("%H:%M:%S", time.localtime(clock_ms / 1000))


def clock_day(clock_ms: int) -> str:
    """``Wed 25 Nov 2026``: the day separator between messages of different days."""
    return time.strftime("%a %d %b %Y", time.localtime(clock_ms / 1000))


def same_day(a_ms: int, b_ms: int) -> bool:
    return time.localtime(a_ms / 1000)[:3] == time.localtime(b_ms / 1000)[:3]


def short_id(blob: bytes, digits: int = 8) -> str:
    return blob.hex()[:digits]


def value_text(value: Any) -> str:
    """A register value as text, made safe: locations by their text (or coordinates), ids shortened, None
    empty."""
    if isinstance(value, dict):
        return shown(location_text(value))
    if isinstance(value, bytes):
        return short_id(value)
    return "" if value is None else shown(str(value))


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


def names(keys: Iterable[bytes], name_of: Callable[[bytes], str], *, limit: int = 6) -> str:
    """``Ana, Bo and 3 more``: who has (not) answered, without flooding a line."""
    listed = [shown(name_of(k)) for k in keys]
    if len(listed) <= limit:
        return ", ".join(listed)
    return f"{', '.join(listed[:limit])} and {len(listed) - limit} more"


def heard_text(heard: Heard | None, name_of: Callable[[bytes], str]) -> str:
    """``last heard 07:02 via Bo's node``, ``last heard 07:02 on a direct link, 10.0.0.5:7766``, ``last wrote
    07:02, their newest entry here``, ``never heard from``: when and how this node last heard from a member."""
    if heard is None or heard.at_ms <= 0:
        return "never heard from"
    when = clock_time(heard.at_ms)
    if heard.path == "relay" and heard.via is not None:
        return f"last heard {when} via {name_of(heard.via)}'s node"
    if heard.path == "link":
        return f"last heard {when} on a direct link" + (f", {shown(heard.address)}" if heard.address else "")
    return f"last wrote {when}, their newest entry here"
