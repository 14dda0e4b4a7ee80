"""Issue 14.9: each person is offered only what their role lets them do, in the key bar, in ? and in act mode;
an observer's composer says why it does not take text."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
from tui_scene import Scene

from meshchat.identity import Identity
from meshchat.testing import AuthorLog
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.checkins import CheckinsScreen
from tui.screens.help import HelpScreen
from tui.screens.incidents import IncidentsScreen
from tui.screens.peers import PeersScreen
from tui.widgets.chat.message_list import MessageList


def keys(pilot: Pilot[int]) -> str:
    return str(pilot.app.screen.query_one("#key-bar").render())


def acting_line(pilot: Pilot[int]) -> str:
    return str(pilot.app.screen.query_one("#room-header").render())


def test_a_member_is_offered_only_what_a_member_may_do(scene: Scene, home: Path) -> None:
    scene.post(scene.bo, "Bo's report")
    scene.post(scene.cy, "Cy's own note")
    scene.me = scene.cy
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        assert "New room" not in keys(pilot) and "Pinned" in keys(pilot)
        await pilot.press("ctrl+n")  # not offered: nothing opens
        await pilot.pause()
        assert isinstance(pilot.app.screen, ChatScreen)
        await pilot.press("up", "enter")  # my own message: I may retract it
        assert "x retract" in acting_line(pilot)
        await pilot.press("escape", "up", "enter")  # Bo's: a member retracts only their own
        assert "r reply" in acting_line(pilot) and "x retract" not in acting_line(pilot)
        await pilot.press("escape", "f3")
        await until(pilot, lambda: isinstance(pilot.app.screen, CheckinsScreen))
        assert "New roll call" not in keys(pilot) and "I'm safe" in keys(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(pilot.app.screen, CheckinsScreen)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        text = str(pilot.app.screen.query_one("#help-keys").render())
        assert "New roll call" not in text and "Need help" in text
        await pilot.press("escape", "f4")
        await until(pilot, lambda: isinstance(pilot.app.screen, PeersScreen))
        assert "Invite" not in keys(pilot)
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(pilot.app.screen, PeersScreen)
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen))
        assert "New incident" in keys(pilot)  # members open incidents

    drive(MeshchatApp(home), script)


def test_an_observer_reads_and_acknowledges(scene: Scene, home: Path) -> None:
    dee = AuthorLog(Identity(bytes([4]) * 32), scene.team_id)
    scene.write(scene.ana, "member.add", member=dee.key, name="Dee", role="observer")
    scene.post(scene.bo, "Off the levee crest NOW", flash=True)
    scene.post(scene.cy, "Moving")
    scene.me = dee
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        chat = pilot.app.screen
        assert isinstance(chat, ChatScreen)
        assert chat.composer.input.disabled and "observer" in chat.composer.input.placeholder
        assert isinstance(pilot.app.focused, MessageList)  # reading is what an observer does here
        await type_text(pilot, "hello")  # typing neither posts nor acts
        assert chat.composer.input.value == ""
        await pilot.press("up", "enter")  # the FLASH: acknowledging is all an observer is offered
        assert "a acknowledge" in acting_line(pilot) and "r reply" not in acting_line(pilot)
        assert "p pin" not in acting_line(pilot)
        await pilot.press("a")
        await until(pilot, lambda: not pilot.app.screen.query_one("#flash-banner").display, "acknowledged")
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen))
        assert "New incident" not in keys(pilot)

    drive(MeshchatApp(home), script)
