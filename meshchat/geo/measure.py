"""Distances, bearings and a local flat projection. Spherical Earth: within 0.5 % of the ellipsoid, which is
far below a GPS fix's error at the distances a team works at."""

from __future__ import annotations

import math

from meshchat.geo.point import Point

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG)
COMPASS = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW")


def distance_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres (haversine: accurate at short distances, where it matters here)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bearing_deg(a: Point, b: Point) -> float:
    """The initial bearing from ``a`` to ``b``, degrees clockwise from true north, in [0, 360)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlon = math.radians(b.lon - a.lon)
    y = math.sin(dlon) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    return math.degrees(math.atan2(y, x)) % 360.0


def compass_point(bearing: float) -> str:
    """One of the 16 points of the compass: ``NE``, ``SSW``."""
    return COMPASS[round(bearing / 22.5) % 16]


def offset_m(origin: Point, p: Point) -> tuple[float, float]:
    """``p`` as metres east and north of ``origin`` on a flat map centred there (equirectangular; good to a few
    per mille within tens of kilometres). The shorter way round the antimeridian."""
    dlon = (p.lon - origin.lon + 180.0) % 360.0 - 180.0
    east = math.radians(dlon) * math.cos(math.radians(origin.lat)) * EARTH_RADIUS_M
    north = math.radians(p.lat - origin.lat) * EARTH_RADIUS_M
    return east, north


def moved(origin: Point, east_m: float, north_m: float) -> Point:
    """The point ``east_m`` east and ``north_m`` north of ``origin`` on the same flat map (panning a map)."""
    lat = origin.lat + math.degrees(north_m / EARTH_RADIUS_M)
    cos_lat = max(math.cos(math.radians(origin.lat)), 1e-6)
    lon = origin.lon + math.degrees(east_m / (EARTH_RADIUS_M * cos_lat))
    lat = max(-90.0, min(90.0, lat))
    lon = (lon + 180.0) % 360.0 - 180.0
    return Point.degrees(lat, lon)
