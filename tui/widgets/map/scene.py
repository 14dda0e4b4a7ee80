"""What the map draws, and where: items (members, outsiders, incidents) on a flat map around a centre, north
up, at a scale from a fixed ladder; drawn on a :class:`~tui.widgets.map.raster.Raster`. Pure: no Textual.

A terminal cell is about twice as tall as it is wide, and a Braille cell holds 2 x 4 dots, so one dot is
``metres_per_cell / 2`` metres in both directions: distances on screen are true in every direction.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from meshchat.geo.describe import distance_text
from meshchat.geo.measure import moved, offset_m
from meshchat.geo.point import Point
from tui.widgets.map.raster import Raster

# Metres per cell (its width), zoomed in to out: a street corner to a region.
ZOOM_LADDER = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000)
DEFAULT_ZOOM = 5  # 50 m per cell: a 60-cell map shows 3 km
NICE_LENGTHS = tuple(m * 10**e for e in range(7) for m in (1, 2, 5))

ItemKind = Literal["me", "member", "outsider", "incident"]
MARKERS: dict[ItemKind, str] = {"me": "◉", "member": "●", "outsider": "◆", "incident": "✖"}
FADE = ("bold", "", "$text-muted", "dim $text-muted")  # by staleness (meshchat.log.positions.staleness)


@dataclass(frozen=True, slots=True)
class MapItem:
    """One thing on the map. ``label`` is safe text already (``tui.format.shown``)."""

    key: str
    kind: ItemKind
    label: str
    point: Point
    accuracy_m: int = 0
    staleness: int = 0  # 0 fresh .. 3 lost: how dim it is drawn
    severity: int = 3  # incidents: 1 (critical) .. 5
    track: tuple[Point, ...] = ()  # members: their reports, oldest first (drawn when selected)

    @property
    def style(self) -> str:
        if self.kind == "incident":
            return "bold $text-error" if self.severity <= 2 else ("$text-warning" if self.severity == 3 else "")
        colour = {"me": "$text-accent", "member": "$text-success", "outsider": "$text-warning"}[self.kind]
        fade = FADE[min(self.staleness, 3)]
        return f"{fade} {colour}".strip() if self.staleness < 2 else fade


@dataclass(frozen=True, slots=True)
class Viewport:
    """The map's centre and scale (an index into :data:`ZOOM_LADDER`)."""

    centre: Point
    zoom: int = DEFAULT_ZOOM

    @property
    def metres_per_cell(self) -> float:
        return float(ZOOM_LADDER[self.zoom])

    def zoomed(self, step: int) -> Viewport:
        return replace(self, zoom=max(0, min(len(ZOOM_LADDER) - 1, self.zoom + step)))

    def panned(self, columns: float, rows: float) -> Viewport:
        """Moved by whole cells: ``columns`` east, ``rows`` south (a row is two cell widths tall)."""
        metres = self.metres_per_cell
        return replace(self, centre=moved(self.centre, columns * metres, -rows * 2 * metres))

    def dot_of(self, point: Point, width: int, height: int) -> tuple[float, float]:
        """Where ``point`` falls, in dots from the top left of a ``width`` x ``height`` cell map."""
        east, north = offset_m(self.centre, point)
        per_dot = self.metres_per_cell / 2
        return width + east / per_dot, 2 * height - north / per_dot

    def cell_of(self, point: Point, width: int, height: int) -> tuple[int, int]:
        x, y = self.dot_of(point, width, height)
        return math.floor(x / 2), math.floor(y / 4)

    def shows(self, point: Point, width: int, height: int) -> bool:
        column, row = self.cell_of(point, width, height)
        return 0 <= column < width and 0 <= row < height


def fit(points: Sequence[Point], width: int, height: int, *, centre: Point | None = None) -> Viewport:
    """The closest zoom that shows every point (with a cell of margin), centred on ``centre`` if given, else
    on the middle of the points."""
    if not points:
        return Viewport(centre or Point(0, 0))
    if centre is None:
        south, north = min(p.lat_e7 for p in points), max(p.lat_e7 for p in points)
        # The shorter way round: centre on the first point, then average offsets (works across 180 degrees).
        first = points[0]
        mean_east = sum(offset_m(first, p)[0] for p in points) / len(points)
        centre = moved(Point((south + north) // 2, first.lon_e7), mean_east, 0.0)
    for zoom in range(len(ZOOM_LADDER)):
        view = Viewport(centre, zoom)
        if all(_inside_margin(view, p, width, height) for p in points):
            return view
    return Viewport(centre, len(ZOOM_LADDER) - 1)


def _inside_margin(view: Viewport, point: Point, width: int, height: int) -> bool:
    column, row = view.cell_of(point, width, height)
    return 1 <= column < width - 1 and 1 <= row < height - 1


def draw(items: Iterable[MapItem], view: Viewport, width: int, height: int, *, selected: str | None = None) -> Raster:
    """The map: the selected member's track, accuracy rings, markers with their labels (the selected item and
    "me" on top), the north arrow and the scale bar."""
    raster = Raster(width, height)
    ordered = sorted(items, key=lambda i: (i.key == selected, i.kind == "me", i.kind != "incident"))
    chosen = next((i for i in ordered if i.key == selected), None)
    if chosen is not None and len(chosen.track) > 1:
        dots = [_round(view.dot_of(p, width, height)) for p in chosen.track]
        for (x0, y0), (x1, y1) in itertools.pairwise(dots):
            raster.line(x0, y0, x1, y1, "$text-muted")
    for item in ordered:
        radius = round(item.accuracy_m / (view.metres_per_cell / 2))
        if item.kind != "incident" and 3 <= radius <= 4 * max(width, height):
            cx, cy = _round(view.dot_of(item.point, width, height))
            raster.circle(cx, cy, radius, "$text-muted" if item.key != selected else item.style)
    for item in ordered:
        column, row = view.cell_of(item.point, width, height)
        style = f"reverse {item.style}".strip() if item.key == selected else item.style
        if raster.text(column, row, MARKERS[item.kind], style) and item.label:
            label = item.label[:24]
            if raster.free(column + 1, row, len(label) + 1):
                raster.text(column + 2, row, label, style.replace("reverse ", ""))
            elif raster.free(column - len(label) - 1, row, len(label) + 1):
                raster.text(column - len(label) - 1, row, label, style.replace("reverse ", ""))
    raster.text(0, 0, "N↑", "bold")
    bar = scale_bar(view.metres_per_cell, width)
    if bar is not None and height > 1:
        cells, words = bar
        raster.text(0, height - 1, "├" + "─" * max(0, cells - 2) + "┤ " + words, "$text-muted")
    return raster


def scale_bar(metres_per_cell: float, width: int) -> tuple[int, str] | None:
    """A round length (1, 2, 5 x 10^n m) that spans 6 to 16 cells, as (cells, words); None if none fits."""
    for length in NICE_LENGTHS:
        cells = length / metres_per_cell
        if 6 <= cells <= min(16, width - 10):
            return round(cells), distance_text(length)
    return None


def _round(point: tuple[float, float]) -> tuple[int, int]:
    # Far-off points are clamped so that a line towards them stays cheap and still points the right way.
    x, y = point
    return round(max(-10_000.0, min(10_000.0, x))), round(max(-10_000.0, min(10_000.0, y)))
