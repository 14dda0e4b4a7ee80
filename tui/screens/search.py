"""Search (ctrl+g on every screen, ``/`` where nothing is typed): messages, incidents and tasks that hold every
word typed, as one types. Enter on a result opens it where it lives: a message in its room, around it and
selected; an incident or task on the board. Dismissed with the chosen :class:`SearchHit` (``None``: Esc)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from meshchat.log.kinds import severity_label
from meshchat.store.queries import SearchHit
from tui.format import clock_time, shown, value_text
from tui.session import session

TYPING_PAUSE_S = 0.15  # search once the person pauses typing this long
LIMIT = 50
PREVIEW = 90


class SearchInput(Input):
    """``↓`` goes to the results."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("down", "screen.to_results", "Results", show=False)]


class SearchScreen(ModalScreen[SearchHit | None]):
    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[SearchHit] = []
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="search"):
            yield Static("Search messages, incidents and tasks", id="search-title")
            yield SearchInput(placeholder="words that must all occur, e.g. sandbag km 4", id="search-input")
            yield Static("", id="search-status")
            yield OptionList(id="search-results", markup=False)

    def on_mount(self) -> None:
        self.query_one(SearchInput).focus()
        self._show([], "Type to search. Enter opens the highlighted result, Esc closes.")

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(TYPING_PAUSE_S, self.run_search)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.run_search()
        if self.hits:
            self.action_to_results()

    def run_search(self) -> None:
        self._timer = None
        query = self.query_one(SearchInput).value
        if not query.strip():
            self._show([], "Type to search.")
            return
        results = session(self).node.views.search(query, limit=LIMIT)
        count = len(results.hits)
        status = (
            f"{count}{'+' if count == LIMIT else ''} found · whole words first, then the newest · Enter opens"
            if count
            else f"Nothing holds every word of “{shown(query)}”."
        )
        if results.unindexed:
            status += f" ({results.unindexed:,} new entries are still being indexed: search again in a moment.)"
        self._show(results.hits, status)

    def _show(self, hits: list[SearchHit], status: str) -> None:
        self.hits = hits
        self.query_one("#search-status", Static).update(Content.styled(status, "$text-muted"))
        results = self.query_one("#search-results", OptionList)
        app = session(self)
        rooms = {r.room: shown(r.name) for r in app.node.views.rooms()} if hits else {}
        results.set_options(Option(hit_line(hit, app.name_of, rooms), id=str(i)) for i, hit in enumerate(hits))
        results.display = bool(hits)

    def action_to_results(self) -> None:
        results = self.query_one("#search-results", OptionList)
        if self.hits:
            results.focus()
            results.highlighted = results.highlighted or 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.hits[event.option_index])

    def on_key(self, event: events.Key) -> None:
        """In the results, typing goes on writing the query (as in the chat: typing writes)."""
        if isinstance(self.focused, OptionList) and event.is_printable and event.character:
            event.stop()
            field = self.query_one(SearchInput)
            self.set_focus(field)
            field.insert_text_at_cursor(event.character)

    def action_close(self) -> None:
        self.dismiss(None)


def hit_line(hit: SearchHit, name_of: Callable[[bytes], str], rooms: dict[bytes, str]) -> Content:
    """``07:10 Bo in #general: Sandbags needed…``, ``INCIDENT S2 major active: Levee breach``, ``TASK open: …``."""
    if hit.message is not None:
        msg = hit.message
        return Content.assemble(
            (f"{clock_time(msg.clock)} ", "$text-muted"),
            (name_of(msg.author), "bold"),
            (f" in #{rooms.get(msg.room, '?')}: ", "$text-muted"),
            _preview(msg.text),
        )
    obj = hit.obj
    assert obj is not None
    status = value_text(obj.get("status"))
    if hit.kind == "incident":
        return Content.assemble(
            ("INCIDENT ", "bold $text-warning"),
            (f"{severity_label(obj.get('severity'))} {status}: ", "$text-muted"),
            _preview(hit.text),
        )
    owner = obj.get("owner")
    who = f" ({name_of(owner)})" if isinstance(owner, bytes) else ""
    return Content.assemble(("TASK ", "bold $text-accent"), (f"{status}: ", "$text-muted"), _preview(hit.text) + who)


def _preview(text: str) -> str:
    one = shown(" ".join(text.split()))
    return one if len(one) <= PREVIEW else one[: PREVIEW - 1] + "…"
