"""The board: every incident with severity, status, commander, and its last change (what, who, when)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.content import Content
from textual.widgets import DataTable

from meshchat.log.views import TrackedObject
from tui.format import clock_time, severity_label, value_text

SEVERITY_STYLES = {1: "bold $text-error", 2: "bold $text-warning", 3: "$text-warning", 4: "", 5: "$text-muted"}
STATUS_STYLES = {"open": "bold", "active": "bold $text-warning", "contained": "$text-success", "closed": "$text-muted"}


def last_change_text(obj: TrackedObject, name_of: Callable[[bytes], str]) -> str:
    """``status by Bo 07:12`` or ``opened by Ana 07:10``."""
    last = obj.last_change
    opened = last.entry_id == obj.history[0].entry_id
    what = "opened" if opened else ", ".join(sorted({c.name for c in obj.history if c.entry_id == last.entry_id}))
    return f"{what} by {name_of(last.author)} {clock_time(last.clock)}"


class IncidentBoard(DataTable[Content]):
    """One row per incident, most severe first (the order ``Views.incidents`` gives)."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_column("Sev", key="sev", width=12)
        self.add_column("Status", key="status", width=10)
        self.add_column("Incident", key="title")
        self.add_column("Commander", key="commander", width=12)
        self.add_column("Last update", key="last")

    def show(self, incidents: Sequence[TrackedObject], name_of: Callable[[bytes], str]) -> None:
        keep = self.selected_key
        self.clear()
        for obj in incidents:
            severity = obj.get("severity")
            status = value_text(obj.get("status"))
            self.add_row(
                Content.styled(severity_label(severity), SEVERITY_STYLES.get(severity, "")),  # type: ignore[arg-type]
                Content.styled(status, STATUS_STYLES.get(status, "")),
                Content(value_text(obj.get("title"))),
                Content(value_text(obj.get("commander")) or "-"),
                Content.styled(last_change_text(obj, name_of), "$text-muted"),
                key=obj.obj.hex(),
            )
        if keep is not None and keep in {o.obj.hex() for o in incidents}:
            self.move_cursor(row=self.get_row_index(keep))

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
