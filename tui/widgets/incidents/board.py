"""The board: every incident with severity, status, commander, and its last change (what, who, when)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.content import Content

from meshchat.log.kinds import severity_label
from meshchat.log.views import TrackedObject
from tui.format import clock_time, value_text
from tui.widgets.table import Column, Table

SEVERITY_STYLES = {1: "bold $text-error", 2: "bold $text-warning", 3: "$text-warning", 4: "", 5: "$text-muted"}
STATUS_STYLES = {"open": "bold", "active": "bold $text-warning", "contained": "$text-success", "closed": "$text-muted"}


def last_change_text(obj: TrackedObject, name_of: Callable[[bytes], str]) -> str:
    """``07:12 Bo status, commander`` or ``07:10 Ana opened``: when and who first, so a narrow column keeps them."""
    last = obj.last_change
    opened = last.entry_id == obj.history[0].entry_id
    what = "opened" if opened else ", ".join(sorted({c.name for c in obj.history if c.entry_id == last.entry_id}))
    return f"{clock_time(last.clock)} {name_of(last.author)} {what}"


def board_cells(
    obj: TrackedObject, name_of: Callable[[bytes], str], person: Callable[[str], str] = str
) -> list[Content]:
    severity = obj.get("severity")
    status = value_text(obj.get("status"))
    style = SEVERITY_STYLES.get(severity, "") if isinstance(severity, int) else ""
    return [
        Content.styled(severity_label(severity), style),
        Content.styled(status, STATUS_STYLES.get(status, "")),
        Content(value_text(obj.get("title"))),
        Content(person(value_text(obj.get("commander"))) or "-"),
        Content.styled(last_change_text(obj, name_of), "$text-muted"),
    ]


class IncidentBoard(Table):
    """One row per incident, most severe first (the order ``Views.incidents`` gives)."""

    COLUMNS: ClassVar[Sequence[Column]] = (
        Column("Severity", 11),
        Column("Status", 9),
        Column("Incident", min_width=16, weight=3),
        Column("Commander", 10),
        Column("Last update", min_width=16, weight=2),
    )
    EMPTY = "No incidents. Press n to open one."

    def show_incidents(
        self,
        incidents: Sequence[TrackedObject],
        name_of: Callable[[bytes], str],
        person: Callable[[str], str] = str,
    ) -> None:
        """``person``: a name written in a field (the commander) as that member is called now."""
        self.show([(obj.obj.hex(), board_cells(obj, name_of, person)) for obj in incidents])
