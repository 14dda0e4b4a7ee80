"""Desktop notifications as terminal escape sequences (tui/desktop.py): the right one for each terminal known
to show them, nothing elsewhere, and member text that cannot break out of the sequence."""

from __future__ import annotations

from meshchat.testing import HOSTILE_TEXT
from tui.desktop import notification_sequence


def test_each_known_terminal_gets_its_sequence_and_others_nothing() -> None:
    assert notification_sequence("FLASH from Bo", "Off the crest", {"TERM": "xterm-kitty"}) == (
        "\x1b]99;;FLASH from Bo: Off the crest\x1b\\"
    )
    assert notification_sequence("T", "b", {"TERM_PROGRAM": "iTerm.app"}) == "\x1b]9;T: b\x07"
    assert notification_sequence("T; x", "b;c", {"VTE_VERSION": "7200"}) == "\x1b]777;notify;T, x;b,c\x1b\\"
    assert notification_sequence("T", "b", {"TERM": "xterm-256color"}) is None  # unknown: nothing is sent
    tmux = notification_sequence("T", "b", {"TERM_PROGRAM": "WezTerm", "TMUX": "/tmp/tmux-0/default,1,0"})
    assert tmux == "\x1bPtmux;\x1b\x1b]9;T: b\x07\x1b\\"  # passed through tmux


def test_member_text_cannot_end_the_sequence_or_act_on_the_terminal() -> None:
    sequence = notification_sequence("FLASH", "ok\n" + HOSTILE_TEXT + "x" * 500, {"TERM": "xterm-kitty"})
    assert sequence is not None
    inner = sequence.removeprefix("\x1b]99;;").removesuffix("\x1b\\")
    assert inner.isprintable() and "\x1b" not in inner and "\x07" not in inner and len(inner) < 200
