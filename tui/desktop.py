"""Desktop notifications through the terminal, for terminals known to show them.

A terminal app cannot reach the desktop's notification service itself; several terminals take an escape
sequence and show a notification: OSC 9 (iTerm2, WezTerm, Ghostty), OSC 99 (kitty), OSC 777 (VTE terminals
such as GNOME Terminal, and foot). Inside tmux the sequence is passed through (tmux needs
``set -g allow-passthrough on``). Elsewhere nothing is sent: an unknown sequence could print garbage. The text
is member text: made safe and stripped of every control character before it goes out.
"""

from __future__ import annotations

from collections.abc import Mapping

from meshchat.log.safe_text import safe_text

MAX_TEXT = 180


def notification_sequence(title: str, body: str, env: Mapping[str, str]) -> str | None:
    """The escape sequence that shows a notification in the terminal ``env`` describes, or ``None``."""
    title, body = _clean(title), _clean(body)
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if term == "xterm-kitty" or "KITTY_WINDOW_ID" in env:
        sequence = f"\x1b]99;;{title}: {body}\x1b\\"
    elif program in ("iTerm.app", "WezTerm", "ghostty"):
        sequence = f"\x1b]9;{title}: {body}\x07"
    elif "VTE_VERSION" in env or term.startswith("foot"):
        sequence = f"\x1b]777;notify;{title.replace(';', ',')};{body.replace(';', ',')}\x1b\\"
    else:
        return None
    if "TMUX" in env:
        sequence = "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return sequence


def _clean(text: str) -> str:
    shown = safe_text(" ".join(text.split()))  # no control character survives: they become visible markers
    return shown[: MAX_TEXT - 1] + "…" if len(shown) > MAX_TEXT else shown
