"""The message list's window over a room, without Textual: bounded, contiguous, and never losing its place."""

from __future__ import annotations

from meshchat.log.rules import Membership
from meshchat.log.views import Message
from meshchat.store.queries import Cursor
from tui.widgets.chat.room_window import RoomWindow

ROOM = b"r" * 16


class FakeRoom:
    """A room as ``Views.messages`` reads it: ordered by (clock, author, seq); counts what it reads."""

    def __init__(self, count: int) -> None:
        self.all = [self.make(i) for i in range(count)]
        self.read = 0

    @staticmethod
    def make(i: int, clock: int | None = None) -> Message:
        return Message(
            bytes([i % 256]) * 16 + i.to_bytes(16, "big"),
            ROOM,
            b"a" * 32,
            i + 1,
            clock if clock is not None else 1000 * (i + 1),
            f"m{i}",
            "routine",
            False,
            None,
            None,
        )

    def messages(
        self, room: bytes, *, before: Cursor | None = None, after: Cursor | None = None, limit: int = 100
    ) -> list[Message]:
        key = lambda m: (m.clock, m.author, m.seq)  # noqa: E731
        ordered = sorted(self.all, key=key)
        if after is not None:
            found = [m for m in ordered if key(m) > (after.clock, after.author, after.seq)][:limit]
        else:
            bound = (before.clock, before.author, before.seq) if before else (2**62, b"", 0)
            found = [m for m in ordered if key(m) < bound][-limit:]
        self.read += len(found)
        return found

    def message(self, id_prefix: str | bytes) -> Message | None:
        return next((m for m in self.all if m.id == id_prefix), None)

    @property
    def membership(self) -> Membership:
        raise NotImplementedError


def texts(window: RoomWindow) -> list[str]:
    return [m.text for m in window.messages]


def test_opens_at_either_end_or_around_a_message_and_grows_a_page_at_a_time() -> None:
    room = FakeRoom(1000)
    window = RoomWindow(room, ROOM, page=10, cap=30)
    window.open_newest()
    assert texts(window) == [f"m{i}" for i in range(990, 1000)] and window.at_end and not window.at_start
    assert window.grow_older() == 10 and texts(window)[0] == "m980"
    window.open_oldest()
    assert texts(window)[:2] == ["m0", "m1"] and window.at_start and not window.at_end
    window.open_at(room.all[500])
    assert texts(window) == [f"m{i}" for i in range(495, 506)]
    assert not window.at_start and not window.at_end


def test_never_holds_more_than_its_cap_and_knows_its_ends() -> None:
    room = FakeRoom(100)
    window = RoomWindow(room, ROOM, page=10, cap=30)
    window.open_newest()
    while window.grow_older():
        assert len(window) <= 30
    assert window.at_start and texts(window)[0] == "m0" and not window.at_end and len(window) == 30
    while window.grow_newer():
        assert len(window) <= 30
    assert window.at_end and texts(window)[-1] == "m99" and not window.at_start


def test_a_reread_keeps_the_stretch_and_takes_in_late_and_new_messages() -> None:
    room = FakeRoom(50)
    window = RoomWindow(room, ROOM, page=10, cap=30)
    window.open_newest()
    room.all.append(FakeRoom.make(1000, clock=45_500))  # synced late: belongs between m44 and m45
    room.all.append(FakeRoom.make(1001, clock=99_000))  # new at the end
    window.reread(follow=False)
    assert texts(window)[0] == "m40" and "m1000" in texts(window) and texts(window)[-1] == "m1001"
    reading, following = RoomWindow(room, ROOM, page=10, cap=30), RoomWindow(room, ROOM, page=10, cap=30)
    reading.open_newest()
    following.open_newest()
    room.all += [FakeRoom.make(2000 + i, clock=100_000 + i) for i in range(40)]  # a burst: more than the cap
    reading.reread(follow=False)  # the person is reading: the window keeps its start
    assert texts(reading)[0] == texts(window)[-10] and len(reading) == 30 and not reading.at_end
    following.reread(follow=True)  # at the newest: the window moves to the new end
    assert texts(following)[-1] == "m2039" and following.at_end and len(following) == 30
