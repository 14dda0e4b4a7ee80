"""``positions.geojson`` (RFC 7946): every position report of every member as a point and each member's track
as lines, outsiders' relayed positions, and the incidents, tasks, roll-call answers and messages that have
coordinates. One feature per line, keys sorted, so the same log gives the same bytes (``verify`` relies on it)
and a diff names the feature that changed. Coordinates are exact: 1e-7 degree units written as decimals.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from meshchat.export.places.model import Places, fix_properties
from meshchat.export.reports.text import clean
from meshchat.geo.point import E7, Point
from meshchat.log.positions import Fix


def write_geojson(places: Places, out: TextIO) -> None:
    out.write('{"type":"FeatureCollection",')
    out.write(f'"name":{_json(clean(places.team_name) or places.team_id.hex()[:16])},')
    out.write(f'"team":{_json(places.team_id.hex())},\n"features":[\n')
    first = True
    for feature in _features(places):
        out.write(("" if first else ",\n") + _json(feature))
        first = False
    out.write("\n]}\n")


def _features(places: Places) -> Iterator[dict[str, Any]]:
    for member in places.tracks:
        who = {"member": member.member.hex(), "name": member.name}
        for number, segment in enumerate(member.track.segments, 1):
            for fix in segment:
                yield _point(
                    Point(fix.lat_e7, fix.lon_e7), {"kind": "fix", **who, "segment": number, **fix_properties(fix)}
                )
            if len(segment) > 1:
                line = [_coordinates(Point(f.lat_e7, f.lon_e7)) for f in segment]
                props = {
                    "kind": "track",
                    **who,
                    "segment": number,
                    "fixes": len(segment),
                    "from_utc": fix_properties(segment[0])["fix_utc"],
                    "to_utc": fix_properties(segment[-1])["fix_utc"],
                }
                yield {"type": "Feature", "geometry": {"type": "LineString", "coordinates": line}, "properties": props}
    for fix in places.relayed:
        yield _point(Point(fix.lat_e7, fix.lon_e7), relayed_properties(fix))
    for placed in places.placed:
        yield _point(placed.point, {"kind": placed.kind, "name": placed.name, **placed.properties})


def relayed_properties(fix: Fix) -> dict[str, Any]:
    assert fix.via is not None
    return {
        "kind": "relayed",
        "net": fix.via.net,
        "uid": clean(fix.via.uid),
        "callsign": clean(fix.via.callsign),
        "relayed_by": fix.author.hex(),
        **fix_properties(fix),
    }


def _point(point: Point, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": _coordinates(point)},
        "properties": properties,
    }


def _coordinates(point: Point) -> list[float]:
    # A 1e-7 unit divided by 1e7 is the double nearest that decimal, and Python writes a double as the
    # shortest text that reads back as it: the exact decimal, on every machine.
    return [point.lon_e7 / E7, point.lat_e7 / E7]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
