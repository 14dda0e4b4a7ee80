"""Making untrusted log text safe to show: in HTML, in CSV cells, in plain text.

Everything a member typed is hostile until proven otherwise: it may hold markup, spreadsheet formulas,
control characters that rewrite a terminal, or bidirectional overrides that make a line read differently from
what it says ("Trojan Source"). Reports show such characters as visible ``[U+202E]`` markers; the raw log
keeps the exact text.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache

# C0 and C1 controls except tab, newline and carriage return; DEL; line/paragraph separators; bidi
# embeddings, overrides and isolates; zero-width characters that can hide text.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _marker(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group()):04X}]"


def clean(text: str) -> str:
    """``text`` with invisible or reordering characters made visible.

    ``str.isprintable`` (C speed) is false for every such character (they are controls, format characters or
    separators), so the common case costs almost nothing: reports have hundreds of thousands of lines."""
    return text if text.isprintable() else _UNSAFE.sub(_marker, text)


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


def utc_day(clock_ms: int) -> str:
    return _utc_second(clock_ms // 1000)[:10]


def utc_time(clock_ms: int) -> str:
    return _utc_second(clock_ms // 1000)[11:19]
