"""A character grid where each cell is either a Braille pattern (2 x 4 dots: fine lines and circles in a
terminal) or a character of text (markers and labels), each with a style. Pure: no Textual.

Braille cells give eight times the resolution of characters: a track or an accuracy circle reads as a line,
not as a staircase of blocks, and every terminal font with Unicode has them (U+2800-U+28FF).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BRAILLE_BASE = 0x2800
# Dot bit for (x, y) inside a cell, x in 0..1 (left, right), y in 0..3 (top to bottom): Unicode's numbering.
_DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))

Span = tuple[str, str]  # text, style


@dataclass
class Raster:
    """``width`` x ``height`` cells; dots are addressed in dot units (``2 * width`` x ``4 * height``)."""

    width: int
    height: int
    _dots: dict[tuple[int, int], tuple[int, str]] = field(default_factory=dict)  # cell -> bits, style
    _text: dict[tuple[int, int], Span] = field(default_factory=dict)  # cell -> character, style

    def dot(self, x: int, y: int, style: str = "") -> None:
        """Set one dot; outside the raster it is ignored. Text already in the cell wins."""
        if not (0 <= x < 2 * self.width and 0 <= y < 4 * self.height):
            return
        cell = (x // 2, y // 4)
        bits, old_style = self._dots.get(cell, (0, ""))
        self._dots[cell] = (bits | _DOT_BITS[y % 4][x % 2], style or old_style)

    def line(self, x0: int, y0: int, x1: int, y1: int, style: str = "", *, limit: int = 4000) -> None:
        """Dots along a straight line (Bresenham), at most ``limit`` of them (a far-off point stays cheap)."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        for _ in range(limit):
            self.dot(x0, y0, style)
            if x0 == x1 and y0 == y1:
                return
            twice = 2 * err
            if twice >= dy:
                err += dy
                x0 += sx
            if twice <= dx:
                err += dx
                y0 += sy

    def circle(self, cx: int, cy: int, radius: int, style: str = "") -> None:
        """A dotted circle (midpoint algorithm): an accuracy ring around a marker."""
        x, y, err = radius, 0, 1 - radius
        while x >= y:
            for px, py in ((x, y), (y, x), (-y, x), (-x, y), (-x, -y), (-y, -x), (y, -x), (x, -y)):
                self.dot(cx + px, cy + py, style)
            y += 1
            if err < 0:
                err += 2 * y + 1
            else:
                x -= 1
                err += 2 * (y - x) + 1

    def text(self, column: int, row: int, text: str, style: str = "", *, overwrite: bool = True) -> int:
        """Write ``text`` from a cell on; returns how many characters were written (stops at the edge, and,
        without ``overwrite``, at a cell that holds text already)."""
        written = 0
        for offset, char in enumerate(text):
            cell = (column + offset, row)
            if not (0 <= cell[0] < self.width and 0 <= row < self.height):
                break
            if not overwrite and cell in self._text:
                break
            self._text[cell] = (char, style)
            written += 1
        return written

    def free(self, column: int, row: int, length: int) -> bool:
        """Whether ``length`` cells from (column, row) hold no text and are inside the raster."""
        if not (0 <= row < self.height and column >= 0 and column + length <= self.width):
            return False
        return all((column + i, row) not in self._text for i in range(length))

    def lines(self) -> list[list[Span]]:
        """Each row as spans of one style, for a widget to show."""
        out: list[list[Span]] = []
        for row in range(self.height):
            spans: list[Span] = []
            for column in range(self.width):
                cell = (column, row)
                char, style = self._text.get(cell) or self._braille(cell)
                if spans and spans[-1][1] == style:
                    spans[-1] = (spans[-1][0] + char, style)
                else:
                    spans.append((char, style))
            out.append(spans)
        return out

    def _braille(self, cell: tuple[int, int]) -> Span:
        bits, style = self._dots.get(cell, (0, ""))
        return (chr(BRAILLE_BASE + bits), style) if bits else (" ", "")
