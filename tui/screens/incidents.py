"""The incident board: the table of incidents, and for the highlighted one its fields, tasks and timeline."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from meshchat.log.mentions import member_called
from meshchat.log.views import TrackedObject
from tui.changes import Changes
from tui.format import shown, value_text
from tui.screens.base import AreaScreen
from tui.screens.forms import IncidentForm, TaskForm, my_point
from tui.session import session
from tui.widgets.incidents.board import IncidentBoard
from tui.widgets.incidents.detail import IncidentDetail, IncidentTimeline, TaskTable
from tui.widgets.table import Rows

ACTION_KINDS = {
    "open_incident": "incident.open",
    "update_incident": "incident.update",
    "open_task": "task.open",
    "task_done": "task.update",
}  # the entry each key writes


class IncidentsScreen(AreaScreen):
    MODE = "incidents"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "open_incident", "New incident"),
        Binding("e", "update_incident", "Update"),
        Binding("t", "open_task", "New task"),
        Binding("d", "task_done", "Task done"),
        Binding("slash", "app.search", "Search", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.incidents: list[TrackedObject] = []

    def compose_area(self) -> ComposeResult:
        with Horizontal(id="incidents"):
            with Vertical(id="board-pane"):
                yield Static("INCIDENTS  most severe first", classes="section-title")
                yield IncidentBoard(id="board")
            with VerticalScroll(id="detail-pane"):
                yield IncidentDetail(id="incident-detail")
                yield Static("TASKS  t new · d done", classes="section-title")
                yield TaskTable(id="tasks")
                yield Static("TIMELINE", classes="section-title")
                yield IncidentTimeline(id="timeline")

    def focus_default(self) -> None:
        self.query_one(IncidentBoard).focus()

    def area_mounted(self) -> None:
        self.refresh_area(None)
        self.focus_default()

    @property
    def board(self) -> IncidentBoard:
        return self.query_one(IncidentBoard)

    @property
    def selected(self) -> TrackedObject | None:
        key = self.board.selected_key
        return next((o for o in self.incidents if o.obj.hex() == key), None)

    def refresh_area(self, changes: Changes | None) -> None:
        if changes is not None and not changes.incidents:
            return
        node = session(self).node
        self.incidents = node.views.incidents()
        self.board.show_incidents(self.incidents, session(self).name_of, self.person)
        self.show_selected()

    def show_selected(self) -> None:
        node = session(self).node
        obj = self.selected
        self.query_one(IncidentDetail).show(obj, session(self).name_of, self.person)
        self.query_one(IncidentTimeline).show(obj, session(self).name_of)
        self.query_one(TaskTable).show_tasks(node.views.tasks(obj.obj) if obj else [], session(self).name_of)

    def person(self, written: str) -> str:
        """A name written in a field (the commander) as that member is called now: after a change of name or
        callsign, the board says what the chat says."""
        app = session(self)
        key = member_called(app.node.membership, written)
        return app.name_of(key) if key is not None else shown(written)

    def show_object(self, obj: TrackedObject) -> None:
        """Select an incident, or a task's incident and the task (a search result)."""
        self.refresh_area(None)
        incident = obj.obj if obj.kind == "incident" else obj.parent
        if incident is not None:
            self.board.select(incident.hex())
            self.show_selected()
        if obj.kind == "task":
            self.query_one(TaskTable).select(obj.obj.hex())
            self.query_one(TaskTable).focus()
        else:
            self.board.focus()

    def on_rows_highlighted(self, event: Rows.Highlighted) -> None:
        if event.table is self.board:
            self.show_selected()

    # ---- writing -------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only what this person's role lets them do is offered (hidden otherwise, in the key bar and ``?``)."""
        kind = ACTION_KINDS.get(action)
        return kind is None or session(self).node.may(kind)

    @work
    async def action_open_incident(self) -> None:
        app = session(self)
        values = await app.push_screen_wait(IncidentForm(here=my_point(app.node.my_position())))
        if values is None:
            return
        location = values["location"]
        incident = await app.write(
            lambda: app.node.open_incident(values["title"], values["severity"], location=location)
        )
        if incident is not None:
            self.refresh_area(None)
            self.board.select(incident.hex())
            self.notify(f"Incident opened: {values['title']}", timeout=3)

    @work
    async def action_update_incident(self) -> None:
        app, obj = session(self), self.selected
        if obj is None:
            self.notify("No incident selected: press n to open one.", severity="warning")
            return
        changes = await app.push_screen_wait(IncidentForm(obj, here=my_point(app.node.my_position())))
        if changes and await app.write(lambda: app.node.update_incident(obj.obj, changes)) is not None:
            self.refresh_area(None)

    @work
    async def action_open_task(self) -> None:
        app, obj = session(self), self.selected
        node = app.node
        members = sorted(
            ((app.name_of(k), k) for k, m in node.membership.members.items() if m.role is not None),
            key=lambda item: item[0].lower(),
        )
        incidents = [(value_text(o.get("title")), o.obj) for o in self.incidents]
        here = my_point(node.my_position())
        values = await app.push_screen_wait(TaskForm(members, incidents, incident=obj.obj if obj else None, here=here))
        if values is not None:
            title, owner, incident, location = values
            opened = await app.write(lambda: node.open_task(title, owner=owner, incident=incident, location=location))
            if opened is not None:
                self.refresh_area(None)

    async def action_task_done(self) -> None:
        app = session(self)
        key = self.query_one(TaskTable).selected_key
        if key is None:
            self.notify("No task selected.", severity="warning")
            return
        if await app.write(lambda: app.node.update_task(bytes.fromhex(key), {"status": "done"})) is not None:
            self.refresh_area(None)
