"""Making untrusted log text safe to show in HTML and CSV cells.

Everything a member typed is hostile until proven otherwise: it may hold markup, spreadsheet formulas,
control characters, or bidirectional overrides that make a line read differently from what it says ("Trojan
Source"). Invisible characters are made visible by :func:`meshchat.log.safe_text.safe_text`, the one rule
that the CLI and the TUI apply too; this module adds what HTML and spreadsheets need on top. The raw log keeps
the exact text.
"""

from __future__ import annotations

import time
from functools import lru_cache

from meshchat.log.safe_text import safe_text

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def clean(text: str) -> str:
    """:func:`safe_text` as reports use it: line breaks kept (HTML and CSV cells lay them out)."""
    return safe_text(text, keep_newlines=True)


def h(text: object) -> str:
    """Escape for HTML text and attribute values (quotes included), after :func:`clean`."""
    value = clean(str(text))
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


def csv_cell(text: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP: prefix a quote)."""
    text = clean(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def one_line(text: str, limit: int = 120) -> str:
    """The first line of ``text``, shortened to ``limit`` characters (for subjects)."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "\u2026"


def utc(clock_ms: int) -> str:
    """``2026-11-25 07:10:42Z``: reports give UTC, marked, so nobody misreads a local time."""
    return _utc_second(clock_ms // 1000)


@lru_cache(maxsize=4096)
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(second))


SHEET_ZONE = "UTC"


def sheet_time(clock_ms: int) -> str:
    """``2026-11-25 07:10:42``, the zone (:data:`SHEET_ZONE`) in a column of its own: Excel and LibreOffice
    read this form as a date and time; with a trailing ``Z`` or a ``T`` they keep it as text."""
    return _utc_second(clock_ms // 1000)[:19]


def utc_day(clock_ms: int) -> str:
    return _utc_second(clock_ms // 1000)[:10]


def utc_time(clock_ms: int) -> str:
    return _utc_second(clock_ms // 1000)[11:19]
