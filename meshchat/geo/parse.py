"""What a person types for a place, read strictly: decimal degrees, an MGRS grid reference or a ``geo:`` URI.

Each form also says how precise it is (``52.09 5.12`` is good to about 600 m, ``31U FT 1234 6789`` to 10 m):
a position report carries that as its accuracy, so nobody reads a rough grid square as a pin-point.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import mgrs

from meshchat.geo.point import Point

METRES_PER_DEGREE = 111_320  # along a meridian, near enough for "how precise was the text"
FORMS = "decimal degrees (52.0907 5.1214), an MGRS reference (31U FT 12345 67890) or a geo: URI"
MAX_INPUT = 100

_NUMBER = r"([+-]?\d{1,3}(?:\.(\d{1,10}))?)"
_DECIMAL = re.compile(
    rf"^{_NUMBER}\s*°?\s*([NSns])?\s*(?:[,;]\s*|\s+){_NUMBER}\s*°?\s*([EWew])?$",
)
_GEO_URI = re.compile(
    rf"^geo:{_NUMBER},{_NUMBER}(?:,[+-]?\d{{1,6}}(?:\.\d+)?)?((?:;[a-z0-9-]+=[^;]*)*)$", re.IGNORECASE
)
# UTM zone 1-60 with a latitude band (C-X without I and O), or a polar (UPS) band A, B, Y, Z; then the 100 km
# square (two letters without I and O), then 0 to 10 digits, as many for easting as for northing.
_MGRS = re.compile(r"^(?:(\d{1,2})([C-HJ-NP-X])|([ABYZ]))([A-HJ-NP-Z]{2})(\d{0,10})$")
_CONVERTER = mgrs.MGRS()


class CoordinateError(ValueError):
    """Text that is not a position in any form we read; the message says which forms we do."""


@dataclass(frozen=True, slots=True)
class ParsedPosition:
    point: Point
    accuracy_m: int  # how far the place meant may be from ``point``, given how precise the text was
    form: str  # "decimal", "mgrs" or "geo"


def parse_position(text: str) -> ParsedPosition:
    """Read ``text`` as a position; raises :class:`CoordinateError` saying what was expected."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise CoordinateError(f"no position given: give {FORMS}")
    if len(cleaned) > MAX_INPUT:
        raise CoordinateError(f"a position is at most {MAX_INPUT} characters; got {len(cleaned)}")
    for reader in (_decimal, _geo_uri, _mgrs):
        parsed = reader(cleaned)
        if parsed is not None:
            return parsed
    shown = cleaned if len(cleaned) <= 40 else cleaned[:39] + "…"
    raise CoordinateError(f"{shown!r} is not a position: give {FORMS}")


def _decimal(text: str) -> ParsedPosition | None:
    match = _DECIMAL.match(text)
    if match is None:
        return None
    lat_text, lat_frac, ns, lon_text, lon_frac, ew = match.groups()
    lat, lon = float(lat_text), float(lon_text)
    if ns is not None:
        if lat < 0:
            raise CoordinateError("give either a sign or N/S for the latitude, not both")
        lat = -lat if ns.upper() == "S" else lat
    if ew is not None:
        if lon < 0:
            raise CoordinateError("give either a sign or E/W for the longitude, not both")
        lon = -lon if ew.upper() == "W" else lon
    digits = min(len(lat_frac or ""), len(lon_frac or ""))
    return ParsedPosition(_point(lat, lon), _decimal_accuracy(digits), "decimal")


def _geo_uri(text: str) -> ParsedPosition | None:
    match = _GEO_URI.match(text)
    if match is None:
        return None
    lat_text, lat_frac, lon_text, lon_frac, params = match.groups()
    accuracy = _decimal_accuracy(min(len(lat_frac or ""), len(lon_frac or "")))
    for param in filter(None, (params or "").split(";")):
        name, _, value = param.partition("=")
        if name.lower() == "u":  # RFC 5870 uncertainty, in metres
            try:
                accuracy = max(1, math.ceil(float(value)))
            except ValueError:
                raise CoordinateError(f"geo: URI uncertainty {value[:20]!r} is not a number of metres") from None
    return ParsedPosition(_point(float(lat_text), float(lon_text)), accuracy, "geo")


def _mgrs(text: str) -> ParsedPosition | None:
    compact = text.replace(" ", "").upper()
    match = _MGRS.match(compact)
    if match is None:
        return None
    zone, _, _, _, digits = match.groups()
    if zone is not None and not 1 <= int(zone) <= 60:
        raise CoordinateError(f"MGRS zone {zone} does not exist (zones are 1 to 60)")
    if len(digits) % 2:
        raise CoordinateError(
            f"an MGRS reference has as many easting as northing digits; {text!r} has {len(digits)} digits"
        )
    try:
        lat, lon = _CONVERTER.toLatLon(compact)
    except mgrs.core.MGRSError:
        raise CoordinateError(f"{text!r} is not a valid MGRS reference (zone, band and square must match)") from None
    # The converter gives the centre of the square the reference names; the place may be in any corner.
    square_m = 10 ** (5 - len(digits) // 2)
    return ParsedPosition(_point(lat, lon), max(1, math.ceil(square_m / math.sqrt(2))), "mgrs")


def _point(lat: float, lon: float) -> Point:
    if not -90.0 <= lat <= 90.0:
        raise CoordinateError(f"latitude {lat:g} is outside -90 to 90 degrees")
    if not -180.0 <= lon <= 180.0:
        raise CoordinateError(f"longitude {lon:g} is outside -180 to 180 degrees")
    return Point.degrees(lat, lon)


def _decimal_accuracy(digits: int) -> int:
    """Half the last digit's step, in metres: ``52.09`` may mean anything from 52.085 to 52.095."""
    return max(1, math.ceil(METRES_PER_DEGREE * 10.0**-digits / 2))
