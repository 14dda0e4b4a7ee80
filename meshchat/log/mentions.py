"""Names in text: ``@name`` mentions, and which member a name written down stands for. Pure.

A member is mentioned by ``@`` and any of their handles, in any case, followed by something that is not part
of a word: their callsign, their name, and the first word of a name of several words (``@Ana`` for "Ana
Lopez"). Every reader (the TUI's highlight and bell, a future CLI filter) asks this function.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from meshchat.log.rules import Member, Membership


def handles(member: Member) -> list[str]:
    """What ``@`` may be followed by to mention ``member`` (longest first, so ``@Ana Lopez`` wins over ``@Ana``)."""
    found: set[str] = set()
    for text in (member.callsign, member.name):
        words = text.split()
        if words:
            found.add(" ".join(words))
            found.add(words[0])
    return sorted(found, key=len, reverse=True)


def mentions(text: str, names: Iterable[str]) -> bool:
    """Whether ``text`` mentions any of ``names`` as ``@name`` (any case; not inside a longer word)."""
    folded = text.casefold()
    return any(name and re.search(rf"(?<![\w@])@{re.escape(name.casefold())}(?!\w)", folded) for name in names)


def member_called(membership: Membership, text: str) -> bytes | None:
    """The member that ``text`` names (an incident's commander, typed as a name): the one member who is or was
    called that (name or callsign, any case), so the name can be shown as that member is called now. ``None``
    if nobody was, or several were."""
    wanted = " ".join(text.split()).casefold()
    if not wanted:
        return None
    found = {
        key
        for key, member in membership.members.items()
        if any(wanted in (" ".join(n.split()).casefold(), " ".join(c.split()).casefold()) for _, n, c in member.names)
        or wanted in (member.name.casefold(), member.callsign.casefold())
    }
    return found.pop() if len(found) == 1 else None
