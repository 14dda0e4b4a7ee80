"""Where a person writes: one line, Enter sends, ctrl+f marks the next message FLASH, ctrl+l attaches a file.

The composer does not post anything itself; it says what the person wants (:class:`Composer.Send`) and the
chat screen posts it through the node. It has focus whenever the chat opens, so typing starts at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message as TextualMessage
from textual.reactive import reactive
from textual.widgets import Input, Label

from meshchat.log.views import Message
from tui.format import shown

PLACEHOLDER = "Write a message · Enter sends · ctrl+f FLASH · ctrl+l attach a file"
WITH_FILES = "Write a line about the file · Enter sends it · Esc drops the files"


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
    """FLASH badge, the files to attach, reply note and the input line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+f", "toggle_flash", "FLASH on/off", priority=True),
        Binding("ctrl+l", "attach", "Attach a file", priority=True),
        Binding("escape", "cancel", "Cancel the reply, FLASH or files", show=False),
    ]

    flash: reactive[bool] = reactive(False)
    replying_to: reactive[Message | None] = reactive(None)
    files: reactive[tuple[Path, ...]] = reactive(())

    @dataclass
    class Send(TextualMessage):
        """Post ``text`` (as FLASH if ``flash``), answering ``reply_to`` if given, carrying ``files``."""

        text: str
        flash: bool
        reply_to: Message | None
        files: tuple[Path, ...] = field(default=())

    @dataclass
    class Attach(TextualMessage):
        """The person wants to attach a file (the chat screen asks which)."""

    def compose(self) -> ComposeResult:
        yield Label("FLASH", id="flash-badge")
        yield Label("", id="files-badge", markup=False)
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
        elif field.placeholder != PLACEHOLDER and not self.replying_to and not self.files:
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
            self.input.placeholder = WITH_FILES if self.files else PLACEHOLDER

    def watch_files(self, files: tuple[Path, ...]) -> None:
        self.set_class(bool(files), "-files")
        if not self.is_mounted:
            return
        names = ", ".join(shown(path.name) for path in files)
        self.query_one("#files-badge", Label).update(f"▤ {names}" if len(files) == 1 else f"▤ {len(files)}: {names}")
        if not self.replying_to and not self.input.disabled:
            self.input.placeholder = WITH_FILES if files else PLACEHOLDER

    def add_file(self, path: Path) -> None:
        """``path`` goes with the next message (a file chosen twice goes once)."""
        if path not in self.files:
            self.files = (*self.files, path)
        self.focus_input()

    def action_attach(self) -> None:
        if not self.input.disabled:
            self.post_message(self.Attach())

    def action_toggle_flash(self) -> None:
        self.flash = not self.flash

    def action_cancel(self) -> None:
        self.flash = False
        self.replying_to = None
        self.files = ()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            if self.files:
                self.notify("Write a line about the file first (what it shows, where): Enter sends both.", timeout=4)
            return
        self.post_message(self.Send(text, self.flash, self.replying_to, self.files))

    def sent(self) -> None:
        """The message is stored: clear the line and the one-shot marks."""
        self.input.value = ""
        self.flash = False
        self.replying_to = None
        self.files = ()
