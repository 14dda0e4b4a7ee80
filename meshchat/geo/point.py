"""A point on the Earth in integer units of 1e-7 degree, as the log stores it (the entry format forbids floats,
and 1e-7 degree, about 1 cm, is the unit OpenStreetMap stores too)."""

from __future__ import annotations

from dataclasses import dataclass

import mgrs

E7 = 10_000_000
LAT_E7_MAX = 90 * E7
LON_E7_MAX = 180 * E7
_MGRS = mgrs.MGRS()


@dataclass(frozen=True, slots=True, order=True)
class Point:
    """Latitude and longitude in 1e-7 degree (WGS 84); constructing one checks the ranges."""

    lat_e7: int
    lon_e7: int

    def __post_init__(self) -> None:
        if not (isinstance(self.lat_e7, int) and -LAT_E7_MAX <= self.lat_e7 <= LAT_E7_MAX):
            raise ValueError(f"latitude must be between -90 and 90 degrees, got {self.lat_e7!r} (1e-7 degree)")
        if not (isinstance(self.lon_e7, int) and -LON_E7_MAX <= self.lon_e7 <= LON_E7_MAX):
            raise ValueError(f"longitude must be between -180 and 180 degrees, got {self.lon_e7!r} (1e-7 degree)")

    @classmethod
    def degrees(cls, lat: float, lon: float) -> Point:
        """The nearest point to ``lat``, ``lon`` (degrees); raises ValueError outside the ranges."""
        return cls(round(lat * E7), round(lon * E7))

    @property
    def lat(self) -> float:
        return self.lat_e7 / E7

    @property
    def lon(self) -> float:
        return self.lon_e7 / E7

    def decimal(self, digits: int = 5) -> str:
        """``52.09070, 5.12140``: what HQ pastes into any map; 5 digits is about 1 m."""
        return f"{self.lat:.{digits}f}, {self.lon:.{digits}f}"

    def geo_uri(self) -> str:
        """``geo:52.0907,5.1214`` (RFC 5870): opens the point in a phone's or desktop's map application."""
        return f"geo:{_plain(self.lat_e7)},{_plain(self.lon_e7)}"

    def mgrs(self, digits: int = 5) -> str:
        """The MGRS grid reference, as field teams read it: ``31U FT 45332 73249`` (``digits`` per axis: 5 is
        1 m, 4 is 10 m, 3 is 100 m)."""
        text = str(_MGRS.toMGRS(self.lat, self.lon, MGRSPrecision=digits))
        return format_mgrs(text)


def format_mgrs(compact: str) -> str:
    """``31UFT4533273249`` as ``31U FT 45332 73249`` (zone and band, square, easting, northing)."""
    head = 3 if compact[:2].isdigit() else (2 if compact[:1].isdigit() else 1)
    zone, square, digits = compact[:head], compact[head : head + 2], compact[head + 2 :]
    half = len(digits) // 2
    return " ".join(part for part in (zone, square, digits[:half], digits[half:]) if part)


def _plain(value_e7: int) -> str:
    """1e-7 degree units as a decimal number with no trailing zeros: the exact stored value, no float."""
    sign = "-" if value_e7 < 0 else ""
    whole, frac = divmod(abs(value_e7), E7)
    digits = f"{frac:07d}".rstrip("0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"
