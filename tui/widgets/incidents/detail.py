"""One incident: its fields, its tasks (owner, status) and its timeline of every change, with who made it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby

from textual.content import Content
from textual.widgets import DataTable, Static

from meshchat.log.views import FieldChange, TrackedObject
from tui.format import clock_seconds, severity_label, value_text

FIELD_ORDER = ("title", "severity", "status", "commander", "location", "summary")
TASK_STATUS_STYLES = {"open": "bold", "done": "$text-success", "cancelled": "$text-muted"}


def incident_fields(obj: TrackedObject, name_of: Callable[[bytes], str]) -> Content:
    rows: list[Content | str | tuple[str, str]] = [(value_text(obj.get("title")) + "\n", "bold")]
    for name in FIELD_ORDER[1:]:
        value = obj.get(name)
        text = severity_label(value) if name == "severity" else value_text(value)
        rows.append((f"{name:<10}", "$text-muted"))
        rows.append(f"{text or '-'}\n")
    rows.append(("opened    ", "$text-muted"))
    rows.append(f"{clock_seconds(obj.opened_clock)} by {name_of(obj.opened_by)}")
    return Content.assemble(*rows)


def change_text(change: FieldChange) -> str:
    value = severity_label(change.value) if change.name == "severity" else value_text(change.value)
    return f"{change.name} → {value}" if value else f"{change.name} cleared"


def timeline(obj: TrackedObject, name_of: Callable[[bytes], str]) -> Content:
    """Newest first: ``07:12:01 Cy  status → active, commander → Bo``."""
    lines: list[Content | str | tuple[str, str]] = []
    groups = [list(g) for _, g in groupby(obj.history, key=lambda c: c.entry_id)]
    for index, changes in enumerate(reversed(groups)):
        first = changes[0]
        opened = index == len(groups) - 1
        what = "opened the incident" if opened else ", ".join(change_text(c) for c in changes)
        lines.append((f"{clock_seconds(first.clock)} ", "$text-muted"))
        lines.append((f"{name_of(first.author)} ", "bold"))
        lines.append(what + "\n")
    return Content.assemble(*lines)


class IncidentDetail(Static):
    def show(self, obj: TrackedObject | None, name_of: Callable[[bytes], str]) -> None:
        if obj is None:
            self.update(Content.styled("No incident yet. Press n to open one.", "$text-muted"))
        else:
            self.update(incident_fields(obj, name_of))


class IncidentTimeline(Static):
    def show(self, obj: TrackedObject | None, name_of: Callable[[bytes], str]) -> None:
        self.update(timeline(obj, name_of) if obj is not None else "")


class TaskTable(DataTable[Content]):
    """The incident's tasks; ``d`` marks the highlighted one done."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("Status", key="status", width=10)
        self.add_column("Task", key="title")
        self.add_column("Owner", key="owner", width=12)

    def show(self, tasks: Sequence[TrackedObject], name_of: Callable[[bytes], str]) -> None:
        keep = self.cursor_row
        self.clear()
        for task in tasks:
            status = value_text(task.get("status"))
            owner = task.get("owner")
            self.add_row(
                Content.styled(status, TASK_STATUS_STYLES.get(status, "")),
                Content(value_text(task.get("title"))),
                Content(name_of(owner) if isinstance(owner, bytes) else "-"),
                key=task.obj.hex(),
            )
        if tasks:
            self.move_cursor(row=min(keep, len(tasks) - 1))

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
