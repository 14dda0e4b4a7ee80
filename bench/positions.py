"""Positions benchmark: what a day of GPS reports costs to store, to read for the map, to draw and to export.

    python bench/positions.py --members 40 --hours 12

Builds a team whose members walk all day reporting by the default GPS policy (a report about every 36 s while
walking, 1.4 m/s), stores it through the accept path, then times what the map does on every refresh (each
member's latest position), a whole track (HQ), drawing the map (120 x 40 cells), and writing positions.geojson
and positions.kml. Last line: ``reports=<n> bytes_per_report=<n> latest_ms=<n> draw_ms=<n> places_s=<n>``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from meshchat.export.places.model import places_of
from meshchat.export.places.render import render
from meshchat.export.reports.model import ReportFilter, collect
from meshchat.geo.measure import moved
from meshchat.geo.point import Point
from meshchat.gps import ReportPolicy
from meshchat.store import Store
from meshchat.store.queries import Views
from meshchat.testing import BASE_CLOCK, TestTeam
from tui.widgets.map.scene import MapItem, draw, fit

START = Point(520907000, 51214000)


def build(members: int, hours: float) -> tuple[TestTeam, int]:
    team = TestTeam(members=members - 1)
    policy = ReportPolicy()
    reports = 0
    for number, author in enumerate(team.authors):
        here = moved(START, 200.0 * number, 0.0)
        last: tuple[float, Point] | None = None
        for second in range(int(hours * 3600)):
            here = moved(here, 1.4 if (second // 600) % 2 == 0 else 0.0, 0.3)  # walk ten minutes, rest ten
            if policy.due(last, float(second), here):
                last = (float(second), here)
                body = {"lat_e7": here.lat_e7, "lon_e7": here.lon_e7, "accuracy_m": 5, "source": "gps"}
                author.write(
                    "position", {**body, "fix_ms": BASE_CLOCK + second * 1000}, clock=BASE_CLOCK + second * 1000
                )
                reports += 1
    return team, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--hours", type=float, default=12.0)
    args = parser.parse_args()
    started = time.perf_counter()
    team, reports = build(args.members, args.hours)
    position_bytes = [len(e.raw) for e in team.all_entries() if e.kind == "position"]
    print(f"built {reports:,} reports of {args.members} members in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.create(Path(tmp) / "s.db", team.team_id)
        raws = [e.raw for e in team.all_entries()]
        started = time.perf_counter()
        for i in range(0, len(raws), 5000):
            store.accept_batch(raws[i : i + 5000])
        stored_s = time.perf_counter() - started
        views = Views(store)
        latest_times = []
        for _ in range(20):
            started = time.perf_counter()
            latest = views.positions()
            latest_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        track = views.track(team.members[0].key)
        track_s = time.perf_counter() - started
        items = [
            MapItem(f"m{i}", "member", f"M{i}", Point(f.lat_e7, f.lon_e7), f.accuracy_m) for i, f in enumerate(latest)
        ]
        selected = items[0].key
        items[0] = MapItem(
            selected, "member", "M0", items[0].point, 5, track=tuple(Point(f.lat_e7, f.lon_e7) for f in track.fixes)
        )
        draw_times = []
        for _ in range(20):
            started = time.perf_counter()
            draw(items, fit([i.point for i in items], 120, 40), 120, 40, selected=selected).lines()
            draw_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        data = collect(store, report_filter=ReportFilter(), exported_at=0, exported_by=b"")
        files = render(places_of(data, "bench"))
        places_s = time.perf_counter() - started
        store.close()
    latest_ms = statistics.median(latest_times) * 1000
    draw_ms = statistics.median(draw_times) * 1000
    print(f"stored in {stored_s:.1f} s; latest positions (the map's refresh) median {latest_ms:.1f} ms")
    print(f"one member's whole track ({len(track.fixes):,} reports) {track_s * 1000:.1f} ms")
    print(f"map draw with that track, 120x40: median {draw_ms:.1f} ms")
    sizes = ", ".join(f"{name} {len(content) / 1e6:.1f} MB" for name, content in files.items())
    print(f"places (collect + GeoJSON + KML) {places_s:.1f} s: {sizes}")
    per_report = round(statistics.mean(position_bytes))
    figures = f"latest_ms={latest_ms:.1f} draw_ms={draw_ms:.1f} places_s={places_s:.1f}"
    print(f"reports={reports} bytes_per_report={per_report} {figures}")


if __name__ == "__main__":
    main()
