"""Which part of a room the message list holds: a run of consecutive messages, never the whole room.

A room may hold 100,000 messages. The window reads one page when a room opens (at its end, at its start, or
around one message: a search result, the first unread), grows a page at a time at either end as the person
scrolls there, and drops pages at the other end beyond :data:`CAP`, so what is held, laid out and re-read
stays small wherever the person is. Pure: no Textual; reads go through :class:`MessageSource`
(``Node.views``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from meshchat.log.rules import Membership
from meshchat.log.views import Message
from meshchat.store.queries import Cursor

PAGE = 100  # messages read at a time
CAP = 500  # messages held at most (re-read after each change: ~7 ms, laid out in ~10 ms)
BEFORE_ALL = Cursor(-1, b"", 0)  # sorts before every message: ``after=BEFORE_ALL`` reads from the start


class MessageSource(Protocol):
    """The reads the message list needs (``Node.views`` provides them)."""

    def messages(
        self, room: bytes, *, before: Cursor | None = None, after: Cursor | None = None, limit: int = 100
    ) -> list[Message]: ...

    def message(self, id_prefix: str | bytes) -> Message | None: ...

    def messages_by_id(self, room: bytes, ids: Sequence[bytes]) -> dict[bytes, Message]: ...

    @property
    def membership(self) -> Membership: ...


def cursor_of(msg: Message) -> Cursor:
    """The position of ``msg``: ``before=`` it reads what precedes it, ``after=`` what follows it."""
    return Cursor(msg.clock, msg.author, msg.seq)


def just_before(msg: Message) -> Cursor:
    """A position right before ``msg`` (``after=`` it reads ``msg`` first). An author's clocks strictly
    increase along its log, so no message sits between the two."""
    return Cursor(msg.clock, msg.author, msg.seq - 1)


class RoomWindow:
    """Consecutive messages of one room, oldest first; ``at_start`` / ``at_end``: nothing before / after."""

    def __init__(self, source: MessageSource, room: bytes, *, page: int = PAGE, cap: int = CAP) -> None:
        self.source = source
        self.room = room
        self.page = page
        self.cap = cap
        self.messages: list[Message] = []
        self.at_start = True
        self.at_end = True

    def __len__(self) -> int:
        return len(self.messages)

    # ---- opening -------------------------------------------------------------------------------------------

    def open_newest(self) -> None:
        self.messages = self.source.messages(self.room, limit=self.page)
        self.at_start, self.at_end = len(self.messages) < self.page, True

    def open_oldest(self) -> None:
        self.messages = self.source.messages(self.room, after=BEFORE_ALL, limit=self.page)
        self.at_start, self.at_end = True, len(self.messages) < self.page

    def open_at(self, target: Message) -> None:
        """Around ``target``: half a page before it, and it with half a page after."""
        half = max(1, self.page // 2)
        older = self.source.messages(self.room, before=cursor_of(target), limit=half)
        newer = self.source.messages(self.room, after=just_before(target), limit=half + 1)
        self.messages = older + newer
        self.at_start, self.at_end = len(older) < half, len(newer) < half + 1

    # ---- growing and trimming ------------------------------------------------------------------------------

    def grow_older(self) -> int:
        """Read the page before the first message; drops the newest beyond the cap. Returns how many came."""
        if self.at_start or not self.messages:
            return 0
        older = self.source.messages(self.room, before=cursor_of(self.messages[0]), limit=self.page)
        self.at_start = len(older) < self.page
        self.messages = older + self.messages
        if len(self.messages) > self.cap:
            del self.messages[self.cap :]
            self.at_end = False
        return len(older)

    def grow_newer(self) -> int:
        """Read the page after the last message; drops the oldest beyond the cap. Returns how many came."""
        if self.at_end or not self.messages:
            return 0
        newer = self.source.messages(self.room, after=cursor_of(self.messages[-1]), limit=self.page)
        self.at_end = len(newer) < self.page
        self.messages += newer
        if len(self.messages) > self.cap:
            del self.messages[: len(self.messages) - self.cap]
            self.at_start = False
        return len(newer)

    def reread(self, *, follow: bool) -> None:
        """Read the same stretch again after entries arrived: new messages (at the end, or synced late into the
        middle), acks, pins, retractions. ``follow``: the person is at the newest message, so a window that
        would pass the cap keeps the newest end rather than its start."""
        if not self.messages:
            self.open_newest()
            return
        span = self.source.messages(self.room, after=just_before(self.messages[0]), limit=self.cap)
        more_after = len(span) == self.cap
        if not self.at_end:
            self.messages = span[: max(len(self.messages), 1)]
            return
        if more_after and follow:
            self.messages = self.source.messages(self.room, limit=self.cap)
            self.at_start = False  # (a grow_older that finds nothing says so)
            return
        self.messages = span
        self.at_end = not more_after
