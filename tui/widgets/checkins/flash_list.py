"""FLASH messages waiting for my acknowledgement, until I acknowledge them (``a``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from meshchat.log.views import Message
from tui.format import clock_time, shown


class FlashList(OptionList):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("a", "ack", "Acknowledge")]

    @dataclass
    class Ack(TextualMessage):
        message: Message

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.flashes: list[Message] = []
        self.may_ack = True  # set by the screen from the person's role

    def show(
        self, messages: Sequence[Message], name_of: Callable[[bytes], str], room_name: Callable[[bytes], str]
    ) -> None:
        keep = self.highlighted
        self.flashes = list(messages)
        if not messages:
            self.set_options(
                [Option(Content.styled("Nothing waits for your acknowledgement.", "$text-muted"), disabled=True)]
            )
            return
        self.set_options(
            Option(
                Content.assemble(
                    (" FLASH ", "bold $text-error on $error-muted"),
                    (f" {clock_time(m.clock)} ", "$text-muted"),
                    (name_of(m.author), "bold"),
                    (f" in #{room_name(m.room)}: ", "$text-muted"),
                    shown(m.text),
                )
            )
            for m in messages
        )
        self.highlighted = min(keep or 0, len(messages) - 1)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """An acknowledgement is offered to those whose role lets it count."""
        return action != "ack" or self.may_ack

    def action_ack(self) -> None:
        if self.highlighted is not None and self.flashes:
            self.post_message(self.Ack(self.flashes[self.highlighted]))
