"""First run, the incident board, tasks and check-ins, driven by keys."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Select
from tui_helpers import drive, open_from_board, type_text, until
from tui_scene import GENERAL, Scene

from meshchat.profile import Profile
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.checkins import CheckinsScreen
from tui.screens.forms import IncidentForm, TaskForm
from tui.screens.incidents import IncidentsScreen
from tui.screens.welcome import WelcomeScreen
from tui.widgets.chat.composer import ComposerInput

INCIDENT = bytes.fromhex("33" * 16)


def screen_is(pilot: Pilot[int], name: str) -> bool:
    return pilot.app.screen.__class__.__name__ == name


def test_first_run_creates_a_team_from_the_welcome_screen(tmp_path: Path) -> None:
    home = tmp_path / "new"

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, WelcomeScreen), "the welcome screen")
        await pilot.press("enter")  # nothing typed: told what is missing, nothing created
        assert "Give the team a name" in str(pilot.app.screen.query_one("#welcome-message").render())
        await type_text(pilot, "Flood response")
        await pilot.press("enter")
        await type_text(pilot, "Ana")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat")
        assert isinstance(pilot.app.focused, ComposerInput)
        assert "Flood response" in str(pilot.app.screen.query_one("#nav-title").render())

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        assert profile.team_name == "Flood response"
        assert profile.name_of(profile.me) == "Ana"
        assert [r.name for r in profile.views.rooms()] == ["general"]


def test_a_mistyped_invite_code_is_explained(tmp_path: Path) -> None:
    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, WelcomeScreen))
        pilot.app.screen.query_one("#invite-code").focus()
        await type_text(pilot, "MC2ABCDEF")
        await pilot.press("enter", "D", "e", "e", "enter")
        assert "mistyped" in str(pilot.app.screen.query_one("#welcome-message").render())
        assert isinstance(pilot.app.screen, WelcomeScreen)

    drive(MeshchatApp(tmp_path / "new"), script)
    assert not (tmp_path / "new").exists()  # nothing created


async def choose(pilot: Pilot[int], select_id: str, steps: int) -> None:
    """Open a Select with Enter and move ``steps`` down (negative: up), then Enter."""
    select = pilot.app.screen.query_one(f"#{select_id}", Select)
    select.focus()
    await pilot.press("enter")
    await pilot.press(*(["down"] * steps if steps > 0 else ["up"] * -steps))
    await pilot.press("enter")


def test_open_and_update_an_incident(scene: Scene, home: Path) -> None:
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await open_from_board(pilot, "n", IncidentForm)
        await type_text(pilot, "Levee breach")
        await choose(pilot, "incident-severity", -1)  # S3 -> S2
        pilot.app.screen.query_one("#incident-location").focus()
        await type_text(pilot, "north dam")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen))
        board = pilot.app.screen.query_one("#board")
        await until(pilot, lambda: board.row_count == 1, "the incident on the board")  # type: ignore[attr-defined]
        assert "Levee breach" in str(pilot.app.screen.query_one("#incident-detail").render())

        await pilot.press("e")
        await until(pilot, lambda: screen_is(pilot, "IncidentForm"))
        await choose(pilot, "incident-status", 1)  # open -> active
        pilot.app.screen.query_one("#incident-commander").focus()
        await type_text(pilot, "Bo")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen))
        await until(pilot, lambda: "status → active" in str(pilot.app.screen.query_one("#timeline").render()))
        row = board.row_text(0)  # type: ignore[attr-defined]
        assert row[:4] == ["S2 major", "active", "Levee breach", "Bo"]
        assert row[4].endswith("Ana commander, status")

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        (incident,) = profile.views.incidents()
        assert incident.get("status") == "active" and incident.get("commander") == "Bo"
        assert incident.get("severity") == 2 and incident.get("location") == {"text": "north dam"}
        assert [c.name for c in incident.history[-2:]] == ["commander", "status"]


def test_open_a_task_with_an_owner_and_mark_it_done(scene: Scene, home: Path) -> None:
    scene.write(scene.bo, "incident.open", incident=INCIDENT, title="Levee breach", severity=2)
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await open_from_board(pilot, "t", TaskForm)
        await type_text(pilot, "Sandbags to km 4")
        await choose(pilot, "task-owner", 2)  # blank, Ana, Bo
        pilot.app.screen.query_one("#task-title").focus()
        await pilot.press("enter")
        tasks = pilot.app.screen.query_one("#tasks")
        await until(pilot, lambda: tasks.row_count == 1, "the task")  # type: ignore[attr-defined]
        assert tasks.row_text(0) == ["open", "Sandbags to km 4", "Bo"]  # type: ignore[attr-defined]
        await pilot.press("d")
        await until(pilot, lambda: tasks.row_text(0)[0] == "done", "done")  # type: ignore[attr-defined]

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        (task,) = profile.views.tasks(INCIDENT)
        assert task.get("status") == "done" and task.get("owner") == Scene().bo.key


def test_answer_a_roll_call_with_one_key(scene: Scene, home: Path) -> None:
    checkin = bytes.fromhex("44" * 16)
    scene.write(scene.bo, "checkin.request", checkin=checkin, room=GENERAL, question="Check in: are you safe?")
    scene.write(scene.cy, "checkin.reply", checkin=checkin, status="need_help", note="ankle")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(pilot.app.screen, CheckinsScreen))
        answers = pilot.app.screen.query_one("#rollcall-answers")
        text = str(answers.render())
        assert "NEED HELP    Cy (ankle)" in text and "Not answered Ana" in text and "press s" in text
        await pilot.press("s")
        await until(pilot, lambda: "You answered: safe" in str(answers.render()), "my answer")
        assert "Everyone has answered." in str(answers.render())

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        (roll,) = profile.views.checkins()
        assert roll.replies[profile.me].status == "safe" and roll.missing == ()


def test_start_a_roll_call_and_acknowledge_from_the_flash_list(scene: Scene, home: Path) -> None:
    scene.post(scene.bo, "Bridge closed to all traffic", flash=True)
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(pilot.app.screen, CheckinsScreen))
        flashes = pilot.app.screen.query_one("#flashes")
        assert "Bridge closed" in flashes.get_option_at_index(0).prompt.plain  # type: ignore[attr-defined]
        await pilot.press("a")
        await until(pilot, lambda: "Nothing waits" in str(flashes.get_option_at_index(0).prompt))  # type: ignore[attr-defined]
        await pilot.press("n")
        await until(pilot, lambda: screen_is(pilot, "CheckinForm"))
        await pilot.press("enter")  # the default question, in the room the chat shows
        table = pilot.app.screen.query_one("#rollcall-table")
        await until(pilot, lambda: table.row_count == 1, "the roll call")  # type: ignore[attr-defined]
        answers = str(pilot.app.screen.query_one("#rollcall-answers").render())  # the scene's last words are days old
        assert "Unreachable  Bo (last wrote" in answers and "; Cy (never heard from)" in answers

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        assert profile.views.unacknowledged(profile.me) == []
        (roll,) = profile.views.checkins()
        assert roll.question == "Check in: are you safe?" and roll.room == GENERAL
