"""First run: create a team, or join one with an invite code. Nothing to read first."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Static

from meshchat.errors import MeshchatError
from meshchat.invites import InviteCode, join_team
from meshchat.profile import Profile
from tui.widgets.chrome import KeyBar
from tui.widgets.fields import Field


class CodeInput(Field):
    """The invite code field: a paste keeps every line (Textual's ``Input`` keeps only the first), so a code
    copied over several lines, or the CLI's whole ``meshchat join CODE`` line, arrives whole. The core's code
    reader (``InviteCode.decode``) makes sense of it."""

    def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()  # not Input's own paste
        text = " ".join(event.text.split())
        if text:
            self.insert_text_at_cursor(text)


class WelcomeScreen(Screen[bool]):
    """Dismissed with True once a profile exists in ``home``."""

    CSS_PATH = "welcome.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "app.quit", "Quit")]

    def __init__(self, home: Path, problem: str = "") -> None:
        super().__init__()
        self.home = home
        self.problem = problem

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="welcome"):
            yield Static("meshchat", id="welcome-title")
            yield Static(
                "Team chat, incident board and roll calls that work without internet: laptops on one network "
                "find each other and keep everyone's log in sync.",
                id="welcome-intro",
            )
            if self.problem:
                yield Static(f"Could not open {self.home}: {self.problem}", id="welcome-problem", markup=False)
            with Vertical(classes="welcome-box"):
                yield Static("Start a new team", classes="welcome-heading")
                yield Label("Team name", classes="field-label")
                yield Field(placeholder="Flood response", id="team-name", on_enter=self.submitted)
                yield Label("Your name", classes="field-label")
                yield Field(placeholder="Ana", id="your-name", on_enter=self.submitted)
                with Horizontal(classes="welcome-buttons"):
                    yield Button("Create team", variant="primary", id="create")
            with Vertical(classes="welcome-box"):
                yield Static("Join a team", classes="welcome-heading")
                yield Label(
                    "Invite code (paste it whole, or the line 'meshchat join …') and your name", classes="field-label"
                )
                with Horizontal(classes="join-fields"):
                    yield CodeInput(placeholder="MC2…", id="invite-code", on_enter=self.submitted)
                    yield Field(placeholder="Your name", id="join-name", on_enter=self.submitted)
                with Horizontal(classes="welcome-buttons"):
                    yield Button("Join", id="join")
            yield Static("", id="welcome-message")
            yield Static(f"Your profile will live in {self.home}", id="welcome-home", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.focus_field("#team-name")

    def submitted(self, field: Field) -> None:
        """Enter in a field moves on or acts: team name → your name → create; code → name → join."""
        if field.id == "team-name":
            if field.value.strip():
                self.focus_field("#your-name")
            else:
                self.say("Give the team a name, e.g. 'Flood response'.")
        elif field.id == "your-name":
            self.create_team()
        elif field.id == "invite-code" and field.value.strip():
            self.focus_field("#join-name")
        else:
            self.join_team()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "create":
            self.create_team()
        else:
            self.join_team()

    def focus_field(self, selector: str) -> None:
        """Focus now, not after a refresh: keys typed right after Enter (a fast typist, a paste) land there."""
        self.set_focus(self.query_one(selector, Input))

    def say(self, text: str, *, error: bool = True) -> None:
        message = self.query_one("#welcome-message", Static)
        message.set_class(error, "-error")
        message.update(text)

    def create_team(self) -> None:
        team = self.query_one("#team-name", Input).value.strip()
        name = self.query_one("#your-name", Input).value.strip()
        if not team:
            self.say("Give the team a name, e.g. 'Flood response'.")
            self.focus_field("#team-name")
            return
        if not name:
            self.say("Give your name, so teammates know who writes.")
            self.focus_field("#your-name")
            return
        try:
            Profile.init(self.home, team, display_name=name).close()
        except MeshchatError as exc:
            self.say(str(exc))
            return
        self.dismiss(True)

    def join_team(self) -> None:
        """Join with the code: a new identity that keeps the invite. The node then dials the inviter's node at
        the addresses in the code, which admits the newcomer (or refuses the invite: a NodeProblem says why)."""
        text = self.query_one("#invite-code", Input).value.strip()
        name = self.query_one("#join-name", Input).value.strip()
        if not text:
            self.say("Paste the invite code your team lead gave you.")
            self.focus_field("#invite-code")
            return
        try:
            code = InviteCode.decode(text)
        except MeshchatError as exc:
            self.say(str(exc))
            self.focus_field("#invite-code")
            return
        if not name:
            self.say("Give your name, so teammates know who writes.")
            self.focus_field("#join-name")
            return
        try:
            join_team(self.home, code, display_name=name).close()
        except MeshchatError as exc:
            self.say(str(exc))
            return
        self.dismiss(True)
