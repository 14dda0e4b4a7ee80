"""The room list: every room with its unread count; moving the highlight opens the room."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from meshchat.log.views import Room
from tui.format import shown


@dataclass(frozen=True, slots=True)
class RoomEntry:
    room: Room
    unread: int
    flash: int  # unacknowledged FLASH messages in the room


def room_label(entry: RoomEntry) -> Content:
    name = Content.styled(f"# {shown(entry.room.name)}", "bold" if entry.unread else "")
    if entry.room.archived:
        name = Content.styled(f"# {shown(entry.room.name)} (archived)", "$text-muted")
    parts: list[Content | str | tuple[str, str]] = [name]
    if entry.flash:
        parts.append((f" ⚑{entry.flash}", "bold $text-error"))
    if entry.unread:
        parts.append((f" {entry.unread}", "bold $text-accent"))
    return Content.assemble(*parts)


class RoomList(OptionList):
    """Rooms in the order they were created; archived ones last."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back to the conversation")]

    @dataclass
    class Opened(TextualMessage):
        """The person moved to ``room`` (``focus``: and pressed Enter, so the composer should take focus)."""

        room: bytes
        focus: bool

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.entries: list[RoomEntry] = []

    def show(self, entries: Sequence[RoomEntry], current: bytes | None) -> None:
        """Show ``entries`` with ``current`` highlighted. (Highlighting sends ``Opened`` for ``current``; the
        screen ignores an Opened for the room it shows.)"""
        ordered = sorted(entries, key=lambda e: e.room.archived)
        if ordered == self.entries:
            return
        self.entries = ordered
        self.set_options(Option(room_label(e), id=e.room.room.hex()) for e in ordered)
        self.select_room(current)

    def select_room(self, room: bytes | None) -> None:
        index = next((i for i, e in enumerate(self.entries) if e.room.room == room), None)
        if index is not None:
            self.highlighted = index

    def action_back(self) -> None:
        option = self.highlighted_option
        if option is not None and option.id is not None:
            self.post_message(self.Opened(bytes.fromhex(option.id), focus=True))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Opened(bytes.fromhex(event.option.id), focus=False))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Opened(bytes.fromhex(event.option.id), focus=True))
