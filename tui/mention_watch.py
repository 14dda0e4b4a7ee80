"""``@name`` mentions of this person in messages that arrive: found per room from where it last looked, so a
mention rings once, when it comes. Old ones (a catch-up of days) are highlighted in the chat but do not ring."""

from __future__ import annotations

from collections.abc import Iterable

from meshchat.log.mentions import mentions
from meshchat.log.views import Message
from meshchat.node import Node
from meshchat.store.queries import Cursor

RECENT_MS = 60 * 60 * 1000  # a mention written longer ago than this does not ring when it arrives
READ_AT_MOST = 500  # messages read per room per burst


class MentionWatch:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._seen: dict[bytes, Cursor] = {}

    def start(self) -> None:
        """What the rooms hold now is not news."""
        for room in self.node.views.rooms():
            self._seen[room.room] = self._newest(room.room)

    def arrived(self, rooms: Iterable[bytes], now_ms: int) -> list[Message]:
        """New messages in ``rooms`` (since the last look) from others that mention this person, recent ones."""
        names = self.node.my_handles()
        found: list[Message] = []
        for room in rooms:
            since = self._seen.get(room, Cursor(-1, b"", 0))
            new = self.node.views.messages(room, after=since, limit=READ_AT_MOST)
            if new:
                last = new[-1]
                self._seen[room] = Cursor(last.clock, last.author, last.seq)
            found += [
                m for m in new if m.author != self.node.me and now_ms - m.clock < RECENT_MS and mentions(m.text, names)
            ]
        return found

    def _newest(self, room: bytes) -> Cursor:
        newest = self.node.views.messages(room, limit=1)
        return Cursor(newest[0].clock, newest[0].author, newest[0].seq) if newest else Cursor(-1, b"", 0)
