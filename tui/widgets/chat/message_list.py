"""The selected room's messages: a window of pages read by cursor, never the whole room.

A room may hold 100,000 messages. The list reads the newest page when a room opens and older pages as the
person scrolls up (``Views.messages(before=Cursor)``), so opening costs one page whatever the room's size.
Lines are drawn only for messages on screen (``OptionList`` is a line-API scroll view; see
:class:`~tui.widgets.chat.message_view.MessageVisual`). When entries arrive, the window is re-read from the
newest message back to its oldest, at most a few times a second, and the view stays where the person was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from meshchat.log.rules import Membership
from meshchat.log.views import Message
from meshchat.store.queries import Cursor
from tui.format import clock_day, same_day
from tui.widgets.chat.message_view import DaySeparator, MessageLook, MessageVisual, reply_preview

PAGE = 100  # messages read per page
MAX_WINDOW = 5000  # messages held at most; further back, `meshchat log` has it all
GROUP_MS = 5 * 60 * 1000  # follow-ups by the same author within this time omit the name


class MessageSource(Protocol):
    """The reads the list needs (``Node.views`` provides them)."""

    def messages(self, room: bytes, *, before: Cursor | None = None, limit: int = 100) -> list[Message]: ...

    def message(self, id_prefix: str | bytes) -> Message | None: ...

    @property
    def membership(self) -> Membership: ...


def cursor_of(msg: Message) -> Cursor:
    return Cursor(msg.clock, msg.author, msg.seq)


class MessageList(OptionList):
    """Messages of one room, newest at the bottom. Keys act on the highlighted message."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "act('ack')", "Ack"),
        Binding("r", "act('reply')", "Reply"),
        Binding("p", "act('pin')", "Pin"),
        Binding("x", "act('retract')", "Retract"),
        Binding("t", "act('task')", "Task"),
        Binding("escape,i", "act('compose')", "Write", show=False),
    ]

    @dataclass
    class Act(TextualMessage):
        """The person asked for ``action`` on ``message`` (ack, reply, pin, retract, task, compose)."""

        action: str
        message: Message | None

    def __init__(
        self,
        source: MessageSource,
        *,
        me: bytes,
        name_of: Callable[[bytes], str],
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, markup=False)
        self.source = source
        self.me = me
        self.name_of = name_of
        self.room: bytes | None = None
        self.window: list[Message] = []  # oldest first, always up to the newest message of the room
        self.has_older = False
        self._rows: list[Message | None] = []  # one per option: the message, or None for a day separator
        self._replies: dict[bytes, str] = {}  # previews of answered messages, by id
        self.follow_next = False  # the next reload jumps to the newest message (after the person posts)
        self.compose_target: Input | None = None  # where typing goes (the composer's input)

    # ---- what is shown -------------------------------------------------------------------------------------

    def show_room(self, room: bytes) -> None:
        """Open a room at its newest message."""
        self.room = room
        self._replies.clear()
        self.window = self.source.messages(room, limit=PAGE)
        self.has_older = len(self.window) == PAGE
        self._rebuild(follow=True)

    def reload(self, *, extra: int = 0) -> None:
        """Re-read the window (new messages, acks, retractions), keeping the person's place."""
        if self.room is None:
            return
        follow, self.follow_next = self.following or self.follow_next, False
        keep = self.highlighted_message
        limit = min(MAX_WINDOW, max(PAGE, len(self.window) + extra))
        self.window = self.source.messages(self.room, limit=limit)
        self.has_older = len(self.window) == limit
        self._rebuild(follow=follow, keep=keep)

    def load_older(self) -> bool:
        """Read the page before the oldest loaded message. Returns whether anything was added."""
        if self.room is None or not self.has_older or not self.window or len(self.window) >= MAX_WINDOW:
            return False
        keep = self.highlighted_message
        older = self.source.messages(self.room, before=cursor_of(self.window[0]), limit=PAGE)
        self.has_older = len(older) == PAGE
        if not older:
            return False
        self.window = older + self.window
        self._rebuild(follow=False, keep=keep, anchor_top=True)
        return True

    @property
    def following(self) -> bool:
        """Whether the view sits at the newest message (new ones then scroll into view)."""
        return self.highlighted is None or self.highlighted >= len(self._rows) - 1 or self.is_vertical_scroll_end

    @property
    def is_vertical_scroll_end(self) -> bool:
        return self.scroll_y >= self.max_scroll_y

    @property
    def highlighted_message(self) -> Message | None:
        if self.highlighted is None or not 0 <= self.highlighted < len(self._rows):
            return None
        return self._rows[self.highlighted]

    @property
    def newest_clock(self) -> int:
        return self.window[-1].clock if self.window else -1

    def message_texts(self) -> list[str]:
        """What each shown message says (for tests: the plain text of each line's body)."""
        return [self._visual_plain(i) for i, row in enumerate(self._rows) if row is not None]

    # ---- building options ----------------------------------------------------------------------------------

    def _rebuild(self, *, follow: bool, keep: Message | None = None, anchor_top: bool = False) -> None:
        old_line = self._line_of(self.highlighted) - int(self.scroll_y) if self.highlighted is not None else None
        options, rows = self._build_options(self.window)
        self._rows = rows
        if not rows:
            hint = "No messages here yet. Type below and press Enter; ctrl+f makes it a FLASH."
            self.set_options([Option(Content.styled(hint, "$text-muted"), disabled=True)])
            self._rows = [None]
            return
        self.set_options(options)
        target = len(rows) - 1
        if not follow and keep is not None:
            target = next((i for i, r in enumerate(rows) if r is not None and r.id == keep.id), target)
        self.highlighted = target
        if follow:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
        elif old_line is not None and not anchor_top:
            self.scroll_to(y=max(0, self._line_of(target) - old_line), animate=False, immediate=True)
        else:
            self.scroll_to_highlight()

    def _line_of(self, index: int | None) -> int:
        if index is None:
            return 0
        return self._index_to_line.get(index, 0)

    def _build_options(self, window: Sequence[Message]) -> tuple[list[Option], list[Message | None]]:
        options: list[Option] = []
        rows: list[Message | None] = []
        previous: Message | None = None
        members = sum(1 for m in self.source.membership.members.values() if m.role is not None)
        for msg in window:
            if previous is None or not same_day(previous.clock, msg.clock):
                options.append(Option(DaySeparator(clock_day(msg.clock)), disabled=True))
                rows.append(None)
                previous = None
            grouped = (
                previous is not None
                and previous.author == msg.author
                and msg.clock - previous.clock < GROUP_MS
                and not msg.is_flash
                and msg.reply_to is None
            )
            look = MessageLook(
                self.name_of(msg.author), not grouped, self.me, self._reply_preview(msg), max(0, members - 1)
            )
            options.append(Option(MessageVisual(msg, look)))
            rows.append(msg)
            previous = msg
        return options, rows

    def _reply_preview(self, msg: Message) -> str:
        if msg.reply_to is None:
            return ""
        preview = self._replies.get(msg.reply_to)
        if preview is None:
            answered = next((m for m in self.window if m.id == msg.reply_to), None)
            answered = answered or self.source.message(msg.reply_to)
            preview = reply_preview(answered, self.name_of) if answered else "a message not held here"
            self._replies[msg.reply_to] = preview
        return preview

    def _visual_plain(self, index: int) -> str:
        prompt = self.get_option_at_index(index).prompt
        return prompt.plain if isinstance(prompt, MessageVisual | DaySeparator) else str(prompt)

    # ---- keys and scrolling --------------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        first = next((i for i, r in enumerate(self._rows) if r is not None), None)
        if self.highlighted is not None and first is not None and self.highlighted <= first and self.load_older():
            pass
        super().action_cursor_up()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0 < old and self.has_older:
            self.call_later(self.load_older)

    def action_act(self, action: str) -> None:
        if action == "compose" and self.compose_target is not None:
            self.screen.set_focus(self.compose_target)  # now, not later: the next keys must land there
            return
        self.post_message(self.Act(action, self.highlighted_message))

    def on_key(self, event: events.Key) -> None:
        """A character that is no key of the list starts a message: it goes to the composer, with focus."""
        if self.compose_target is None or not event.is_printable or event.character is None:
            return
        if event.key in _LIST_KEYS:
            return  # the list's own keys (checked after this handler)
        event.stop()
        event.prevent_default()
        self.screen.set_focus(self.compose_target)
        self.compose_target.insert_text_at_cursor(event.character)


_LIST_KEYS = frozenset(
    key.strip() for binding in MessageList.BINDINGS if isinstance(binding, Binding) for key in binding.key.split(",")
)
