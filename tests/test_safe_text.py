"""The one rule that makes untrusted text safe to show (issue 12.5): ``meshchat.log.safe_text``."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from meshchat.log import safe_text as module
from meshchat.log.safe_text import NEWLINE_MARK, safe_text
from meshchat.testing import FAKE_LINE, HOSTILE_TEXT, TERMINAL_ATTACKS, attack_characters_in

HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def test_every_hidden_character_of_unicode_is_marked_and_nothing_else_changes() -> None:
    """The table in the module is Unicode's categories, checked against this Python's database: a newer Unicode
    with new format characters fails here until the table follows. Its fast path (``str.isprintable``) skips
    no character that must be marked."""
    hidden = {chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in HIDDEN_CATEGORIES}
    table = {chr(c) for c in range(0x110000) if module._ONE_LINE.fullmatch(chr(c))}
    assert table == hidden
    assert not [c for c in hidden if c.isprintable()]
    for char in sorted(hidden - {"\t", "\n"}):
        assert safe_text(f"ab{char}cd") == f"ab[U+{ord(char):04X}]cd"


def test_each_terminal_attack_is_shown_and_never_emitted() -> None:
    for name, attack in TERMINAL_ATTACKS.items():
        shown = safe_text(f"x{attack}y")
        assert not attack_characters_in(shown), name
        assert shown.isprintable(), name
        assert "[U+" in shown, name
    assert safe_text("\x1b]52;c;cm0=\x07") == "[U+001B]]52;c;cm0=[U+0007]"
    assert safe_text("evil\u202etxt.exe") == "evil[U+202E]txt.exe"
    assert safe_text(HOSTILE_TEXT).isprintable()


def test_a_newline_cannot_fake_a_line_and_a_carriage_return_cannot_rewrite_one() -> None:
    assert safe_text(FAKE_LINE) == f"ok{NEWLINE_MARK}Ana: stand down"
    assert safe_text("ok\r\nAna: stand down") == f"ok{NEWLINE_MARK}Ana: stand down"
    assert safe_text("Bo: all good\rAna: abort") == "Bo: all good[U+000D]Ana: abort"
    assert "\n" not in safe_text("a\n\nb\x85c\u2028d\u2029e")


def test_keep_newlines_keeps_line_breaks_only() -> None:
    assert safe_text("first\nsecond\r\nthird", keep_newlines=True) == "first\nsecond\nthird"
    assert safe_text("a\rb\x1b[2Jc", keep_newlines=True) == "a[U+000D]b[U+001B][2Jc"
    assert safe_text("a\u2028b", keep_newlines=True) == "a[U+2028]b"


def test_a_tab_is_one_space() -> None:
    assert safe_text("Sector 4\tblocked") == "Sector 4 blocked"


def test_text_of_every_script_passes_unchanged() -> None:
    for text in (
        "Evacuate sector 4 — now!",
        "Эвакуация сектора 4",
        "إخلاء القطاع ٤",
        "הפינוי החל",
        "避难所已满 ✅",
        "नमस्ते",
        "Café 10\u00a0km",  # a no-break space is printable enough: it hides nothing
        "e\u0301",  # combining accent
        "👍🏽 ❤️",
    ):
        assert safe_text(text) == text


def test_joiners_pass_inside_words_and_emoji_but_not_next_to_ascii() -> None:
    persian = "می\u200cخواهم"  # noqa: RUF001 (the zero-width non-joiner is part of Persian spelling)
    family = "👨\u200d👩\u200d👧"
    fire = "❤\ufe0f\u200d🔥"
    malayalam = "ന\u0d4d\u200d"  # a joiner at the end is marked: nothing follows to join
    for text in (persian, family, fire):
        assert safe_text(text) == text
    assert safe_text("An\u200dna") == "An[U+200D]na"
    assert safe_text("\u200cAna") == "[U+200C]Ana"
    assert safe_text(malayalam).endswith("[U+200D]")


@given(st.text())
def test_nothing_hidden_survives_whatever_the_text(text: str) -> None:
    line = safe_text(text)
    block = safe_text(text, keep_newlines=True)
    for shown, allowed in ((line, set()), (block, {"\n"})):
        left = {c for c in shown if unicodedata.category(c) in HIDDEN_CATEGORIES} - allowed
        assert left <= {"\u200c", "\u200d"}, left
    assert safe_text(line) == line  # markers are plain text: showing twice changes nothing
    assert safe_text(block, keep_newlines=True) == block
