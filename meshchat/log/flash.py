"""FLASH messages: who must acknowledge one, who has, and when it is overdue; and, for FLASHes and roll calls
alike, who of those who have not answered is silent and who is unreachable.

A FLASH asks every member to acknowledge it. Who must, who has, and whether it is overdue (past its deadline
with acknowledgements missing) is a pure function of the log (the message, its acknowledgements, the
membership) and of two facts the reading node supplies: the time now, and when it last heard from each member
(``Node.last_heard``). So every node reaches the same verdict by itself, offline too: a recipient's node
raises an overdue FLASH again on its own screen whether or not it can reach the sender, and the sender's node
tells who is *silent* (heard from lately, yet no acknowledgement: they could have seen it) from who is
*unreachable* (not heard from for a while: the FLASH may not have reached them).

The deadline runs from the FLASH's own clock (the sender's; how far that may be off is bounded by the clock
rules, ``meshchat.log.clock``). The TUI and the CLI read these functions; nothing decides this elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from meshchat.log.rules import Membership, role_allows

FLASH_ACK_DEADLINE_MS = 5 * 60_000  # a FLASH not acknowledged by everyone after this is overdue
UNREACHABLE_AFTER_MS = 10 * 60_000  # a member not heard from for this long counts as unreachable


def flash_recipients(membership: Membership, author: bytes) -> tuple[bytes, ...]:
    """Who must acknowledge a FLASH by ``author``: every current member whose role may acknowledge, but the
    author (observers too: an acknowledgement says "I have read it", not "I act on it")."""
    return tuple(
        sorted(key for key, m in membership.members.items() if key != author and role_allows(m.role, "msg.ack"))
    )


@dataclass(frozen=True, slots=True)
class FlashStatus:
    """Where one FLASH stands. ``waiting`` = ``silent`` + ``unreachable``, each sorted by key."""

    due_ms: int  # when it becomes overdue
    acked: tuple[bytes, ...]
    silent: tuple[bytes, ...]  # owe an acknowledgement; heard from within UNREACHABLE_AFTER_MS
    unreachable: tuple[bytes, ...]  # owe one; not heard from for that long (or never)
    overdue: bool  # past due and someone still owes one

    @property
    def waiting(self) -> tuple[bytes, ...]:
        return tuple(sorted(self.silent + self.unreachable))

    @property
    def done(self) -> bool:
        return not self.silent and not self.unreachable


def split_by_reach(
    keys: Iterable[bytes], heard_ms: Mapping[bytes, int], now_ms: int, unreachable_after_ms: int = UNREACHABLE_AFTER_MS
) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """``(heard from lately, unreachable)``: members heard from within ``unreachable_after_ms`` of ``now_ms``
    could have seen a FLASH or a roll call; the others may not have received it. Each part sorted."""
    lately: list[bytes] = []
    unreachable: list[bytes] = []
    for key in sorted(set(keys)):
        heard = heard_ms.get(key)
        (lately if heard is not None and now_ms - heard < unreachable_after_ms else unreachable).append(key)
    return tuple(lately), tuple(unreachable)


def flash_status(
    clock: int,
    acked_by: Iterable[bytes],
    recipients: Iterable[bytes],
    heard_ms: Mapping[bytes, int],
    now_ms: int,
    *,
    deadline_ms: int = FLASH_ACK_DEADLINE_MS,
    unreachable_after_ms: int = UNREACHABLE_AFTER_MS,
) -> FlashStatus:
    """The status of a FLASH written at ``clock``, acknowledged by ``acked_by``, owed by ``recipients``;
    ``heard_ms`` says when the reading node last heard from each member (absent: never)."""
    acked = set(acked_by)
    owed = set(recipients) - acked
    silent, unreachable = split_by_reach(owed, heard_ms, now_ms, unreachable_after_ms)
    due = clock + deadline_ms
    return FlashStatus(
        due_ms=due,
        acked=tuple(sorted(acked & set(recipients))),
        silent=silent,
        unreachable=unreachable,
        overdue=bool(owed) and now_ms >= due,
    )
