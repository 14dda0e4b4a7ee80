"""Where an incident, a task or a roll-call answer is: words (the label people read) and, when given,
coordinates (what maps, distances and HQ's GIS use). One rule for every writer: the CLI's ``--location`` and
``--at``, the terminal UI's forms."""

from __future__ import annotations

from meshchat.geo.parse import FORMS, CoordinateError, parse_position
from meshchat.geo.point import Point
from meshchat.log.codec import Value

HERE = "here"  # typed for coordinates: the writer's own last reported position


def location_of(text: str | None, at: str | None, here: Point | None) -> dict[str, Value] | None:
    """A location value (``{text, lat_e7, lon_e7}``, each part optional) from the words ``text`` and the
    coordinates typed as ``at``: decimal degrees, MGRS, a ``geo:`` URI, or ``here`` (``here``: the writer's
    last reported position, None if it has none). Neither given: None. Raises CoordinateError saying what is
    wrong (the text is shown to the person who typed it)."""
    location: dict[str, Value] = {}
    if text and text.strip():
        location["text"] = text.strip()
    typed = (at or "").strip()
    if typed:
        if typed.lower() == HERE:
            if here is None:
                raise CoordinateError("'here' needs your position: report it first (or type coordinates)")
            point = here
        else:
            point = parse_position(typed).point
        location.update(lat_e7=point.lat_e7, lon_e7=point.lon_e7)
    return location or None


def coordinates_text(location: Value) -> str:
    """The coordinates of a location value as a form shows them for editing (decimal degrees, which read back
    exactly), or ``""`` if it has none."""
    if not isinstance(location, dict):
        return ""
    lat, lon = location.get("lat_e7"), location.get("lon_e7")
    if not isinstance(lat, int) or not isinstance(lon, int) or isinstance(lat, bool) or isinstance(lon, bool):
        return ""
    return Point(lat, lon).decimal(digits=7)


__all__ = ["FORMS", "HERE", "CoordinateError", "coordinates_text", "location_of"]
