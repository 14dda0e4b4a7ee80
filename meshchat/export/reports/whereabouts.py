"""Places in the HTML reports: coordinates as HQ pastes them (decimal degrees, a ``geo:`` link that opens any
map application, and the MGRS reference read over the radio), and the timeline's section on where everyone
was last. Text is escaped like all report text (``h``)."""

from __future__ import annotations

from collections.abc import Iterator

from meshchat.export.reports.model import ReportData
from meshchat.export.reports.text import h, utc
from meshchat.geo.point import Point
from meshchat.log.codec import Value
from meshchat.log.positions import Fix, time_doubtful

STYLE = ".place a{font-family:monospace}.place .mgrs{color:#555;font-family:monospace;margin-left:.4rem}"


def place_html(location: Value) -> str:
    """A location as HTML: its words, then its coordinates as a ``geo:`` link showing decimal degrees, and MGRS."""
    if not isinstance(location, dict):
        return ""
    words = location.get("text")
    lat, lon = location.get("lat_e7"), location.get("lon_e7")
    parts = [f"<bdi>{h(words)}</bdi>"] if isinstance(words, str) and words else []
    if isinstance(lat, int) and isinstance(lon, int):
        parts.append(point_html(Point(lat, lon)))
    return " ".join(parts)


def point_html(point: Point) -> str:
    return (
        f'<span class="place"><a href="{point.geo_uri()}" title="open in a map application">{point.decimal()}</a>'
        f'<span class="mgrs">{point.mgrs()}</span></span>'
    )


def positions_section(data: ReportData) -> Iterator[str]:
    yield '<section id="positions">\n<h2>Positions</h2>\n'
    yield (
        '<p class="note">Where each member was last, by their own latest report (a time a report claims is its '
        "author's word; it is marked when it is far ahead of its entry). Every report, and each member's track, "
        "is in <code>positions.geojson</code> (QGIS, any GIS) and <code>positions.kml</code> (Google Earth).</p>\n"
    )
    latest = [(t.member, t.segments[-1][-1], sum(len(s) for s in t.segments)) for t in data.tracks if t.segments]
    if not latest and not data.relayed:
        yield "<p>No positions were reported.</p>\n</section>\n"
        return
    yield (
        "<table>\n<tr><th>Who</th><th>Last position</th><th>Accuracy</th><th>Taken (claimed)</th>"
        "<th>Source</th><th>Reports</th></tr>\n"
    )
    for member, fix, count in sorted(latest, key=lambda row: data.name(row[0]).lower()):
        yield _row(data.name(member), fix, str(count))
    outsiders: dict[tuple[str, str], Fix] = {}
    for fix in data.relayed:
        assert fix.via is not None
        outsiders[(fix.via.net, fix.via.uid)] = fix  # the last in each bridge's order wins
    for fix in outsiders.values():
        assert fix.via is not None
        yield _row(f"{fix.via.label} via {data.name(fix.author)}", fix, "relayed")
    yield "</table>\n</section>\n"


def _row(who: str, fix: Fix, reports: str) -> str:
    doubt = " (doubtful)" if time_doubtful(fix.fix_ms, fix.clock, None) else ""
    return (
        f"<tr><td><bdi>{h(who)}</bdi></td><td>{point_html(Point(fix.lat_e7, fix.lon_e7))}</td>"
        f"<td>±{fix.accuracy_m} m</td><td>{utc(fix.fix_ms)}{doubt}</td><td>{h(fix.source)}</td>"
        f"<td>{h(reports)}</td></tr>\n"
    )
