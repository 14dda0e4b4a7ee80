"""A home that cannot be opened (another meshchat runs on it, its store is damaged): what and what to do, whole
screen, instead of a welcome screen that would offer to make a team where one already is."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Static

from tui.widgets.chrome import KeyBar


class ProblemScreen(Screen[None]):
    CSS_PATH = "welcome.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q,q,escape", "app.quit", "Quit")]

    def __init__(self, title: str, detail: str) -> None:
        super().__init__()
        self.title_text = title
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="welcome"):
            yield Static("meshchat", id="welcome-title")
            yield Static(self.title_text, classes="welcome-heading", id="problem-title", markup=False)
            yield Static(self.detail, id="welcome-problem", markup=False)
        yield KeyBar()
