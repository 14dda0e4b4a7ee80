"""Coordinates from the terminal UI's forms (issue 18): an incident or a task takes an MGRS reference, decimal
degrees or ``here`` beside its words and lands on the map; a typo is said in the form; an update that leaves
the place untouched changes nothing; a NEED HELP answer carries my position when it is fresh, and not when it
is stale (an old fix would send help astray)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input
from tui_helpers import drive, open_from_board, type_text, until
from tui_scene import GENERAL, Scene

from meshchat.geo.parse import parse_position
from meshchat.profile import Profile
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.checkins import CheckinsScreen
from tui.screens.forms import IncidentForm, NeedHelpForm, TaskForm
from tui.screens.incidents import IncidentsScreen

CHECKIN = bytes.fromhex("44" * 16)
BARN = parse_position("31U FT 4533 7325").point
HERE = {"lat_e7": 520907000, "lon_e7": 51214000}


async def fill(pilot: Pilot[int], field: str, text: str) -> None:
    """Type ``text`` into a form's field (focused first, as a click would)."""
    pilot.app.screen.query_one(f"#{field}", Input).focus()
    await pilot.pause()
    await type_text(pilot, text)


def test_an_incident_takes_coordinates_and_keeps_them_when_untouched(scene: Scene, home: Path) -> None:
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await open_from_board(pilot, "n", IncidentForm)
        await type_text(pilot, "Collapsed barn")
        await fill(pilot, "incident-location", "Oak farm")
        await fill(pilot, "incident-at", "here")
        await pilot.press("enter")  # no position of mine yet: said in the form, which stays open
        await until(pilot, lambda: "report it first" in str(pilot.app.screen.query_one("#form-error").render()))
        pilot.app.screen.query_one("#incident-at", Input).value = "31U FT 4533 732"  # a typo
        await pilot.press("enter")
        await until(pilot, lambda: "MGRS" in str(pilot.app.screen.query_one("#form-error").render()))
        assert isinstance(pilot.app.screen, IncidentForm)
        pilot.app.screen.query_one("#incident-at", Input).value = "31U FT 4533 7325"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen), "the board")
        await until(pilot, lambda: pilot.app.screen.query_one("#board").row_count == 1)  # type: ignore[attr-defined]

        await pilot.press("e")  # the update form shows the words and the coordinates apart
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentForm))
        assert pilot.app.screen.query_one("#incident-location", Input).value == "Oak farm"
        at = pilot.app.screen.query_one("#incident-at", Input).value
        assert parse_position(at).point == BARN  # read back exactly
        await fill(pilot, "incident-commander", "Bo")
        await pilot.press("enter")  # the place untouched: only the commander changes
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen))
        await until(pilot, lambda: "commander" in str(pilot.app.screen.query_one("#timeline").render()))

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        (incident,) = profile.views.incidents()
        where = {"text": "Oak farm", "lat_e7": BARN.lat_e7, "lon_e7": BARN.lon_e7}
        assert incident.get("location") == where and incident.get("commander") == "Bo"
        assert [c.name for c in incident.history if c.name in ("location", "commander")] == ["location", "commander"]


def test_a_task_is_placed_here(scene: Scene, home: Path) -> None:
    scene.write(scene.ana, "position", source="gps", accuracy_m=5, fix_ms=scene.clock, **HERE)
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await open_from_board(pilot, "t", TaskForm)
        await type_text(pilot, "Sandbags from the depot")
        await fill(pilot, "task-location", "depot")
        await fill(pilot, "task-at", "here")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen))

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        (task,) = profile.views.tasks(None)
        assert task.get("location") == {"text": "depot", **HERE}


def need_help(scene: Scene, home: Path, position_age_min: int) -> dict[str, object] | None:
    """Answer NEED HELP with my last position ``position_age_min`` minutes old; the answer's location."""
    fix_ms = scene.clock
    scene.write(scene.ana, "position", source="gps", accuracy_m=5, fix_ms=fix_ms, **HERE)
    scene.write(scene.bo, "checkin.request", checkin=CHECKIN, room=GENERAL, question="Roll call")
    scene.save(home)
    app = MeshchatApp(home)
    app.clock = lambda: fix_ms + position_age_min * 60_000

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(pilot.app.screen, CheckinsScreen))
        await pilot.press("h")
        await until(pilot, lambda: isinstance(pilot.app.screen, NeedHelpForm))
        said = str(pilot.app.screen.query_one("#help-here").render())
        assert (f"({position_age_min} min old) goes with the answer" in said) == (position_age_min <= 15), said
        await type_text(pilot, "ankle")
        await pilot.press("tab")
        await type_text(pilot, "school roof")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, CheckinsScreen))

    drive(app, script)
    with Profile.open(home) as profile:
        reply = profile.views.checkins()[0].replies[profile.me]
        assert reply.status == "need_help" and reply.note == "ankle · at school roof"
        return reply.location  # type: ignore[return-value]


def test_need_help_carries_a_fresh_position(scene: Scene, home: Path) -> None:
    assert need_help(scene, home, position_age_min=3) == {"text": "school roof", **HERE}


def test_need_help_leaves_a_stale_position_out(scene: Scene, home: Path) -> None:
    assert need_help(scene, home, position_age_min=90) == {"text": "school roof"}
