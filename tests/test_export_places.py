"""HQ's positions: ``positions.geojson`` and ``positions.kml`` in the export, listed in the signed manifest,
made again by ``verify`` from the log and compared; tracks per member, outsiders relayed, incidents, tasks,
roll-call answers and messages with coordinates; exact coordinates; hostile text harmless in both."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as ET
import pytest
from export_support import HOSTILE, copy_export, export, found_team, resign, sync

from meshchat.export import manifest
from meshchat.export.fullverify import verify_all
from meshchat.export.places import GEOJSON_FILE, KML_FILE
from meshchat.identity import Identity
from meshchat.log.positions import Report
from meshchat.log.views import Outsider

KML = "{http://www.opengis.net/kml/2.2}"
T0 = 1_790_000_000_000
WHERE = {"text": "north dam", "lat_e7": 520957000, "lon_e7": 51114000}


@dataclass
class Places:
    out: Path
    ana: bytes
    ben: bytes
    incident: bytes


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Places]:
    root = tmp_path_factory.mktemp("places")
    ana, ben, cy = found_team(root)
    for step in range(3):  # Ana walks north, stops sharing, then reports again
        ana.report_position(Report(520907000 + 1000 * step, 51214000, 6, fix_ms=T0 + 60_000 * step, source="gps"))
    ana.clear_position()
    ana.report_position(Report(520800000, 51300000, 25, fix_ms=T0 + 600_000, source="manual", alt_m=3))
    ben.report_position(Report(-338688000, 1512093000, 9, fix_ms=T0, source="gps", heading_deg=90, speed_cms=140))
    incident = ana.open_incident(HOSTILE[:150], 2, location=WHERE)
    ana.open_task("Sandbags", incident=incident, location={"lat_e7": 520000000, "lon_e7": 51000000})
    outsider = Outsider("tak", "ANDROID-1", "ALPHA-1")
    ana.create_room("tak")
    ana.relay_position(outsider, Report(521003000, 51301000, 10, fix_ms=T0))
    ana.relay_post(
        ana.room("tak").room, "Road 12 blocked", outsider, location={"lat_e7": 521003000, "lon_e7": 51301000}
    )
    checkin = ana.request_checkin("general", "ok?")
    for a, b in ((ana, ben), (ana, cy)):
        sync(a, b)
    ben.reply_checkin(checkin, "need_help", HOSTILE[:300], location={"text": "barn", "lat_e7": 1, "lon_e7": 2})
    sync(ben, ana)
    out = root / "export"
    export(ana, out)
    yield Places(out, ana.me, ben.me, incident)
    for profile in (ana, ben, cy):
        profile.close()


def features(out: Path) -> list[dict[str, Any]]:
    doc = json.loads((out / GEOJSON_FILE).read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and doc["name"] == "Flood response"
    return list(doc["features"])


def test_the_files_are_listed_signed_and_made_again_by_verify(places: Places) -> None:
    doc = json.loads((places.out / manifest.MANIFEST_FILE).read_text())
    assert {GEOJSON_FILE, KML_FILE} <= set(doc["files"]) and {GEOJSON_FILE, KML_FILE} <= set(doc["data_files"])
    report = verify_all(places.out)
    assert report.ok, report.errors
    assert report.data_checked[GEOJSON_FILE] > 10 and report.data_checked[KML_FILE] > 10


def test_geojson_holds_tracks_outsiders_and_everything_placed(places: Places) -> None:
    found = features(places.out)
    for feature in found:  # RFC 7946: [lon, lat], within range
        geometry = feature["geometry"]
        points = [geometry["coordinates"]] if geometry["type"] == "Point" else geometry["coordinates"]
        assert geometry["type"] in ("Point", "LineString")
        assert all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in points)
    ana = [f for f in found if f["properties"].get("member") == places.ana.hex()]
    fixes = [f["properties"] for f in ana if f["properties"]["kind"] == "fix"]
    assert [(p["seq"], p["segment"], p["source"]) for p in fixes][-1][1:] == (2, "manual")
    assert [p["segment"] for p in fixes] == [1, 1, 1, 2]  # the clear ended the first segment
    [track] = [f for f in ana if f["properties"]["kind"] == "track"]  # a one-fix segment is no line
    assert track["geometry"]["coordinates"] == [[5.1214, 52.0907], [5.1214, 52.0908], [5.1214, 52.0909]]
    assert track["properties"]["from_utc"] == "2026-09-21T14:13:20.000Z"
    ben = next(f for f in found if f["properties"].get("member") == places.ben.hex())
    assert ben["geometry"]["coordinates"] == [151.2093, -33.8688] and ben["properties"]["speed_cms"] == 140
    kinds = {f["properties"]["kind"] for f in found}
    assert kinds == {"fix", "track", "relayed", "incident", "task", "answer", "message"}
    relayed = next(f["properties"] for f in found if f["properties"]["kind"] == "relayed")
    assert (relayed["uid"], relayed["callsign"], relayed["relayed_by"]) == ("ANDROID-1", "ALPHA-1", places.ana.hex())
    incident = next(f for f in found if f["properties"]["kind"] == "incident")
    assert incident["geometry"]["coordinates"] == [5.1114, 52.0957] and incident["properties"]["place"] == "north dam"
    message = next(f["properties"] for f in found if f["properties"]["kind"] == "message")
    assert message["sender"] == "ALPHA-1 (TAK) via HQ1 (Ana)" and message["room"] == "tak"


def test_kml_has_a_folder_per_member_and_placemarks(places: Places) -> None:
    root = ET.parse(places.out / KML_FILE).getroot()
    assert root.tag == f"{KML}kml"
    document = root.find(f"{KML}Document")
    assert document is not None
    folders = {f.findtext(f"{KML}name"): f for f in document.findall(f"{KML}Folder")}
    assert set(folders) == {"Members", "Outside the team (relayed by a bridge)", "Incidents", "Tasks",
                            "Roll-call answers", "Messages"}  # fmt: skip
    members = {f.findtext(f"{KML}name"): f for f in folders["Members"].findall(f"{KML}Folder")}
    assert set(members) == {"HQ1 (Ana)", "Ben"}
    lines = members["HQ1 (Ana)"].findall(f".//{KML}LineString/{KML}coordinates")
    assert [c.text for c in lines] == ["5.1214,52.0907 5.1214,52.0908 5.1214,52.0909"]
    last = members["HQ1 (Ana)"].findall(f"{KML}Placemark")[-1]
    assert last.findtext(f"{KML}name") == "HQ1 (Ana): last position"
    assert last.findtext(f".//{KML}coordinates") == "5.13,52.08"
    assert last.findtext(f".//{KML}when") == "2026-09-21T14:23:20.000Z"


def test_hostile_text_is_shown_never_run(places: Places) -> None:
    """In Google Earth a description is HTML: after XML parsing it must still be escaped text."""
    root = ET.parse(places.out / KML_FILE).getroot()
    descriptions = [d.text or "" for d in root.iter(f"{KML}description")]
    names = [n.text or "" for n in root.iter(f"{KML}name")]
    assert any("&lt;script&gt;" in d for d in descriptions)
    assert not any("<script" in d or "<img" in d for d in descriptions)
    for text in [*descriptions, *names, (places.out / GEOJSON_FILE).read_text(encoding="utf-8")]:
        assert "\x1b" not in text and "\u202e" not in text and "\x00" not in text


@pytest.mark.parametrize("name", [GEOJSON_FILE, KML_FILE])
def test_a_moved_position_is_caught_even_when_re_signed(places: Places, tmp_path: Path, name: str) -> None:
    forged = copy_export(places.out, tmp_path / "forged")
    path = forged / name
    text = path.read_text(encoding="utf-8")
    moved = text.replace("5.1214,52.0907", "5.2214,52.0907").replace("[5.1214,52.0907]", "[5.2214,52.0907]")
    assert moved != text
    path.write_text(moved, encoding="utf-8")
    resign(forged, Identity.generate())
    report = verify_all(forged)
    changed = [p.message for p in report.errors if p.code == "places-changed"]
    assert changed and changed[0].startswith(f"{name} is not what the log gives: it differs from line")


def test_operation_sqlite_has_every_report_and_where_tasks_and_answers_were(places: Places) -> None:
    from meshchat.export.operation import OPERATION_FILE

    with sqlite3.connect(places.out / OPERATION_FILE) as db:
        ana = db.execute(
            "SELECT kind, lat, lon, lat_e7, mgrs, source, fix_utc FROM positions WHERE author = ? ORDER BY author_seq",
            (places.ana.hex(),),
        ).fetchall()
        relayed = db.execute("SELECT outsider_uid, outsider_callsign, kind FROM positions WHERE kind = 'relayed'")
        task = db.execute("SELECT location FROM tasks WHERE title = 'Sandbags'").fetchone()
        answer = db.execute("SELECT location FROM rollcall_answers WHERE status = 'need_help'").fetchone()
    assert [row[0] for row in ana] == ["fix", "fix", "fix", "cleared", "fix", "relayed"]
    assert ana[0][1:] == (52.0907, 5.1214, 520907000, "31U FT 45332 73249", "gps", "2026-09-21 14:13:20.000")
    assert ana[3][1:] == (None,) * 6
    assert relayed.fetchall() == [("ANDROID-1", "ALPHA-1", "relayed")]
    assert task == ("52.00000,5.10000",) and answer == ("barn (0.00000,0.00000)",)


def test_the_timeline_gives_coordinates_hq_can_paste(places: Places) -> None:
    page = (places.out / "timeline.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="positions">') : page.index('<section id="timeline">')]
    assert '<a href="geo:52.08,5.13" title="open in a map application">52.08000, 5.13000</a>' in section
    assert '<span class="mgrs">31U FT 45956 72076</span>' in section and "2026-09-21 14:23:20Z" in section
    assert "ALPHA-1 (TAK) via HQ1 (Ana)" in section
    incidents = page[page.index('<section id="incidents">') : page.index('<section id="rollcalls">')]
    assert '<bdi>north dam</bdi> <span class="place"><a href="geo:52.0957,5.1114"' in incidents
    timeline = page[page.index('<section id="timeline">') :]
    assert "ALPHA-1 (TAK) via HQ1 (Ana)</bdi></td>" in timeline and 'href="geo:52.1003,5.1301"' in timeline
    sheet = (places.out / "messages.csv").read_text(encoding="utf-8-sig")
    assert ",ALPHA-1 (TAK) via HQ1 (Ana)," in sheet
