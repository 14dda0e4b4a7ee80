"""Untrusted text made safe to show: the one function every reader calls before text reaches a person.

Everything a member wrote (messages, names, callsigns, rooms, topics, incident fields, the team's name) and
everything read from a file or a peer is hostile until shown otherwise. Shown raw, it can rewrite the reader's
terminal (``ESC[2J`` clears it, ``ESC]52;`` writes the clipboard, ``BEL`` rings), make one line read as two
("Bo: ok\\nAna: stand down"), overwrite a line (a carriage return), or make a line read differently from
what it says (bidirectional overrides, "Trojan Source").

The rules of :func:`safe_text` (the log itself always keeps the exact text):

- Every control character (C0, DEL, C1), format character (bidi embeddings, overrides, isolates and marks,
  zero-width characters, the BOM, Unicode tags), line or paragraph separator and lone surrogate is shown as a
  visible marker ``[U+202E]``; it never reaches the output. Unicode's own categories decide (Cc, Cf, Zl, Zp,
  Cs), so letters, marks and symbols of every script pass unchanged.
- Exception: a zero-width joiner or non-joiner between two non-ASCII characters is kept: Persian and Indic
  scripts and emoji sequences need them, and there they hide nothing. Next to ASCII or at either end they
  are marked, so "An\\u200dna" cannot pose as "Anna".
- A tab is shown as one space.
- A newline (``\\n`` or ``\\r\\n``) is shown as ``⏎`` by default, so one piece of text is one line of output.
  With ``keep_newlines=True`` it stays a line break: for callers that lay out a multi-line body themselves
  so that its later lines cannot pass for lines of their own (the TUI's indented message body, HTML).
  A carriage return on its own is always a marker: it would move the cursor back over the line.

Text without any such character is returned as it is, at C speed (``str.isprintable``).
"""

from __future__ import annotations

import re

NEWLINE_MARK = "\u23ce"  # ⏎

# Every character of Unicode categories Cc, Cf, Zl, Zp and Cs (Unicode 14, Python 3.11);
# tests/test_safe_text.py checks this against the running Python's unicodedata.
_HIDDEN = (
    "\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_ONE_LINE = re.compile(f"\r\n|[{_HIDDEN}]")
_MULTI_LINE = re.compile(f"\r\n|(?!\n)[{_HIDDEN}]")
_JOINERS = frozenset("\u200c\u200d")


def safe_text(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with nothing that could act on a terminal or a page, every hidden character made visible."""
    if text.isprintable():
        return text
    pattern = _MULTI_LINE if keep_newlines else _ONE_LINE
    return pattern.sub(_shown, text)


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if char in ("\n", "\r\n"):
        return "\n" if match.re is _MULTI_LINE else NEWLINE_MARK
    if char == "\t":
        return " "
    if char in _JOINERS and _joins(match.string, match.start()):
        return char
    return f"[U+{ord(char):04X}]"


def _joins(text: str, at: int) -> bool:
    """A joiner between two non-ASCII characters that are not themselves hidden (a real ligature or emoji)."""
    if at == 0 or at + 1 >= len(text):
        return False
    before, after = text[at - 1], text[at + 1]
    return before > "\x7f" and after > "\x7f" and before.isprintable() and after.isprintable()
