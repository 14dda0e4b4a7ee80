"""Small modal forms: confirm, new room, open/update an incident, open a task, start a roll call.

Each returns plain values through ``dismiss`` (``None`` when cancelled); the screen that opened it does the
write. Enter in a text field saves, Esc cancels, Tab moves between fields. Titles, details and choices can
hold member text, made safe by ``tui.format.shown`` and never read as markup (``markup=False``, rich ``Text``
prompts).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from meshchat.geo.location import HERE, CoordinateError, coordinates_text, location_of
from meshchat.geo.point import Point
from meshchat.log.codec import Value
from meshchat.log.kinds import MAX_NAME, SEVERITY_LABELS
from meshchat.log.positions import Fix
from meshchat.log.views import Room, TrackedObject
from tui.format import shown, value_text
from tui.widgets.fields import Field

R = TypeVar("R")
MAX_NOTE = MAX_NAME * 4  # a roll-call answer's note (meshchat.log.kinds: checkin.reply)
INCIDENT_STATUSES = ("open", "active", "contained", "closed")
SEVERITIES = [(label, level) for level, label in SEVERITY_LABELS.items()]
AT_PLACEHOLDER = "52.0907 5.1214 · 31U FT 4533 7325 · here"
MAX_PLACE = 200  # a location's words (meshchat.log.kinds: location)


class FormFields(VerticalScroll, can_focus=False):
    """The fields of a form; scrolls when they do not fit (focus goes to the fields, not to it)."""


class Form(ModalScreen[R | None], Generic[R]):
    """A titled box of fields with Save and Cancel."""

    CSS_PATH = "forms.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save", show=False),  # from a drop-down too, where Enter opens the list
    ]
    TITLE_TEXT = ""
    SAVE_LABEL = "Save"

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(self.TITLE_TEXT, id="form-title", markup=False)
            with FormFields(id="form-fields"):  # scrolls if it must; the buttons below always show
                yield from self.fields()
            yield Static("", id="form-error", markup=False)
            with Horizontal(id="form-buttons"):
                yield Button(f"{self.SAVE_LABEL} (Enter)", variant="primary", id="save")
                yield Button("Cancel (Esc)", id="cancel")

    def fields(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        for field in self.query(Field):  # Enter in any field saves, before the next key is read
            field.on_enter = lambda _field: self.action_save()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    submit: Callable[[R], Awaitable[str | None]] | None = None  # does the write; returns why it was refused

    def action_save(self) -> None:
        try:
            result = self.result()
        except ValueError as exc:
            self.query_one("#form-error", Static).update(str(exc))
            return
        if self.submit is None:
            self.dismiss(result)
        else:
            self._submit(result)

    @work(exclusive=True)
    async def _submit(self, result: R) -> None:
        """Write while the form is up: a refusal (a room name taken, a role changed) is said here, and what
        was typed stays, to be corrected."""
        assert self.submit is not None
        refusal = await self.submit(result)
        if refusal is None:
            self.dismiss(result)
        else:
            self.query_one("#form-error", Static).update(refusal)

    def result(self) -> R:
        """The form's values; raise ValueError with a message for the person when something is missing."""
        raise NotImplementedError

    def text(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value.strip()

    def choice(self, field_id: str) -> Any:
        value = self.query_one(f"#{field_id}", Select).value
        return None if value is Select.NULL else value


def labelled(label: str, widget: Field | Select[Any]) -> ComposeResult:
    """A field on one line, its label on the left: a form of six fields fits a 20-line terminal."""
    if isinstance(widget, Field):
        widget.compact = True
    with Horizontal(classes="field-row"):
        yield Label(label, classes="field-label")
        yield widget


class ConfirmForm(Form[bool]):
    """Yes or no, for writes that cannot be undone (a retraction stays in the log for good)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "No"),
        Binding("y,enter", "save", "Yes"),
    ]

    def __init__(self, title: str, detail: str, yes: str) -> None:
        super().__init__()
        self.TITLE_TEXT = title
        self.SAVE_LABEL = yes
        self.detail = detail

    def fields(self) -> ComposeResult:
        yield Static(self.detail, id="confirm-detail", markup=False)

    def on_mount(self) -> None:
        self.query_one("#save", Button).focus()

    def result(self) -> bool:
        return True


class RoomForm(Form[tuple[str, str]]):
    TITLE_TEXT = "New room"
    SAVE_LABEL = "Create"

    def fields(self) -> ComposeResult:
        yield from labelled("Name", Field(placeholder="logistics", id="room-name"))
        yield from labelled("Topic", Field(placeholder="what the room is for (optional)", id="room-topic"))

    def result(self) -> tuple[str, str]:
        name = self.text("room-name")
        if not name:
            raise ValueError("A room needs a name.")
        return name, self.text("room-topic")


class IncidentForm(Form[dict[str, Any]]):
    """Opens an incident (title, severity, location) or, given one, updates it: only changed fields are
    returned, so the board's history says exactly who changed what."""

    def __init__(self, incident: TrackedObject | None = None, *, here: Point | None = None) -> None:
        super().__init__()
        self.incident = incident
        self.here = here  # my last reported position, for "here" in the At field
        self.TITLE_TEXT = "Open an incident" if incident is None else f"Update: {value_text(incident.get('title'))}"
        self.SAVE_LABEL = "Open" if incident is None else "Update"

    def fields(self) -> ComposeResult:
        obj = self.incident

        def current(name: str) -> str:
            return value_text(obj.get(name)) if obj is not None else ""

        yield from labelled("Title", Field(current("title"), placeholder="Levee breach at km 4", id="incident-title"))
        severity = obj.get("severity") if obj is not None else 3
        yield from labelled("Severity", Select(SEVERITIES, value=severity, allow_blank=False, id="incident-severity"))
        if obj is not None:
            statuses = [(s, s) for s in INCIDENT_STATUSES]
            status = obj.get("status") or "open"
            yield from labelled("Status", Select(statuses, value=status, allow_blank=False, id="incident-status"))
            yield from labelled("Commander", Field(current("commander"), id="incident-commander"))
        where = obj.get("location") if obj is not None else None
        yield from labelled("Location", Field(label_text(where), placeholder="north dam", id="incident-location"))
        at = Field(coordinates_text(where), placeholder=AT_PLACEHOLDER, id="incident-at")
        yield from labelled("At", at)
        if obj is not None:
            yield from labelled("Summary", Field(current("summary"), id="incident-summary"))

    def result(self) -> dict[str, Any]:
        title = self.text("incident-title")
        if not title:
            raise ValueError("An incident needs a title.")
        label, at = self.text("incident-location"), self.text("incident-at")
        location = typed_location(label, at, self.here)
        values: dict[str, Any] = {"title": title, "severity": self.choice("incident-severity"), "location": location}
        if self.incident is None:
            return values
        values |= {
            "status": self.choice("incident-status"),
            "commander": self.text("incident-commander"),
            "summary": self.text("incident-summary"),
        }
        changed = {k: v for k, v in values.items() if k != "location" and v != _current(self.incident, k)}
        where = self.incident.get("location")
        if (label, at) != (label_text(where), coordinates_text(where)):  # as the form showed it: untouched is no change
            changed["location"] = location
        if not changed:
            raise ValueError("Nothing changed.")
        return changed


def my_point(fix: Fix | None) -> Point | None:
    """Where I last reported being (for ``here``), if I did."""
    return Point(fix.lat_e7, fix.lon_e7) if fix is not None else None


def label_text(location: Value) -> str:
    """The words of a location as a form shows them for editing (its coordinates have a field of their own)."""
    if isinstance(location, dict):
        text = location.get("text")
        return shown(text) if isinstance(text, str) else ""
    return value_text(location)


def typed_location(label: str, at: str, here: Point | None) -> dict[str, Value] | None:
    """A location from a form's words and coordinates (meshchat.geo.location); a typo is said in the form."""
    try:
        return location_of(label, at, here)
    except CoordinateError as exc:
        raise ValueError(f"At: {exc}") from None


def _current(obj: TrackedObject, name: str) -> Any:
    """A field's value as the form showed it (text made safe), so that an untouched field is not a change."""
    value = obj.get(name)
    if name in ("title", "location", "commander", "summary"):
        return value_text(value)
    return value


class TaskForm(Form[tuple[str, bytes | None, bytes | None, dict[str, Value] | None]]):
    """A task: title, owner (a member), the incident it belongs to, and where it is to be done."""

    TITLE_TEXT = "Open a task"
    SAVE_LABEL = "Open"

    def __init__(
        self,
        members: Sequence[tuple[str, bytes]],
        incidents: Sequence[tuple[str, bytes]],
        *,
        title: str = "",
        incident: bytes | None = None,
        here: Point | None = None,
    ) -> None:
        super().__init__()
        self.members = members
        self.incidents = incidents
        self.default_title = title
        self.default_incident = incident
        self.here = here

    def fields(self) -> ComposeResult:
        yield from labelled("Task", Field(self.default_title, placeholder="Sandbags to km 4", id="task-title"))
        members = [(Text(shown(name)), key) for name, key in self.members]
        yield from labelled("Owner", Select(members, prompt="nobody yet", id="task-owner"))
        yield from labelled(
            "Incident",
            Select(
                [(Text(shown(title)), key) for title, key in self.incidents],
                prompt="none",
                value=self.default_incident if self.default_incident is not None else Select.NULL,
                id="task-incident",
            ),
        )
        yield from labelled("Where (optional)", Field(placeholder="sandbag depot", id="task-location"))
        yield from labelled("At", Field(placeholder=AT_PLACEHOLDER, id="task-at"))

    def result(self) -> tuple[str, bytes | None, bytes | None, dict[str, Value] | None]:
        title = self.text("task-title")
        if not title:
            raise ValueError("A task needs a title.")
        location = typed_location(self.text("task-location"), self.text("task-at"), self.here)
        return title, self.choice("task-owner"), self.choice("task-incident"), location


class CheckinForm(Form[tuple[bytes, str]]):
    """A roll call: a question in a room; every member answers safe or need help."""

    TITLE_TEXT = "Start a roll call"
    SAVE_LABEL = "Start"

    def __init__(self, rooms: Sequence[Room], room: bytes | None) -> None:
        super().__init__()
        self.rooms = rooms
        self.room = room

    def fields(self) -> ComposeResult:
        yield from labelled("Question", Field("Check in: are you safe?", id="checkin-question"))
        options = [(Text(f"# {shown(r.name)}"), r.room) for r in self.rooms if not r.archived]
        value = self.room if self.room in {r for _, r in options} else (options[0][1] if options else Select.NULL)
        yield from labelled("Room", Select(options, value=value, allow_blank=False, id="checkin-room"))

    def result(self) -> tuple[bytes, str]:
        question = self.text("checkin-question")
        room = self.choice("checkin-room")
        if not question or room is None:
            raise ValueError("A roll call needs a question and a room.")
        return room, question


class NeedHelpForm(Form[tuple[str, dict[str, Value] | None]]):
    """Answer a roll call with NEED HELP: what is wrong and where (both optional), confirmed by Enter. Returns
    the note to send (the where is part of it: the answer carries one note) and the answer's location: the
    words of "where", at my last reported position if it is fresh (``here``: found on every map at once)."""

    TITLE_TEXT = "Answer: NEED HELP"
    SAVE_LABEL = "Send NEED HELP"

    def __init__(self, question: str, *, here: Point | None = None, here_age: str = "") -> None:
        super().__init__()
        self.question = question
        self.here = here  # my last position, only if fresh enough to send with the answer
        self.here_age = here_age

    def fields(self) -> ComposeResult:
        yield Static(shown(self.question), id="confirm-detail", markup=False)
        yield from labelled("What do you need? (optional)", Field(placeholder="injured, need a boat", id="help-note"))
        yield from labelled("Where are you? (optional)", Field(placeholder="roof of the school gym", id="help-where"))
        if self.here is not None:
            said = f"Your position ({self.here_age} old) goes with the answer, on everyone's map."
        else:
            said = "No recent position of yours: say where in words."
        yield Static(said, id="help-here", markup=False)

    def result(self) -> tuple[str, dict[str, Value] | None]:
        where = self.text("help-where")
        location = location_of(where[:MAX_PLACE], HERE if self.here is not None else None, self.here)
        return help_note(self.text("help-note"), where), location


def help_note(note: str, where: str) -> str:
    """One roll-call note from what and where (``injured · at the school gym``), cut to what a reply holds."""
    text = " · ".join(part for part in (note, f"at {where}" if where else "") if part)
    return text if len(text) <= MAX_NOTE else text[: MAX_NOTE - 1] + "…"


class InviteForm(Form[str]):
    """An invite for a newcomer: the role they join with. The code is made by the node (``create_invite``)."""

    TITLE_TEXT = "Invite a teammate"
    SAVE_LABEL = "Make code"
    ROLE_LABELS: ClassVar[dict[str, str]] = {"member": "member", "observer": "observer (reads only)", "admin": "admin"}

    def __init__(self, roles: Sequence[str] = ("member", "observer")) -> None:
        super().__init__()
        self.roles = [r for r in ("member", "observer", "admin") if r in roles]  # only what this person may give

    def fields(self) -> ComposeResult:
        yield Static(
            "A one-time code for one person. They paste it into the welcome screen of their meshchat (or run "
            "'meshchat join CODE'); their node then finds yours at the addresses in the code.",
            id="confirm-detail",
        )
        roles = [(self.ROLE_LABELS[r], r) for r in self.roles]
        yield from labelled("Role", Select(roles, value=self.roles[0], allow_blank=False, id="invite-role"))

    def on_mount(self) -> None:
        self.query_one("#save", Button).focus()

    def result(self) -> str:
        return str(self.choice("invite-role"))


class InviteCodeForm(Form[bool]):
    """A fresh invite, ready to hand over: the whole ``meshchat join CODE`` line (the welcome screen and the CLI
    both take it), copied to the clipboard (OSC 52, where the terminal allows it) and, on ``w``, saved to a
    file only this user can read."""

    SAVE_LABEL = "Done"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "save", "Done"),
        Binding("c", "copy", "Copy again"),
        Binding("w", "write_file", "Save to a file"),
    ]

    def __init__(self, code: str, role: str, addresses: Sequence[str], save_dir: Path) -> None:
        super().__init__()
        self.TITLE_TEXT = f"Invite code ({role})"
        self.code = code
        self.line = f"meshchat join {code}"
        self.addresses = addresses
        self.save_dir = save_dir
        self.saved: Path | None = None

    def fields(self) -> ComposeResult:
        yield Static(self.line, id="invite-code-text", markup=False)  # wrapped, whole; the mouse selects it too
        where = ", ".join(self.addresses) if self.addresses else "nowhere yet: this node is not listening"
        yield Static(
            f"Give it to one person: it works once, for a week. Their node dials {where}.",
            id="confirm-detail",
            markup=False,
        )
        yield Static("", id="invite-copied")
        with Horizontal(id="invite-actions"):
            yield Button("Copy (c)", id="copy")
            yield Button("Save to a file (w)", id="write-file")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).display = False  # nothing to cancel: the invite is made
        self.query_one("#save", Button).focus()
        self.action_copy()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Copy and Save here; Done is the form's own (Textual then calls ``Form.on_button_pressed``)."""
        if event.button.id in ("copy", "write-file"):
            event.stop()
            event.prevent_default()  # not the form's handler: these buttons neither save nor cancel
            if event.button.id == "copy":
                self.action_copy()
            else:
                self.action_write_file()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.line)
        self._say("Sent to the clipboard (OSC 52: most terminals take it; tmux needs 'set -g set-clipboard on').")

    def action_write_file(self) -> None:
        try:
            self.saved = save_invite(self.save_dir, self.code, self.line)
        except OSError as exc:
            self._say(f"Could not save it: {exc.strerror or exc}")
            return
        self._say(f"Saved to {self.saved} (only you can read it; delete it once it is handed over).")

    def _say(self, text: str) -> None:
        self.query_one("#invite-copied", Static).update(Content.styled(text, "$text-success"))

    def result(self) -> bool:
        return True


def save_invite(directory: Path, code: str, line: str) -> Path:
    """Write ``line`` to ``directory/invite-<first digits of the code>.txt``, readable by this user only (the
    code lets one person into the team)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / f"invite-{code[3:11].lower()}.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(line + "\n")
    return path
