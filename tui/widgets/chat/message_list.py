"""The selected room's messages: a scroll view over a window of the room, with a selection that stays put.

What a person relies on here, under stress:

- **The selection stays on the message they chose.** It is a message id, not a row number: new messages,
  acks, pins, late entries synced into the middle, older pages read above and trimmed pages never move it.
  ``↓`` on the newest message stays there (no wrap to the top).
- **Typing writes.** Letters typed while the list has focus go to the composer. Actions on a message happen
  only in the act mode, entered with Enter and shown (the message is outlined and the action bar lists the
  keys); one action, or Esc, leaves it.
- **Big rooms stay fast.** The list holds a :class:`~tui.widgets.chat.room_window.RoomWindow` (at most a few
  hundred messages), lays out only what changed, draws only the lines on screen (a line-API ``ScrollView``),
  and reads older or newer history a page at a time only when the person scrolls near that end. Home and End
  jump to the room's first and newest message without reading what lies between.
- **The view stays where the person was**: an anchor (the selected message, or the top line) keeps its place
  on screen across every re-layout, and a view at the newest message follows new ones (also after a resize).
- **Long messages fold** after a few lines ("show more"; → unfolds, ← folds); an unfolded message taller
  than the screen is read to its end with ↓ and PageDown before the selection moves on.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, cast

from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.css.styles import RulesMap
from textual.geometry import Size
from textual.message import Message as TextualMessage
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style
from textual.visual import Visual
from textual.widgets import Input

from meshchat.blobs.service import FileState
from meshchat.log.attachments import Attachment
from meshchat.log.flash import FlashStatus, flash_recipients, flash_status
from meshchat.log.mentions import mentions
from meshchat.log.views import Message
from meshchat.store.queries import Cursor
from tui.format import clock_day, same_day, shown
from tui.widgets.attachments.lines import state_words
from tui.widgets.chat.message_view import DaySeparator, MessageLook, MessageVisual, flash_line, reply_preview
from tui.widgets.chat.room_window import PAGE, MessageSource, RoomWindow

GROUP_MS = 5 * 60 * 1000  # follow-ups by the same author within this time omit the name
STRIP_CACHE_ROWS = 160
ACTION_KEYS = {
    "a": "ack",
    "r": "reply",
    "p": "pin",
    "x": "retract",
    "t": "task",
    "f": "fetch",
    "o": "open",
    "s": "save",
    "v": "view",
}
ACTION_LABELS = {
    "ack": "acknowledge",
    "reply": "reply",
    "pin": "pin",
    "retract": "retract",
    "task": "task",
    "fetch": "fetch the files of",
    "open": "open the files of",
    "save": "save the files of",
    "view": "view the pictures of",
}
NO_MESSAGES = "No messages here yet. Type below and press Enter; ctrl+f makes it a FLASH."

RowKey = tuple[str, bytes | str]


@dataclass(slots=True)
class Row:
    """One thing drawn in the list: a message, a day separator or the "new since you left" line."""

    key: RowKey
    visual: Visual
    message: Message | None = None
    serial: int = 0  # a new number for every new visual of a message: the drawing cache's key
    height: int = 1


class MessageList(ScrollView, can_focus=True):
    """Messages of one room, newest at the bottom. See the module docstring for what it promises."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "message-list--selected",
        "message-list--cursor",
        "message-list--acting",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Previous message (through a tall one first)", show=False),
        Binding("down", "cursor_down", "Next message (no wrap at the newest)", show=False),
        Binding("pageup", "page_up", "A screen up", show=False),
        Binding("pagedown", "page_down", "A screen down", show=False),
        Binding("home", "first", "First message of the room", show=False),
        Binding("end", "last", "Newest message", show=False),
        Binding("enter", "act_mode", "Act on the selected message"),
        Binding("right", "unfold", "Show all of a long message", show=False),
        Binding("left", "fold", "Fold a long message", show=False),
        Binding("escape", "leave", "Back to writing"),
        # Act mode only (Enter first); ``check_action`` hides them otherwise, ``on_key`` runs them.
        Binding("a", "act('ack')", "Acknowledge"),
        Binding("r", "act('reply')", "Reply"),
        Binding("p", "act('pin')", "Pin"),
        Binding("x", "act('retract')", "Retract (asks first)"),
        Binding("t", "act('task')", "Open a task from it"),
    ]

    acting: reactive[bool] = reactive(False, bindings=True)

    @dataclass
    class Act(TextualMessage):
        """The person asked for ``action`` on ``message`` (ack, reply, pin, retract, task, compose)."""

        action: str
        message: Message | None

    @dataclass
    class ActingChanged(TextualMessage):
        """Act mode was entered (``message``: what it acts on) or left (``None``)."""

        message: Message | None

    def __init__(
        self,
        source: MessageSource,
        *,
        me: bytes,
        name_of: Callable[[bytes], str],
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.source = source
        self.me = me
        self.name_of = name_of
        self.room: bytes | None = None
        self.window = RoomWindow(source, b"")
        self.rows: list[Row] = []
        self._starts: list[int] = []  # first line of each row
        self._width = 0  # the width the rows are laid out at
        self.selected: bytes | None = None  # the chosen message's id: what keys act on
        self.expanded: set[bytes] = set()  # long messages the person unfolded
        self.unread_after: int | None = None  # clock: "new since you left" goes above the first later message
        self.follow_next = False  # the next reload goes to the newest message (after the person posts)
        self.compose_target: Input | None = None  # where typing goes (the composer's input)
        self.allowed: Callable[[str, Message], bool] = lambda action, message: True
        self.flash_status: Callable[[Message], FlashStatus] = self._plain_flash_status  # the app's, with its facts
        self.mention_names: list[str] = []  # this person's @handles: messages that use one are marked
        self.file_state: Callable[[Attachment], FileState] | None = None  # where a file stands here (the node's)
        self._looks: dict[bytes, tuple[Message, MessageLook, bool, MessageVisual, int]] = {}
        self._serial = 0
        # Rows drawn lately (a few screens). Kept small: every Strip carries caches of its own, and a big heap
        # makes each full garbage collection, a pause of the whole app, longer.
        self._strips: LRUCache[tuple[RowKey, int, int, Style], list[Strip]] = LRUCache(STRIP_CACHE_ROWS)
        self._growing = False
        self._stick = True  # the view keeps to the newest end (a resize or new messages keep it there)
        self._scrolling = False  # a scroll of ours is under way (not the person's)
        self._placing: tuple[RowKey, int] | None = None  # a row to put in place once the list has a size

    # ---- opening and reading -------------------------------------------------------------------------------

    def show_room(self, room: bytes, *, unread_after: int | None = None) -> None:
        """Open ``room``: at its newest message, or, with unread messages, where "new since you left" starts
        (``unread_after``: the clock up to which the person has read it)."""
        self.room = room
        self.window = RoomWindow(self.source, room)
        self._placing = None
        self.selected = None
        self.acting = False
        self.expanded.clear()
        self._looks.clear()
        self.unread_after = None
        first_unread = None
        if unread_after is not None and unread_after >= 0:
            after = self.source.messages(room, after=Cursor(unread_after, b"\xff" * 33, 2**62), limit=1)
            first_unread = after[0] if after else None
        if first_unread is not None:
            self.unread_after = unread_after
            self.window.open_at(first_unread)
            if self.window.at_end and len(self.window) < PAGE:
                self.window.open_newest()
            self._relayout()
            if not self._scroll_unread_into_view():
                self._scroll_end()
            return
        self.window.open_newest()
        self._relayout()
        self._scroll_end()

    def forget_names(self) -> None:
        """Names changed (a new name or callsign): every message is drawn again, reply lines read again."""
        self._looks.clear()

    def redraw_flashes(self) -> None:
        """Draw the lines under FLASH messages again (their status moves with time: overdue, silent,
        unreachable); nothing is read, and only rows whose look changed are drawn anew."""
        if any(m.ack_required for m in self.window.messages):
            anchor = self._anchor()
            self._relayout()
            self._restore(anchor)

    def redraw_files(self, blobs: frozenset[bytes]) -> None:
        """Files moved on (fetched, further along, stopped): draw again the messages of the window that carry
        one of ``blobs``; nothing is read."""
        if any(f.blob in blobs for m in self.window.messages for f in m.files):
            anchor = self._anchor()
            self._relayout()
            self._restore(anchor)

    def _file_looks(self, msg: Message) -> tuple[tuple[str, str], ...]:
        if not msg.files or self.file_state is None or msg.retracted:
            return ()
        return tuple(state_words(self.file_state(file)) for file in msg.files)

    def show_at(self, message: Message) -> None:
        """Show the room around ``message`` (a search result, wherever it lies in the room) and select it."""
        self.window.open_at(message)
        self._relayout()
        self._place(("msg", message.id), max(1, self.scrollable_content_region.height // 3))
        self._select(message.id)

    def reload(self) -> None:
        """Re-read the window (new messages, acks, pins, retractions), keeping the person's place."""
        if self.room is None:
            return
        follow_next, self.follow_next = self.follow_next, False
        if follow_next and not self.window.at_end:
            self.window.open_newest()
            self._relayout()
            self._scroll_end()
            return
        at_newest = self.at_newest
        anchor = self._anchor()
        self.window.reread(follow=at_newest or follow_next)
        self._relayout()
        if follow_next or (at_newest and self._end_keeps_selection()):
            self._scroll_end()
        else:
            self._restore(anchor)
        self._sync_acting()

    @property
    def at_newest(self) -> bool:
        """Whether the view shows the room's newest message at the bottom (new ones then scroll into view)."""
        return self.window.at_end and self._stick

    @property
    def selected_message(self) -> Message | None:
        index = self._row_index(("msg", self.selected)) if self.selected is not None else None
        return self.rows[index].message if index is not None else None

    @property
    def newest_clock(self) -> int:
        return self.window.messages[-1].clock if self.window.messages and self.window.at_end else -1

    def message_texts(self) -> list[str]:
        """What each held message says, oldest first (for tests: gutter and body as plain text)."""
        return [row.visual.plain for row in self.rows if isinstance(row.visual, MessageVisual)]

    def visible_messages(self) -> list[Message]:
        """Messages with at least one line on screen."""
        top, bottom = int(self.scroll_y), int(self.scroll_y) + self.scrollable_content_region.height
        return [
            row.message
            for row, start in zip(self.rows, self._starts, strict=True)
            if row.message is not None and start < bottom and start + row.height > top
        ]

    # ---- layout --------------------------------------------------------------------------------------------

    def _relayout(self) -> None:
        """Rows for the window's messages; visuals and heights are reused for messages that did not change."""
        width = self.scrollable_content_region.width
        rows: list[Row] = []
        previous: Message | None = None
        marker_done = self.unread_after is None
        looks: dict[bytes, tuple[Message, MessageLook, bool, MessageVisual, int]] = {}
        names: dict[bytes, str] = {}
        last_clock: int | None = None  # of the message before: a new day gets its separator
        answered = self._answered()
        for msg in self.window.messages:
            if last_clock is None or not same_day(last_clock, msg.clock):
                day = clock_day(msg.clock)
                rows.append(Row(("day", f"{day}:{msg.id.hex()}"), DaySeparator(day)))
                previous = None
            if not marker_done and self.unread_after is not None and msg.clock > self.unread_after:
                rows.append(Row(("new", "unread"), DaySeparator("new since you left", accent=True)))
                marker_done = True
                previous = None  # the first unread message shows its author
            last_clock = msg.clock
            grouped = (
                previous is not None
                and previous.author == msg.author
                and previous.via == msg.via
                and msg.clock - previous.clock < GROUP_MS
                and not msg.is_flash
                and msg.reply_to is None
            )
            name = names.get(msg.author)
            if name is None:
                name = names[msg.author] = self.name_of(msg.author)
            flash = flash_line(msg, self.flash_status(msg), self.me, self.name_of) if msg.ack_required else ("", "")
            mentioned = msg.author != self.me and mentions(msg.text, self.mention_names)
            files = self._file_looks(msg)
            if msg.via is not None:  # an outsider's words relayed by the author's bridge: named as the outsider
                outsider = "⇄" + shown(msg.via.callsign or msg.via.uid)
                look = MessageLook(outsider, not grouped, self.me, "", flash, mentioned, files, relayed_by=name)
            else:
                reply = self._reply_preview(msg, answered)
                look = MessageLook(name, not grouped, self.me, reply, flash, mentioned, files)
            folded = msg.id not in self.expanded
            cached = self._looks.get(msg.id)
            if cached is not None and cached[0] == msg and cached[1] == look and cached[2] == folded:
                visual, serial = cached[3], cached[4]
            else:
                self._serial += 1
                visual, serial = MessageVisual(msg, look, folded=folded), self._serial
            looks[msg.id] = (msg, look, folded, visual, serial)
            rows.append(Row(("msg", msg.id), visual, msg, serial))
            previous = msg
        if not rows and self.room is not None:
            rows.append(Row(("hint", "empty"), DaySeparator(NO_MESSAGES)))
        self._looks = looks
        self.rows = rows
        self._layout_heights(width)

    def _layout_heights(self, width: int) -> None:
        if width != self._width:
            self._strips.clear()
        self._width = width
        starts, line = [], 0
        rules = cast(RulesMap, self.styles)
        for row in self.rows:
            row.height = row.visual.get_height(rules, width) if width > 0 else 1
            starts.append(line)
            line += row.height
        self._starts = starts
        self.virtual_size = Size(width, line)
        self._refresh_scrollbars()
        self.refresh()

    def _row_index(self, key: RowKey) -> int | None:
        return next((i for i, row in enumerate(self.rows) if row.key == key), None)

    def _row_at_line(self, line: int) -> int | None:
        if not self.rows or line < 0 or line >= self.virtual_size.height:
            return None
        return bisect.bisect_right(self._starts, line) - 1

    def _plain_flash_status(self, msg: Message) -> FlashStatus:
        """Acknowledgements counted against the membership, without the node's facts (never overdue)."""
        return flash_status(msg.clock, msg.acked_by, flash_recipients(self.source.membership, msg.author), {}, 0)

    def _answered(self) -> dict[bytes, Message]:
        """The messages that replies in the window answer, by id: those in the window, and the others of this
        room read in one pass (not a scan of the whole log each)."""
        by_id = {m.id: m for m in self.window.messages}
        wanted = [
            m.reply_to
            for m in self.window.messages
            if m.reply_to is not None and m.reply_to not in by_id and not self._preview_known(m)
        ]
        if wanted and self.room is not None:
            by_id.update(self.source.messages_by_id(self.room, wanted))
        return by_id

    def _preview_known(self, msg: Message) -> bool:
        cached = self._looks.get(msg.id)
        return cached is not None and bool(cached[1].reply_preview)

    def _reply_preview(self, msg: Message, answered: dict[bytes, Message]) -> str:
        if msg.reply_to is None:
            return ""
        target = answered.get(msg.reply_to)
        if target is None and self._preview_known(msg):
            return self._looks[msg.id][1].reply_preview
        return reply_preview(target, self.name_of) if target else "a message not held here"

    # ---- keeping the view in place -------------------------------------------------------------------------

    def _anchor(self) -> tuple[RowKey, int] | None:
        """What must stay where it is on screen: the selected message if visible, else the top line's row."""
        top = int(self.scroll_y)
        height = self.scrollable_content_region.height
        index = self._row_index(("msg", self.selected)) if self.selected is not None else None
        if index is not None and top - self.rows[index].height < self._starts[index] < top + height:
            return self.rows[index].key, self._starts[index] - top
        first = self._row_at_line(top)
        if first is None:
            return None
        return self.rows[first].key, self._starts[first] - top

    def _restore(self, anchor: tuple[RowKey, int] | None) -> None:
        if anchor is None:
            return
        index = self._row_index(anchor[0])
        if index is not None:
            self._scroll_to_line(self._starts[index] - anchor[1])

    def _scroll_to_line(self, y: int) -> None:
        target = max(0, min(y, self.max_scroll_y))
        self._stick = target >= self.max_scroll_y
        self._scrolling = True
        try:
            self.scroll_to(y=target, animate=False, immediate=True)
        finally:
            self._scrolling = False

    def _scroll_end(self) -> None:
        self._scroll_to_line(self.virtual_size.height)

    def _scroll_unread_into_view(self) -> bool:
        index = self._row_index(("new", "unread"))
        if index is None:
            return False
        self._place(("new", "unread"), 1)
        return True

    def _place(self, key: RowKey, offset: int) -> None:
        """Put row ``key`` ``offset`` lines below the top of the view, now and, if the list has no size yet
        (a room opened as the screen is built), again once it has one."""
        self._placing = (key, offset)
        self._restore((key, offset))
        if self.scrollable_content_region.height:
            self._placing = None

    def _end_keeps_selection(self) -> bool:
        """Whether going to the newest message keeps the selected one on screen (it must, while the list has
        focus: the person is about to act on it)."""
        if not self.has_focus or self.selected is None:
            return True
        index = self._row_index(("msg", self.selected))
        if index is None:
            return True
        height = self.scrollable_content_region.height
        return self._starts[index] >= self.virtual_size.height - height

    def _on_resize(self, event: events.Resize) -> None:
        stick = self._stick
        anchor = self._anchor()
        if self.scrollable_content_region.width != self._width:
            self._layout_heights(self.scrollable_content_region.width)
        if self._placing is not None and self.scrollable_content_region.height:
            placing, self._placing = self._placing, None
            self._restore(placing)
        elif stick:
            self._scroll_end()
            self.call_after_refresh(self._scroll_end)  # again once the scrollbars have settled
        else:
            self._restore(anchor)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if not self._scrolling:  # the person scrolled (wheel, scrollbar): keep to the end only if they went there
            self._stick = new >= self.max_scroll_y
        if not self._growing:
            self.call_after_refresh(self._grow_if_near_an_end)

    def _grow_if_near_an_end(self) -> None:
        """Read the next page of history when the view comes within a screen of the window's end."""
        if self._growing or self.room is None or not self.rows:
            return
        margin = self.scrollable_content_region.height
        self._growing = True
        try:
            if self.scroll_y < margin and not self.window.at_start:
                anchor = self._anchor()
                if self.window.grow_older():
                    self._relayout()
                    self._restore(anchor)
            elif self.scroll_y > self.max_scroll_y - margin and not self.window.at_end:
                anchor = self._anchor()
                if self.window.grow_newer():
                    self._relayout()
                    self._restore(anchor)
        finally:
            self._growing = False

    # ---- drawing -------------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        line = int(self.scroll_y) + y
        index = self._row_at_line(line)
        base = self.get_visual_style()
        if index is None:
            return Strip.blank(width, base.rich_style)
        row = self.rows[index]
        state = self._row_state(row)
        strips = self._row_strips(row, state, width)
        offset = line - self._starts[index]
        return strips[offset] if offset < len(strips) else Strip.blank(width, base.rich_style)

    def _row_state(self, row: Row) -> str:
        if row.message is None or row.message.id != self.selected:
            return ""
        if self.acting:
            return "message-list--acting"
        return "message-list--cursor" if self.has_focus else "message-list--selected"

    def _row_strips(self, row: Row, state: str, width: int) -> list[Strip]:
        style: Style = self.get_visual_style(state) if state else self.get_visual_style()
        key = (row.key, row.serial, width, style)  # the style, not a state name: focus and theme change it
        strips = self._strips.get(key)
        if strips is None:
            rendered = Visual.to_strips(self, row.visual, width, None, style)
            strips = [strip.extend_cell_length(width, style.rich_style) for strip in rendered[: row.height]]
            self._strips[key] = strips
        return strips

    def _on_focus(self, event: events.Focus) -> None:
        if self.selected is None or self.selected_message is None or self.selected not in self._visible_ids():
            self._select(self._default_selection())
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self.acting = False
        self.refresh()

    # ---- selection -----------------------------------------------------------------------------------------

    def _message_rows(self) -> list[int]:
        return [i for i, row in enumerate(self.rows) if row.message is not None]

    def _visible_ids(self) -> set[bytes]:
        return {m.id for m in self.visible_messages()}

    def _default_selection(self) -> bytes | None:
        """The newest message on screen (at the newest end: the newest message)."""
        visible = self.visible_messages()
        if visible:
            return visible[-1].id
        held = [row.message for row in self.rows if row.message is not None]
        return held[-1].id if held else None

    def deselect(self) -> None:
        """Nothing chosen: coming back into the list starts at the newest message on screen."""
        self._select(None)

    def select(self, message_id: bytes | None) -> None:
        """Select ``message_id`` and bring it into view (search results, tests)."""
        self._select(message_id)
        self._show_selected(from_below=False)

    def _select(self, message_id: bytes | None) -> None:
        if message_id != self.selected:
            self.acting = False
        self.selected = message_id
        self.refresh()

    def _show_selected(self, *, from_below: bool) -> None:
        """Scroll so the selected message is on screen: its top, or (moving up into a message taller than the
        screen) its last screenful."""
        index = self._row_index(("msg", self.selected)) if self.selected is not None else None
        if index is None:
            return
        top, height = int(self.scroll_y), self.scrollable_content_region.height
        start, rows = self._starts[index], self.rows[index].height
        if start >= top and start + rows <= top + height:
            return
        if rows > height:
            self._scroll_to_line(start + rows - height if from_below else start)
        elif start < top:
            self._scroll_to_line(start)
        else:
            self._scroll_to_line(start + rows - height)

    def action_cursor_up(self) -> None:
        self._step(-1)

    def action_cursor_down(self) -> None:
        self._step(1)

    def _step(self, direction: int) -> None:
        """One message up or down. A selected message taller than the screen is scrolled through first."""
        index = self._row_index(("msg", self.selected)) if self.selected is not None else None
        if index is None or self.selected not in self._visible_ids():
            self._select(self._default_selection())
            self._show_selected(from_below=direction < 0)
            return
        top, height = int(self.scroll_y), self.scrollable_content_region.height
        start, end = self._starts[index], self._starts[index] + self.rows[index].height
        if direction > 0 and end > top + height:
            self._scroll_to_line(min(top + max(1, height - 2), end - height))
            return
        if direction < 0 and start < top:
            self._scroll_to_line(max(start, top - max(1, height - 2)))
            return
        target = self._neighbour(index, direction)
        if target is None and direction < 0 and not self.window.at_start:
            self._grow(older=True)
            index = self._row_index(("msg", self.selected)) if self.selected is not None else None
            target = self._neighbour(index, direction) if index is not None else None
        elif target is None and direction > 0 and not self.window.at_end:
            self._grow(older=False)
            index = self._row_index(("msg", self.selected)) if self.selected is not None else None
            target = self._neighbour(index, direction) if index is not None else None
        if target is None:
            return  # the first or newest message: stay (no wrap)
        message = self.rows[target].message
        assert message is not None
        self._select(message.id)
        self._show_selected(from_below=direction < 0)

    def _neighbour(self, index: int, direction: int) -> int | None:
        i = index + direction
        while 0 <= i < len(self.rows):
            if self.rows[i].message is not None:
                return i
            i += direction
        return None

    def _grow(self, *, older: bool) -> None:
        anchor = self._anchor()
        self._growing = True
        try:
            added = self.window.grow_older() if older else self.window.grow_newer()
            if added:
                self._relayout()
                self._restore(anchor)
        finally:
            self._growing = False

    def action_page_up(self) -> None:
        self._page(-1)

    def action_page_down(self) -> None:
        self._page(1)

    def _page(self, direction: int) -> None:
        height = self.scrollable_content_region.height
        self._scroll_to_line(int(self.scroll_y) + direction * max(1, height - 1))
        if direction > 0 and self.scroll_y >= self.max_scroll_y and not self.window.at_end:
            self._grow(older=False)
        if direction < 0 and self.scroll_y <= 0 and not self.window.at_start:
            self._grow(older=True)
        visible = self.visible_messages()
        if self.selected not in {m.id for m in visible} and visible:
            self._select((visible[0] if direction < 0 else visible[-1]).id)
        elif direction > 0 and self.at_newest and visible:
            self._select(visible[-1].id)

    def action_first(self) -> None:
        """The first message of the room (read from the start, whatever lies between)."""
        if not self.window.at_start:
            self.window.open_oldest()
            self._relayout()
        self._scroll_to_line(0)
        rows = self._message_rows()
        if rows:
            message = self.rows[rows[0]].message
            self._select(message.id if message else None)

    def action_last(self) -> None:
        """The newest message of the room."""
        if not self.window.at_end:
            self.window.open_newest()
            self._relayout()
        self._scroll_end()
        rows = self._message_rows()
        if rows:
            message = self.rows[rows[-1]].message
            self._select(message.id if message else None)

    def action_unfold(self) -> None:
        self._set_folded(False)

    def action_fold(self) -> None:
        self._set_folded(True)

    def _set_folded(self, folded: bool) -> None:
        message = self.selected_message
        if message is None:
            return
        if folded:
            self.expanded.discard(message.id)
        else:
            self.expanded.add(message.id)
        anchor = self._anchor()
        self._relayout()
        self._restore(anchor)
        self._show_selected(from_below=False)

    # ---- acting --------------------------------------------------------------------------------------------

    def action_act_mode(self) -> None:
        message = self.selected_message
        if message is None:
            return
        if message.id not in self._visible_ids():
            self._show_selected(from_below=False)
        self.acting = True

    def watch_acting(self, acting: bool) -> None:
        self.refresh()
        self.post_message(self.ActingChanged(self.selected_message if acting else None))

    def _sync_acting(self) -> None:
        if self.acting and self.selected_message is None:
            self.acting = False

    def available_actions(self) -> list[str]:
        """What act mode offers for the selected message: only what this person may do to it."""
        message = self.selected_message
        if message is None:
            return []
        return [action for action in ACTION_KEYS.values() if self.allowed(action, message)]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act":
            return self.acting and bool(parameters) and parameters[0] in self.available_actions()
        return True

    def action_act(self, action: str) -> None:
        message = self.selected_message
        self.acting = False
        if message is not None and action in self.available_actions():
            self.post_message(self.Act(action, message))

    def action_leave(self) -> None:
        if self.acting:
            self.acting = False
            return
        self._to_composer()

    def _to_composer(self) -> None:
        if self.compose_target is not None:
            self.screen.set_focus(self.compose_target)  # now, not later: the next keys must land there
        self.post_message(self.Act("compose", None))

    def on_key(self, event: events.Key) -> None:
        """Typing writes: a printable key goes to the composer, except an action key in act mode (and ``?``,
        the help)."""
        if not event.is_printable or event.character is None:
            return
        if self.acting:
            action = ACTION_KEYS.get(event.character)
            event.stop()
            event.prevent_default()
            if action is not None and action in self.available_actions():
                self.action_act(action)
                return
            self.acting = False
            if action is not None:
                self.notify(f"You cannot {ACTION_LABELS[action]} this message.", timeout=3)
                return
        if event.character == "?":
            return  # the help (a binding of the app)
        event.stop()
        event.prevent_default()
        if self.compose_target is not None and not self.compose_target.disabled:  # (an observer cannot write)
            self.screen.set_focus(self.compose_target)
            self.compose_target.insert_text_at_cursor(event.character)

    # ---- mouse ---------------------------------------------------------------------------------------------

    async def _on_click(self, event: events.Click) -> None:
        index = self._row_at_line(int(self.scroll_y) + event.y)
        if index is None or self.rows[index].message is None:
            return
        message = self.rows[index].message
        assert message is not None
        offset = int(self.scroll_y) + event.y - self._starts[index]
        visual = self.rows[index].visual
        self.focus()
        self._select(message.id)
        if (
            isinstance(visual, MessageVisual)
            and visual.folded
            and offset == self.rows[index].height - 1 - visual.file_lines
        ):
            self.action_unfold()
        elif event.chain >= 2:
            self.action_act_mode()
