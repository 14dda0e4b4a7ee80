"""The map canvas: draws a scene at the size it is given, and takes the keys that move the view (arrows pan,
``+``/``-`` zoom). What to draw, and what is selected, the screen decides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.widget import Widget

from tui.widgets.map.scene import MapItem, Viewport, draw

PAN_FRACTION = 4  # an arrow moves the view by a quarter of its width (or height)


class MapCanvas(Widget, can_focus=True):
    """North up; one cell is ``view.metres_per_cell`` wide and twice that tall."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "pan(0, -1)", "Pan", show=False),
        Binding("down", "pan(0, 1)", "Pan", show=False),
        Binding("left", "pan(-1, 0)", "Pan", show=False),
        Binding("right", "pan(1, 0)", "Pan", show=False),
    ]

    @dataclass
    class Moved(TextualMessage):
        """The person moved the view (the screen keeps it until they fit or centre again)."""

        view: Viewport

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: tuple[MapItem, ...] = ()
        self.view: Viewport | None = None
        self.selected: str | None = None

    def show(self, items: Sequence[MapItem], view: Viewport, selected: str | None) -> None:
        self.items, self.view, self.selected = tuple(items), view, selected
        self.refresh()

    def render(self) -> Content:
        width, height = self.content_region.width, self.content_region.height
        if self.view is None or width < 4 or height < 2:
            return Content("")
        raster = draw(self.items, self.view, width, height, selected=self.selected)
        return Content("\n").join(Content.assemble(*spans) for spans in raster.lines())

    def action_pan(self, columns: int, rows: int) -> None:
        if self.view is None:
            return
        width, height = self.content_region.width, self.content_region.height
        view = self.view.panned(columns * max(1, width // PAN_FRACTION), rows * max(1, height // PAN_FRACTION))
        self.view = view
        self.refresh()
        self.post_message(self.Moved(view))
