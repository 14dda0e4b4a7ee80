"""Places and times in words, the same on every screen: ``780 m NE``, ``±10 m``, ``12 min ago``."""

from __future__ import annotations

from meshchat.geo.measure import bearing_deg, compass_point, distance_m
from meshchat.geo.point import Point


def distance_text(metres: float) -> str:
    """``40 m``, ``850 m``, ``1.2 km``, ``34 km``: as precise as a person needs."""
    if metres < 1000:
        return f"{round(metres)} m"
    if metres < 10_000:
        return f"{metres / 1000:.1f} km"
    return f"{round(metres / 1000):,} km"


def relation_text(origin: Point, target: Point) -> str:
    """Where ``target`` is from ``origin``: ``780 m NE (47°)``; ``here`` within a metre."""
    metres = distance_m(origin, target)
    if metres < 1:
        return "here"
    bearing = bearing_deg(origin, target)
    return f"{distance_text(metres)} {compass_point(bearing)} ({round(bearing) % 360}°)"


def accuracy_text(metres: int) -> str:
    return f"±{distance_text(metres)}" if metres else "±<1 m"


def age_text(ms: int) -> str:
    """How long ago: ``now``, ``40 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``."""
    seconds = max(0, ms) // 1000
    if seconds < 10:
        return "now"
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def ago_text(ms: int) -> str:
    """``just now``, ``40 s ago``, ``12 min ago``."""
    age = age_text(ms)
    return "just now" if age == "now" else f"{age} ago"
