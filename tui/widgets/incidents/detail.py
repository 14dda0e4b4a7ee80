"""One incident: its fields, its tasks (owner, status) and its timeline of every change, with who made it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby
from typing import ClassVar

from textual.content import Content
from textual.widgets import Static

from meshchat.log.kinds import severity_label
from meshchat.log.views import FieldChange, TrackedObject
from tui.format import clock_seconds, value_text
from tui.widgets.table import Column, Table

FIELD_ORDER = ("title", "severity", "status", "commander", "location", "summary")
TASK_STATUS_STYLES = {"open": "bold", "done": "$text-success", "cancelled": "$text-muted"}


def incident_fields(obj: TrackedObject, name_of: Callable[[bytes], str], person: Callable[[str], str] = str) -> Content:
    rows: list[Content | str | tuple[str, str]] = [(value_text(obj.get("title")) + "\n", "bold")]
    for name in FIELD_ORDER[1:]:
        value = obj.get(name)
        text = severity_label(value) if name == "severity" else value_text(value)
        if name == "commander" and text:
            text = person(text)  # as that member is called now (the timeline keeps what was written)
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
    def show(
        self, obj: TrackedObject | None, name_of: Callable[[bytes], str], person: Callable[[str], str] = str
    ) -> None:
        if obj is None:
            self.update(Content.styled("No incident yet. Press n to open one.", "$text-muted"))
        else:
            self.update(incident_fields(obj, name_of, person))


class IncidentTimeline(Static):
    def show(self, obj: TrackedObject | None, name_of: Callable[[bytes], str]) -> None:
        self.update(timeline(obj, name_of) if obj is not None else "")


class TaskTable(Table):
    """The incident's tasks; ``d`` marks the highlighted one done."""

    COLUMNS: ClassVar[Sequence[Column]] = (Column("Status", 9), Column("Task"), Column("Owner", 10))
    EMPTY = "No tasks. Press t to open one."

    def show_tasks(self, tasks: Sequence[TrackedObject], name_of: Callable[[bytes], str]) -> None:
        rows = []
        for task in tasks:
            status = value_text(task.get("status"))
            owner = task.get("owner")
            cells = [
                Content.styled(status, TASK_STATUS_STYLES.get(status, "")),
                Content(value_text(task.get("title"))),
                Content(name_of(owner) if isinstance(owner, bytes) else "-"),
            ]
            rows.append((task.obj.hex(), cells))
        self.show(rows)
