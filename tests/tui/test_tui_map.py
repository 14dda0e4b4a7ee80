"""The map screen, driven by keys as a person would: everyone on the map and in the table with age, distance
and bearing; stale positions dimmed; zoom, pan, centre, fit, select; reporting and clearing a position; a
teammate's new position arriving while it is shown; and a snapshot of what a person sees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from clock_helpers import HOUR, assert_fresh_on_the_teams_time, latest_fix, team_with_a_member_off, wall_clock_off
from textual.pilot import Pilot
from tui_helpers import SIZE, drive, type_text, until
from tui_scene import START, Scene

from meshchat.geo.measure import moved
from meshchat.geo.point import Point
from meshchat.profile import Profile
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.forms import ConfirmForm
from tui.screens.map import MapScreen, PositionForm
from tui.widgets.map.canvas import MapCanvas
from tui.widgets.map.member_table import MemberTable

SnapCompare = Callable[..., bool]
HERE = Point(520907000, 51214000)
NOW = START + 3 * 3_600_000  # what the map takes as now
TAK = {"net": "tak", "uid": "ANDROID-77", "callsign": "ALPHA-1"}
INCIDENT = bytes.fromhex("44" * 16)


def field_morning(scene: Scene) -> Scene:
    """Ana at the staging area; Bo walking north-east, reporting as he goes (his last fix 7 minutes old); Cy's
    last fix 75 minutes old; a TAK user relayed by Bo's bridge; an incident with coordinates and one without."""
    s = scene
    s.write(s.bo, "member.profile", name="Bo", callsign="BRAVO-2")
    _at(s, 75)
    cy = moved(HERE, -900.0, -300.0)
    s.write(s.cy, "position", source="manual", accuracy_m=120, fix_ms=NOW - 75 * 60_000, **_e7(cy))
    _at(s, 10)
    for step in range(4):  # one a minute: 10 to 7 minutes ago
        where = moved(HERE, 150.0 * step, 120.0 * step)
        s.write(s.bo, "position", source="gps", accuracy_m=6, fix_ms=s.clock + 60_000, **_e7(where))
    s.write(s.ana, "position", source="gps", accuracy_m=40, fix_ms=s.clock + 60_000, **_e7(HERE))
    relayed = moved(HERE, 1200.0, -600.0)
    s.write(s.bo, "position.relay", via=TAK, accuracy_m=10, fix_ms=s.clock + 30_000, **_e7(relayed))
    levee = {"text": "north dam", **_e7(moved(HERE, -300.0, 700.0))}
    s.write(s.bo, "incident.open", incident=INCIDENT, title="Levee breach", severity=2, location=levee)
    s.write(s.cy, "incident.open", incident=b"\x55" * 16, title="Somewhere unknown", severity=3)
    return s


def _at(scene: Scene, minutes_ago: int) -> None:
    """The next entry is written ``minutes_ago`` before :data:`NOW` (``Scene.write`` ticks a minute first)."""
    scene.clock = NOW - (minutes_ago + 1) * 60_000


def _e7(point: Point) -> dict[str, int]:
    return {"lat_e7": point.lat_e7, "lon_e7": point.lon_e7}


@pytest.fixture(autouse=True)
def pinned_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MapScreen, "clock", lambda self: NOW)


def the_map(pilot: Pilot[int]) -> MapScreen:
    screen = pilot.app.screen
    assert isinstance(screen, MapScreen)
    return screen


def canvas_text(pilot: Pilot[int]) -> str:
    return str(the_map(pilot).query_one(MapCanvas).render().plain)


async def open_map(pilot: Pilot[int]) -> MapScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat")
    await pilot.press("alt+5")
    await until(pilot, lambda: isinstance(pilot.app.screen, MapScreen), "the map")
    await pilot.pause()
    return the_map(pilot)


def test_everyone_on_the_map_and_in_the_table(scene: Scene, home: Path) -> None:
    field_morning(scene).save(home)

    async def script(pilot: Pilot[int]) -> None:
        screen = await open_map(pilot)
        text = canvas_text(pilot)
        for marker in ("◉ Ana", "● BRAVO-2", "● Cy", "ALPHA-1 (TAK) ◆", "✖ Levee breach", "N↑", "┤ 500 m"):
            assert marker in text, (marker, text)
        assert "Somewhere unknown" not in text  # an incident without coordinates is not guessed onto the map
        table = screen.query_one(MemberTable)
        rows = [table.row_text(i) for i in range(table.row_count)]
        assert rows[0][0] == "Ana" and rows[0][3] == "here"
        bo = next(r for r in rows if r[0] == "BRAVO-2")
        assert bo[2] == "7 min" and bo[3] == "576 m" and bo[4] == "NE 51°"
        cy = next(r for r in rows if r[0] == "Cy")
        assert cy[2] == "1 h 15 min" and cy[4] == "WSW 252°"
        assert rows[-1][0] == "ALPHA-1 (TAK)" and rows[-1][3] == "1.3 km"
        styles = {i.label: i.style for i in screen.items}
        assert styles["Cy"] == "dim $text-muted" and styles["BRAVO-2"] == "$text-success"  # over an hour old: dimmed

    drive(MeshchatApp(home), script)


