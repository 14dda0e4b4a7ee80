"""Beside the map: one row per member (and per outsider a bridge relays): last fix, its age, and the distance
and bearing from me."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.content import Content

from meshchat.geo.describe import age_text, distance_text
from meshchat.geo.measure import bearing_deg, compass_point, distance_m
from meshchat.geo.point import Point
from tui.format import clock_time
from tui.widgets.map.scene import FADE
from tui.widgets.table import Column, Table


@dataclass(frozen=True, slots=True)
class PlaceRow:
    """What a row says; ``name`` is safe text already."""

    key: str
    name: str
    point: Point | None  # None: no position (never reported, or cleared)
    fix_ms: int = 0  # believed time of the fix
    age_ms: int = 0
    staleness: int = 0
    doubtful: bool = False
    outsider: bool = False


class MemberTable(Table):
    COLUMNS: ClassVar[Sequence[Column]] = (
        Column("Who", 0, 8),
        Column("Fix", 6),
        Column("Age", 10),
        Column("Distance", 8),
        Column("Bearing", 8),
    )
    EMPTY = "Nobody has reported a position yet."

    def show_places(self, rows: Sequence[PlaceRow], me: Point | None) -> None:
        self.show([(row.key, _cells(row, me)) for row in rows])


def _cells(row: PlaceRow, me: Point | None) -> list[Content]:
    style = "$text-warning" if row.outsider else ""
    if row.point is None:
        return [Content.styled(row.name, style or "$text-muted"), Content.styled("no fix", "$text-muted")] + [
            Content("") for _ in range(3)
        ]
    fade = FADE[min(row.staleness, 3)] if row.staleness >= 2 else ""
    when = clock_time(row.fix_ms) + ("?" if row.doubtful else "")
    if me is None:
        distance, bearing = Content.styled("-", "$text-muted"), Content.styled("-", "$text-muted")
    elif me == row.point:
        distance, bearing = Content("here"), Content("")
    else:
        degrees = bearing_deg(me, row.point)
        distance = Content(distance_text(distance_m(me, row.point)))
        bearing = Content(f"{compass_point(degrees)} {round(degrees) % 360}°")
    return [
        Content.styled(row.name, f"{style} {fade}".strip()),
        Content.styled(when, fade or ("$text-warning" if row.doubtful else "")),
        Content.styled(age_text(row.age_ms), fade),
        distance.stylize(fade) if fade else distance,
        bearing.stylize(fade) if fade else bearing,
    ]
