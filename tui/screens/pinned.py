"""The pinned messages of the room the chat shows (ctrl+t), newest pin first; Enter opens one in the chat."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from meshchat.log.views import Message
from tui.format import clock_time, shown
from tui.session import session

PREVIEW = 90


class PinnedScreen(ModalScreen[Message | None]):
    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, room: bytes, room_name: str) -> None:
        super().__init__()
        self.room = room
        self.room_name = room_name
        self.pins: list[Message] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="search"):
            yield Static(f"Pinned in #{shown(self.room_name)}", id="search-title", markup=False)
            yield Static("", id="search-status")
            yield OptionList(id="search-results", markup=False)

    def on_mount(self) -> None:
        app = session(self)
        self.pins = list(reversed(app.node.views.pinned_in(self.room)))
        results = self.query_one(OptionList)
        results.set_options(Option(pin_line(m, app.name_of(m.author))) for m in self.pins)
        status = "Enter opens the message in the chat, Esc closes." if self.pins else "Nothing is pinned here yet."
        self.query_one("#search-status", Static).update(Content.styled(status, "$text-muted"))
        results.display = bool(self.pins)
        results.focus()
        if self.pins:
            results.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.pins[event.option_index])

    def action_close(self) -> None:
        self.dismiss(None)


def pin_line(msg: Message, author: str) -> Content:
    text = shown(" ".join(msg.text.split()))
    if len(text) > PREVIEW:
        text = text[: PREVIEW - 1] + "…"
    return Content.assemble(
        ("◆ ", "$accent"), (f"{clock_time(msg.clock)} ", "$text-muted"), (author, "bold"), f": {text}"
    )
