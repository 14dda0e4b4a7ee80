"""``positions.kml`` (OGC KML 2.2) for Google Earth and QGIS: a folder per member with its track (a line per
segment, timed) and its last position, outsiders relayed by a bridge, and the incidents, tasks, roll-call
answers and messages that have coordinates as placemarks. No external icons or links: it opens offline.

Google Earth reads a placemark's description as HTML, so text a member wrote is HTML-escaped before the XML
is written (a ``<script>`` in a title shows as text, never runs), after the reports' ``clean``.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any, TextIO

from meshchat.export.places.model import Placed, Places, fix_properties, utc_text
from meshchat.export.reports.text import clean
from meshchat.geo.point import E7, Point
from meshchat.log.positions import Fix

NAMESPACE = "http://www.opengis.net/kml/2.2"
# KML colours are aabbggrr.
STYLES = {
    "member": "ff3cb371",  # green
    "relayed": "ff008cff",  # orange
    "incident-1": "ff0000ff",  # red: S1, S2
    "incident-3": "ff00a5ff",  # orange: S3
    "incident-5": "ff00ffff",  # yellow: S4, S5
    "task": "ffff901e",  # blue
    "answer": "ffd355ba",  # purple
    "message": "ffffffff",  # white
}


def write_kml(places: Places, out: TextIO) -> None:
    root = ET.Element("kml", xmlns=NAMESPACE)
    document = ET.SubElement(root, "Document")
    _text(document, "name", f"{clean(places.team_name) or places.team_id.hex()[:16]}: positions")
    _text(document, "description", _html([f"meshchat team {places.team_id.hex()}", "All times UTC."]))
    for name, colour in STYLES.items():
        style = ET.SubElement(document, "Style", id=name)
        icon = ET.SubElement(style, "IconStyle")
        _text(icon, "color", colour)
        line = ET.SubElement(style, "LineStyle")
        _text(line, "color", colour)
        _text(line, "width", "3")
    members = _folder(document, "Members")
    for member in places.tracks:
        if not member.track.segments:
            continue
        folder = _folder(members, member.name)
        for number, segment in enumerate(member.track.segments, 1):
            if len(segment) > 1:
                mark = _placemark(folder, f"{member.name}: track {number}", "member", _fix_lines(segment))
                span = ET.SubElement(mark, "TimeSpan")
                _text(span, "begin", utc_text(segment[0].fix_ms))
                _text(span, "end", utc_text(segment[-1].fix_ms))
                line = ET.SubElement(mark, "LineString")
                _text(line, "tessellate", "1")
                _text(line, "coordinates", " ".join(_coordinates(Point(f.lat_e7, f.lon_e7)) for f in segment))
        last = member.track.segments[-1][-1]
        _point(folder, f"{member.name}: last position", "member", last, _fix_lines([last]))
    if places.relayed:
        outside = _folder(document, "Outside the team (relayed by a bridge)")
        for fix in places.relayed:
            assert fix.via is not None
            label = f"{clean(fix.via.callsign or fix.via.uid)} ({fix.via.net.upper()})"
            _point(outside, label, "relayed", fix, [f"uid {clean(fix.via.uid)}", *_fix_lines([fix])])
    for kind, title in (
        ("incident", "Incidents"),
        ("task", "Tasks"),
        ("answer", "Roll-call answers"),
        ("message", "Messages"),
    ):
        items = [p for p in places.placed if p.kind == kind]
        if items:
            folder = _folder(document, title)
            for placed in items:
                _placed(folder, placed)
    ET.indent(root, space=" ")
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode"))
    out.write("\n")


def _placed(folder: ET.Element, placed: Placed) -> None:
    style = placed.kind
    if placed.kind == "incident":
        severity = placed.properties.get("severity") or 3
        style = "incident-1" if severity <= 2 else ("incident-3" if severity == 3 else "incident-5")
    lines = [f"{name}: {value}" for name, value in placed.properties.items() if value not in (None, "")]
    mark = _placemark(folder, placed.name, style, lines)
    when = placed.properties.get("clock_utc") or placed.properties.get("opened_utc")
    if isinstance(when, str):
        stamp = ET.SubElement(mark, "TimeStamp")
        _text(stamp, "when", when)
    point = ET.SubElement(mark, "Point")
    _text(point, "coordinates", _coordinates(placed.point))


def _point(folder: ET.Element, name: str, style: str, fix: Fix, lines: list[str]) -> None:
    mark = _placemark(folder, name, style, lines)
    stamp = ET.SubElement(mark, "TimeStamp")
    _text(stamp, "when", utc_text(fix.fix_ms))
    point = ET.SubElement(mark, "Point")
    _text(point, "coordinates", _coordinates(Point(fix.lat_e7, fix.lon_e7)))


def _placemark(parent: ET.Element, name: str, style: str, lines: Iterable[str]) -> ET.Element:
    mark = ET.SubElement(parent, "Placemark")
    _text(mark, "name", name)
    _text(mark, "description", _html(lines))
    _text(mark, "styleUrl", f"#{style}")
    return mark


def _fix_lines(fixes: Iterable[Fix]) -> list[str]:
    lines = []
    for fix in fixes:
        props: dict[str, Any] = fix_properties(fix)
        doubt = " (time doubtful)" if props["time_doubtful"] else ""
        lines.append(f"#{fix.seq} {props['fix_utc']}{doubt}, ±{fix.accuracy_m} m, {fix.source}, {props['mgrs']}")
    return lines


def _folder(parent: ET.Element, name: str) -> ET.Element:
    folder = ET.SubElement(parent, "Folder")
    _text(folder, "name", name)
    return folder


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _html(lines: Iterable[str]) -> str:
    """Lines as the HTML of a description: each escaped (it is text), joined by line breaks. ElementTree then
    escapes the whole for XML, so Google Earth, after reading the XML, gets HTML that shows the text as is."""
    return "<br>".join(html.escape(clean(line)) for line in lines)


def _coordinates(point: Point) -> str:
    return f"{point.lon_e7 / E7!r},{point.lat_e7 / E7!r}"
