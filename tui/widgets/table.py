"""A keyboard-first table drawn with Textual's own styles: a header line and one option per row.

Textual's ``DataTable`` renders cells through Rich, where the theme's variables (``$text-error``, ...) do not
exist; the board's colours are the point of it, so the tables here are an ``OptionList`` whose rows lay out
their cells at the width they are given (fixed columns, one flexible column, ellipsis when cut).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.css.styles import RulesMap
from textual.message import Message as TextualMessage
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

GAP = 2


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    width: int = 0  # 0: shares what the fixed columns leave (at least ``min_width``), by ``weight``
    min_width: int = 8
    weight: int = 1


def layout(columns: Sequence[Column], total: int) -> list[int]:
    """Cell widths for ``total`` cells of room."""
    fixed = sum(c.width for c in columns) + GAP * (len(columns) - 1)
    weights = sum(c.weight for c in columns if c.width == 0) or 1
    spare = max(0, total - fixed)
    return [c.width or max(c.min_width, spare * c.weight // weights) for c in columns]


def row_content(cells: Sequence[Content], widths: Sequence[int]) -> Content:
    parts = [cell.truncate(width, ellipsis=True, pad=True) for cell, width in zip(cells, widths, strict=True)]
    return Content(" " * GAP).join(parts)


class RowVisual(Visual):
    """One table row, one line high, laid out at the width it is drawn at."""

    def __init__(self, cells: Sequence[Content], columns: Sequence[Column]) -> None:
        self.cells = tuple(cells)
        self.columns = columns

    @property
    def plain(self) -> str:
        return " | ".join(c.plain for c in self.cells)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return sum(max(c.cell_length, col.width) for c, col in zip(self.cells, self.columns, strict=True))

    def get_height(self, rules: RulesMap, width: int) -> int:
        return 1

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        content = row_content(self.cells, layout(self.columns, width))
        return content.render_strips(width, 1, style, options)


class TableHeader(Static):
    def __init__(self, columns: Sequence[Column]) -> None:
        super().__init__()
        self.columns = columns

    def render(self) -> Content:
        labels = [Content(c.label) for c in self.columns]
        return row_content(labels, layout(self.columns, self.content_region.width))


class Rows(OptionList):
    """The rows of a :class:`Table`; highlighting a row says so with its key."""

    @dataclass
    class Highlighted(TextualMessage):
        table: Table
        key: str | None

    def __init__(self, table: Table) -> None:
        super().__init__(markup=False)
        self.table = table

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted(self.table, event.option.id))


class Table(Vertical):
    """Header and rows. ``show`` replaces the rows and keeps the highlighted key where it still exists."""

    COLUMNS: ClassVar[Sequence[Column]] = ()
    EMPTY: ClassVar[str] = ""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.keys: list[str] = []
        self.rows_cells: list[tuple[Content, ...]] = []

    def compose(self) -> ComposeResult:
        yield TableHeader(self.COLUMNS)
        yield Rows(self)

    @property
    def rows(self) -> Rows:
        return self.query_one(Rows)

    @property
    def row_count(self) -> int:
        return len(self.keys)

    def focus(self, scroll_visible: bool = True) -> Table:
        self.rows.focus(scroll_visible)
        return self

    def show(self, rows: Sequence[tuple[str, Sequence[Content]]]) -> None:
        keep = self.selected_key
        self.keys = [key for key, _ in rows]
        self.rows_cells = [tuple(cells) for _, cells in rows]
        options = [Option(RowVisual(cells, self.COLUMNS), id=key) for key, cells in rows]
        if not options and self.EMPTY:
            options = [Option(Content.styled(self.EMPTY, "$text-muted"), disabled=True)]
        self.rows.set_options(options)
        if self.keys:
            self.rows.highlighted = self.keys.index(keep) if keep in self.keys else 0

    @property
    def selected_key(self) -> str | None:
        index = self.rows.highlighted
        if index is None or not 0 <= index < len(self.keys):
            return None
        return self.keys[index]

    def select(self, key: str) -> None:
        if key in self.keys:
            self.rows.highlighted = self.keys.index(key)

    def row_text(self, index: int) -> list[str]:
        """The cells of a row as plain text (for tests)."""
        return [c.plain for c in self.rows_cells[index]]
