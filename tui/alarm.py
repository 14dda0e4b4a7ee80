"""FLASH alarms: when to ring, what to put on the screen and in a desktop notification. Pure: no Textual.

A FLASH is not one bell and a toast that disappears. While one waits for this person's acknowledgement, the
app keeps a banner on every screen and rings again every :data:`RING_EVERY_MS`; once it is overdue (the rule
in ``meshchat.log.flash``), the banner says so and the bell comes every :data:`RING_OVERDUE_EVERY_MS`. A
desktop notification goes out when a FLASH first arrives and again when it becomes overdue; the sender gets one
when their own FLASH becomes overdue, naming who is silent and who is unreachable. The app calls
:meth:`FlashAlarm.tick` once a second with the time and the facts; tests call it with the times they choose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from meshchat.log.flash import FlashStatus
from meshchat.log.views import Message

RING_EVERY_MS = 30_000
RING_OVERDUE_EVERY_MS = 10_000


@dataclass(frozen=True, slots=True)
class Owed:
    """A FLASH this person must acknowledge, with its status (``overdue``: for them too, since they owe it)."""

    message: Message
    status: FlashStatus


@dataclass(frozen=True, slots=True)
class Alarm:
    """What to do now: ring the bell, and which notifications to send: ``("new", msg)`` a FLASH arrived,
    ``("overdue", msg)`` one I owe is overdue, ``("mine", msg)`` one of mine is overdue."""

    ring: bool = False
    notifications: tuple[tuple[str, Message], ...] = ()


@dataclass
class FlashAlarm:
    ring_every_ms: int = RING_EVERY_MS
    ring_overdue_every_ms: int = RING_OVERDUE_EVERY_MS
    _last_ring: int | None = None
    _seen: set[bytes] = field(default_factory=set)  # FLASHes already announced (desktop notification)
    _overdue: set[bytes] = field(default_factory=set)  # owed FLASHes announced as overdue
    _mine_overdue: set[bytes] = field(default_factory=set)  # own FLASHes announced as overdue

    def known(self, message_ids: Sequence[bytes]) -> None:
        """FLASHes that were there before the app opened: no desktop notification for them (the banner and the
        bell still say they wait)."""
        self._seen.update(message_ids)

    def tick(self, now_ms: int, owed: Sequence[Owed], mine: Sequence[tuple[Message, FlashStatus]]) -> Alarm:
        """``owed``: FLASHes waiting for my acknowledgement; ``mine``: my own FLASHes with their status."""
        notes: list[tuple[str, Message]] = []
        fresh = False
        for item in owed:
            msg_id = item.message.id
            if msg_id not in self._seen:
                self._seen.add(msg_id)
                fresh = True
                notes.append(("new", item.message))
            if item.status.overdue and msg_id not in self._overdue:
                self._overdue.add(msg_id)
                fresh = True
                notes.append(("overdue", item.message))
        for message, status in mine:
            if status.overdue and message.id not in self._mine_overdue:
                self._mine_overdue.add(message.id)
                fresh = True
                notes.append(("mine", message))
        if not owed:
            self._last_ring = None
            return Alarm(ring=fresh, notifications=tuple(notes))
        every = self.ring_overdue_every_ms if any(i.status.overdue for i in owed) else self.ring_every_ms
        ring = fresh or self._last_ring is None or now_ms - self._last_ring >= every
        if ring:
            self._last_ring = now_ms
        return Alarm(ring=ring, notifications=tuple(notes))
