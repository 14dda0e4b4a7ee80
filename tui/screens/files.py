"""Files in the chat: the path prompt that attaches one (composer, ``ctrl+l``), the prompt that saves a copy
(``s``), the choice among a message's files, and the picture viewer (``v``).

The viewer draws real pixels where the terminal can (Kitty's graphics protocol or Sixel, through
``textual-image``, which asks the terminal once, before the app starts: :func:`prepare_terminal`), and half
blocks elsewhere. It shows the fetched picture when it is here (decoded under the bounds of
``meshchat.blobs.images``), the thumbnail from the entry until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from meshchat.blobs.images import decode_image, decode_thumbnail
from meshchat.blobs.store import human_size
from meshchat.log.attachments import Attachment
from tui.screens.forms import Form, labelled
from tui.widgets.attachments.lines import file_name, type_words
from tui.widgets.attachments.paths import PathField, expand

VIEW_MAX_SIDE = 1600  # pixels a side of a fetched picture decoded for the viewer


def prepare_terminal() -> None:
    """Let ``textual-image`` ask the terminal what it can draw (Sixel, Kitty graphics, cell size): it must
    happen before Textual takes the terminal over, so the app's start calls this."""
    import textual_image.widget  # noqa: F401  (the import asks)


class AttachForm(Form[Path]):
    """``File: ~/Photos/breach.jpg``: Tab completes; the file must exist and be a regular file."""

    TITLE_TEXT = "Attach a file"
    SAVE_LABEL = "Attach"

    def __init__(self, start: str = "~/") -> None:
        super().__init__()
        self.start = start

    def fields(self) -> ComposeResult:
        yield from labelled("File", PathField(self.start, placeholder="~/Photos/breach.jpg", id="file-path"))
        yield Static("Tab completes the name; the message you write next carries the file.", id="file-matches")

    def on_mount(self) -> None:
        super().on_mount()
        field = self.query_one(PathField)
        field.focus()
        field.cursor_position = len(field.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        matches = self.query_one(PathField).matches_text()
        self.query_one("#file-matches", Static).update(Content.styled(matches, "$text-muted"))

    def result(self) -> Path:
        typed = self.text("file-path")
        if not typed:
            raise ValueError("Type the path of a file (Tab completes).")
        path = expand(typed)
        if path.is_dir():
            raise ValueError(f"{path} is a folder: type a file in it (Tab lists them).")
        if not path.is_file():
            raise ValueError(f"No file at {path}.")
        return path


class SaveForm(Form[Path]):
    """Where to save a copy: a folder (the file keeps its name there) or a new file's path."""

    TITLE_TEXT = "Save a copy"
    SAVE_LABEL = "Save"

    def __init__(self, files: Sequence[Attachment], start: str | None = None) -> None:
        super().__init__()
        self.files = list(files)
        self.start = start or default_folder()
        if len(self.files) == 1:
            self.TITLE_TEXT = f"Save a copy of {file_name(self.files[0])}"
        else:
            self.TITLE_TEXT = f"Save copies of {len(self.files)} files (into a folder)"

    def fields(self) -> ComposeResult:
        yield from labelled("Save to", PathField(self.start, id="save-path"))
        yield Static("A folder keeps the file's own name; Tab completes.", id="file-matches")

    def on_mount(self) -> None:
        super().on_mount()
        field = self.query_one(PathField)
        field.focus()
        field.cursor_position = len(field.value)

    def result(self) -> Path:
        typed = self.text("save-path")
        if not typed:
            raise ValueError("Type a folder or a file name.")
        path = expand(typed)
        if len(self.files) > 1 and not path.is_dir():
            raise ValueError(f"{path} is no folder: several files are saved into a folder.")
        if not path.is_dir() and not path.parent.is_dir():
            raise ValueError(f"No folder {path.parent}.")
        return path


def default_folder() -> str:
    """``~/Downloads/`` where there is one, else the home folder."""
    return "~/Downloads/" if (Path.home() / "Downloads").is_dir() else "~/"


class ChooseFile(ModalScreen[int | None]):
    """Which of a message's files (``o`` and ``v`` on a message that carries several)."""

    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, title: str, files: Sequence[Attachment], states: Sequence[str]) -> None:
        super().__init__()
        self.title_text = title
        self.files = list(files)
        self.states = list(states)

    def compose(self) -> ComposeResult:
        with Vertical(id="search"):
            yield Static(self.title_text, id="search-title", markup=False)
            yield Static(Content.styled("Enter chooses, Esc closes.", "$text-muted"), id="search-status")
            yield OptionList(id="search-results", markup=False)

    def on_mount(self) -> None:
        results = self.query_one(OptionList)
        results.set_options(
            Option(f"{file_name(f)} · {human_size(f.size)} · {type_words(f)} · {state}")
            for f, state in zip(self.files, self.states, strict=True)
        )
        results.highlighted = 0
        results.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option_index)

    def action_close(self) -> None:
        self.dismiss(None)


class ImageScreen(ModalScreen[None]):
    """A message's pictures, one at a time (``←``/``→``), as large as the screen allows."""

    CSS_PATH = "files.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,v,q", "close", "Close"),
        Binding("left", "step(-1)", "Previous picture", show=False),
        Binding("right", "step(1)", "Next picture", show=False),
    ]

    def __init__(self, pictures: Sequence[tuple[Attachment, Path | None]], at: int = 0) -> None:
        """``pictures``: each image file and, if it is fetched, the path of its blob."""
        super().__init__()
        self.pictures = list(pictures)
        self.at = at

    def compose(self) -> ComposeResult:
        from textual_image.widget import Image as ImageWidget

        with Vertical(id="viewer"):
            yield Static("", id="viewer-title", markup=False)
            yield ImageWidget(None, id="viewer-image")

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        from textual_image.widget import Image as ImageWidget

        file, path = self.pictures[self.at]
        image = decode_image(path, max_side=VIEW_MAX_SIDE) if path is not None else None
        what = "" if image is not None else " · the thumbnail: f fetches the picture"
        if image is None and file.thumb:
            image = decode_thumbnail(file.thumb)
        if image is None:
            what = " · no picture to show (not an image meshchat decodes)"
        count = f"{self.at + 1} of {len(self.pictures)} · ←/→ · " if len(self.pictures) > 1 else ""
        title = f"{file_name(file)} · {human_size(file.size)} · {type_words(file)}{what}"
        self.query_one("#viewer-title", Static).update(Content.assemble((title, "bold"), f"\n{count}Esc closes"))
        self.query_one("#viewer-image", ImageWidget).image = image

    def action_step(self, step: int) -> None:
        if len(self.pictures) > 1:
            self.at = (self.at + step) % len(self.pictures)
            self._show()

    def action_close(self) -> None:
        self.dismiss(None)
