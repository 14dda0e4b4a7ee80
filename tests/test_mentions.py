"""@name mentions (meshchat/log/mentions.py)."""

from __future__ import annotations

from meshchat.log.mentions import handles, mentions
from meshchat.log.rules import Member, Role


def test_a_member_is_mentioned_by_callsign_name_or_first_name_in_any_case() -> None:
    ana = Member(b"a" * 32, Role.MEMBER, name="Ana Lopez", callsign="LEAD-1")
    names = handles(ana)
    assert names[0] == "Ana Lopez" and set(names) == {"Ana Lopez", "Ana", "LEAD-1"}
    for text in ("@ana can you check the pump?", "ping @LEAD-1.", "(@Ana Lopez)", "@ANA"):
        assert mentions(text, names), text
    for text in ("ana, check the pump", "@anatoly is here", "mail ana@example.org", "@@ana", "@lead-10"):
        assert not mentions(text, names), text
    assert not mentions("@", []) and not mentions("@ana", [""])
