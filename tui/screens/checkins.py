"""Check-ins: answer a roll call with one key (s safe, h need help), see who has not answered, and
acknowledge FLASH messages (a)."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from meshchat.geo.describe import age_text
from meshchat.log.codec import Value
from meshchat.log.positions import staleness
from meshchat.log.views import Checkin
from tui.changes import Changes
from tui.format import shown
from tui.screens.base import AreaScreen
from tui.screens.forms import CheckinForm, NeedHelpForm, my_point
from tui.session import session
from tui.widgets.checkins.flash_list import FlashList
from tui.widgets.checkins.rollcall import RollCallAnswers, RollCallTable
from tui.widgets.table import Rows

ACTION_KINDS = {
    "new_rollcall": "checkin.request",
    "safe": "checkin.reply",
    "need_help": "checkin.reply",
}  # the entry each key writes


class CheckinsScreen(AreaScreen):
    MODE = "checkins"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "safe", "I'm safe"),
        Binding("h", "need_help", "Need help"),
        Binding("n", "new_rollcall", "New roll call"),
        Binding("slash", "app.search", "Search", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.checkins: list[Checkin] = []

    def compose_area(self) -> ComposeResult:
        with Vertical(id="checkins"):
            yield Static("WAITING FOR YOUR ACKNOWLEDGEMENT  a acknowledges", classes="section-title")
            yield FlashList(id="flashes")
            yield Static("YOUR FLASH MESSAGES  who has not acknowledged", classes="section-title", id="sent-title")
            yield Static(id="sent-flashes")
            yield Static("ROLL CALLS  s safe · h need help · n new", classes="section-title")
            with Horizontal(id="rollcalls"):
                yield RollCallTable(id="rollcall-table")
                yield RollCallAnswers(id="rollcall-answers")

    def area_mounted(self) -> None:
        self.refresh_area(None)
        self.focus_default()

    def flashes_changed(self) -> None:
        watch = session(self).flash_watch
        lines = watch.sent_lines() if watch is not None else []
        self.query_one("#sent-title").display = self.query_one("#sent-flashes").display = bool(lines)
        self.query_one("#sent-flashes", Static).update(Content("\n").join(lines))
        self._show_rollcalls()  # who is unreachable may have changed

    def focus_default(self) -> None:
        flashes = self.query_one(FlashList)
        if flashes.flashes:
            flashes.focus()
        else:
            self.query_one(RollCallTable).focus()

    @property
    def selected(self) -> Checkin | None:
        key = self.query_one(RollCallTable).selected_key
        return next((c for c in self.checkins if c.checkin.hex() == key), None)

    def refresh_area(self, changes: Changes | None) -> None:
        app = session(self)
        node = app.node
        if changes is None or changes.messages or changes.room_list:
            rooms = {r.room: shown(r.name) for r in node.views.rooms()}
            self.query_one(FlashList).may_ack = node.may("msg.ack")
            self.query_one(FlashList).show(app.unacknowledged(), app.name_of, lambda r: rooms.get(r, "?"))
            self.flashes_changed()
        if changes is None or changes.checkins:
            self.checkins = node.views.checkins()
            self._show_rollcalls()

    def _show_rollcalls(self) -> None:
        app = session(self)
        facts = app.flash_watch.facts if app.flash_watch is not None else None
        unreachable = facts.unreachable if facts is not None else frozenset()
        self.query_one(RollCallTable).show_checkins(self.checkins, app.name_of, unreachable)
        self.show_selected()

    def show_selected(self) -> None:
        app = session(self)
        facts = app.flash_watch.facts if app.flash_watch is not None else None
        unreachable, heard = (facts.unreachable, facts.heard) if facts is not None else (frozenset(), {})
        self.query_one(RollCallAnswers).show(self.selected, app.node.me, app.name_of, unreachable, heard)

    def on_rows_highlighted(self, event: Rows.Highlighted) -> None:
        if isinstance(event.table, RollCallTable):
            self.show_selected()

    async def on_flash_list_ack(self, event: FlashList.Ack) -> None:
        app = session(self)
        if await app.write(lambda: app.node.ack(event.message.id)) is not None:
            self.notify("Acknowledged.", timeout=2)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only what this person's role lets them do is offered (hidden otherwise, in the key bar and ``?``)."""
        kind = ACTION_KINDS.get(action)
        return kind is None or session(self).node.may(kind)

    async def action_safe(self) -> None:
        """``s``: safe, at once (the common answer needs no questions)."""
        await self._answer("safe")

    @work
    async def action_need_help(self) -> None:
        """``h``: need help, with a note and where (optional), confirmed before it goes out."""
        checkin = self.selected
        if checkin is None:
            self.notify("There is no roll call to answer.", severity="warning")
            return
        app = session(self)
        mine = app.node.my_position()
        age = mine.age_ms(app.clock()) if mine is not None else None
        fresh = mine is not None and age is not None and staleness(age) <= 1  # an old fix would send help astray
        form = NeedHelpForm(checkin.question, here=my_point(mine) if fresh else None, here_age=age_text(age or 0))
        answer = await app.push_screen_wait(form)
        if answer is not None:
            note, location = answer
            await self._answer("need_help", note, location)

    async def _answer(self, status: str, note: str = "", location: dict[str, Value] | None = None) -> None:
        app, checkin = session(self), self.selected
        if checkin is None:
            self.notify("There is no roll call to answer.", severity="warning")
            return
        reply = app.node.reply_checkin
        if await app.write(lambda: reply(checkin.checkin, status, note, location=location)) is not None:
            word = "safe" if status == "safe" else "NEED HELP" + (f": {note}" if note else "")
            self.notify(f"Answered: {word}", timeout=5, severity="information" if status == "safe" else "warning")

    @work
    async def action_new_rollcall(self) -> None:
        app = session(self)
        values = await app.push_screen_wait(CheckinForm(app.node.views.rooms(), app.current_room))
        if values is not None:
            room, question = values
            if await app.write(lambda: app.node.request_checkin(room, question)) is not None:
                self.refresh_area(None)
