"""Issue 14.8: ? shows every key of the screen one is on (ctrl+o where ? would be typed), made from the
bindings themselves; alt+1..4 move between screens like the F-keys."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import drive, until
from tui_scene import Scene

from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.help import HelpScreen
from tui.screens.incidents import IncidentsScreen


def help_text(pilot: Pilot[int]) -> str:
    return str(pilot.app.screen.query_one("#help-keys").render())


def test_help_lists_every_key_of_the_screen(scene: Scene, home: Path) -> None:
    scene.post(scene.bo, "Morning all")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("question_mark")  # the composer has focus: ? is a character there
        chat = pilot.app.screen
        assert isinstance(chat, ChatScreen) and chat.composer.input.value == "?"
        await pilot.press("backspace", "ctrl+o")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the keys")
        text = help_text(pilot)
        for line in (
            "Messages",
            "Act on the selected message",
            "Messages: act mode (after Enter)",
            "Acknowledge",
            "Retract (asks first)",
            "typing always writes",
            "Writing a message",
            "FLASH on/off",
            "Chat",
            "Pinned",
            "Everywhere",
            "F1, alt+1",
            "Search",
            "command palette",
        ):
            assert line in text, line
        assert "Incident board" not in text  # only this screen's keys
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("alt+2")
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen), "alt+2")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        text = help_text(pilot)
        assert "Incident board" in text and "New incident" in text and "Task done" in text
        assert "Messages" not in text

    drive(MeshchatApp(home), script)
