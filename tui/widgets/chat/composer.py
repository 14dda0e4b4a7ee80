"""Where a person writes: one line, Enter sends, ctrl+f marks the next message FLASH.

The composer does not post anything itself; it says what the person wants (:class:`Composer.Send`) and the
chat screen posts it through the node. It has focus whenever the chat opens, so typing starts at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message as TextualMessage
from textual.reactive import reactive
from textual.widgets import Input, Label

from meshchat.log.views import Message

PLACEHOLDER = "Write a message · Enter sends · ctrl+f FLASH"


class ComposerInput(Input):
    """The text field. Up on an empty field moves to the messages (as in most chat apps)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "to_messages", "To the messages (on an empty line)", show=False),
    ]

    @dataclass
    class Leave(TextualMessage):
        """The person wants to move from the composer to the message list."""

    def action_to_messages(self) -> None:
        if not self.value:
            self.post_message(self.Leave())


class Composer(Horizontal):
    """FLASH badge, reply note and the input line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+f", "toggle_flash", "FLASH on/off", priority=True),
        Binding("escape", "cancel", "Cancel the reply or FLASH", show=False),
    ]

    flash: reactive[bool] = reactive(False)
    replying_to: reactive[Message | None] = reactive(None)

    @dataclass
    class Send(TextualMessage):
        """Post ``text`` (as FLASH if ``flash``), answering ``reply_to`` if given."""

        text: str
        flash: bool
        reply_to: Message | None

    def compose(self) -> ComposeResult:
        yield Label("FLASH", id="flash-badge")
        yield ComposerInput(
            placeholder=PLACEHOLDER,
            id="composer-input",
            select_on_focus=False,  # coming back to a draft must not select it (the next key would replace it)
        )

    @property
    def input(self) -> ComposerInput:
        return self.query_one(ComposerInput)

    def allow_posting(self, why_not: str | None) -> None:
        """Take text, or (``why_not``: an observer, a read-only home) say why not instead of taking text that
        could not be posted."""
        field = self.input
        field.disabled = why_not is not None
        if why_not is not None:
            field.value = ""
            field.placeholder = why_not
        elif field.placeholder != PLACEHOLDER and not self.replying_to:
            field.placeholder = PLACEHOLDER

    def focus_input(self) -> None:
        self.input.focus()

    def reply(self, message: Message, preview: str) -> None:
        self.replying_to = message
        self.input.placeholder = f"Reply to {preview} · Esc cancels"
        self.focus_input()

    def watch_flash(self, flash: bool) -> None:
        self.set_class(flash, "-flash")

    def watch_replying_to(self, message: Message | None) -> None:
        self.set_class(message is not None, "-replying")
        if message is None and self.is_mounted:
            self.input.placeholder = PLACEHOLDER

    def action_toggle_flash(self) -> None:
        self.flash = not self.flash

    def action_cancel(self) -> None:
        self.flash = False
        self.replying_to = None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        self.post_message(self.Send(text, self.flash, self.replying_to))

    def sent(self) -> None:
        """The message is stored: clear the line and the one-shot marks."""
        self.input.value = ""
        self.flash = False
        self.replying_to = None