def test_zoom_pan_centre_fit_and_select(scene: Scene, home: Path) -> None:
    field_morning(scene).save(home)

    async def script(pilot: Pilot[int]) -> None:
        screen = await open_map(pilot)
        assert screen.view is not None and screen.follow
        fitted = screen.view
        await pilot.press("plus")
        assert screen.view.zoom == fitted.zoom - 1 and not screen.follow
        assert "┤ 200 m" in canvas_text(pilot)
        await pilot.press("right")  # pan east by a quarter of the map
        assert screen.view.centre.lon_e7 > fitted.centre.lon_e7
        await pilot.press("c")
        assert screen.view.centre == HERE and screen.selected is not None and screen.selected.startswith("member:")
        await pilot.press("n")
        selected = str(screen.query_one("#map-selected").render())
        assert selected.startswith("BRAVO-2 · 576 m NE (51°) from you · ±6 m · 7 min ago")
        assert "31U FT" in selected
        trail = canvas_text(pilot)
        assert any(chr(c) in trail for c in range(0x2801, 0x2900))  # the selected member's track, in Braille
        await pilot.press("n", "n", "n")  # Cy, ALPHA-1, the incident
        assert screen.selected == f"incident:{INCIDENT.hex()}"
        assert "Levee breach · S2 major · 762 m NNW" in str(screen.query_one("#map-selected").render())
        await pilot.press("f")
        assert screen.follow and screen.view == fitted
        for _ in range(20):
            await pilot.press("minus")
        assert screen.view.zoom == 14  # the ladder's end: it stops there

    drive(MeshchatApp(home), script)


def test_report_and_clear_my_position_from_the_map(scene: Scene, home: Path) -> None:
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        screen = await open_map(pilot)
        assert "GPS off" in str(screen.query_one("#map-gps").render())
        await pilot.press("r")
        await until(pilot, lambda: isinstance(pilot.app.screen, PositionForm), "the position form")
        await type_text(pilot, "31U FT 12345 6789")
        await pilot.press("enter")
        assert "as many easting as northing digits" in str(pilot.app.screen.query_one("#form-error").render())
        await type_text(pilot, "0")
        await pilot.press("enter")
        await until(pilot, lambda: "◉ Ana" in canvas_text(pilot), "my position on the map")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmForm), "are you sure")
        await pilot.press("y")
        await until(pilot, lambda: "◉" not in canvas_text(pilot), "my position gone")

    drive(MeshchatApp(home), script)
    with Profile.open(home) as ana:
        [[fix]] = ana.views.track(ana.me).segments
        assert (fix.lat_e7, fix.lon_e7, fix.accuracy_m, fix.source) == (520502190, 46383718, 1, "manual")
        assert ana.my_position() is None


def test_a_position_reported_from_the_map_is_dated_by_the_teams_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18: a laptop three hours behind (tests/test_team_time.py) used to date a typed fix three hours ago."""
    founder, slow = team_with_a_member_off(tmp_path, -3 * HOUR)

    async def script(pilot: Pilot[int]) -> None:
        await open_map(pilot)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(pilot.app.screen, PositionForm), "the position form")
        await type_text(pilot, "52.0907 5.1214")
        await pilot.press("enter")
        await until(pilot, lambda: "◉" in canvas_text(pilot), "my position on the map")

    with wall_clock_off(monkeypatch, -3 * HOUR):
        drive(MeshchatApp(slow), script)
    assert_fresh_on_the_teams_time(latest_fix(founder, slow))


def test_a_teammates_position_arrives_while_the_map_is_shown(scene: Scene, home: Path) -> None:
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await open_map(pilot)
        assert "Cy" not in canvas_text(pilot)
        scene.write(scene.cy, "position", source="gps", accuracy_m=5, fix_ms=NOW, **_e7(HERE))
        scene.deliver(home)
        await until(pilot, lambda: "● Cy" in canvas_text(pilot), "Cy on the map")

    drive(MeshchatApp(home), script)


def test_map_screen(snap_compare: SnapCompare, scene: Scene, home: Path) -> None:
    field_morning(scene).save(home)

    async def run_before(pilot: Pilot[int]) -> None:
        await open_map(pilot)
        await pilot.press("n")  # Bo selected: his track drawn

    assert snap_compare(MeshchatApp(home), terminal_size=SIZE, run_before=run_before)
