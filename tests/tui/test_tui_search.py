"""Issue 14.7, search in the TUI: ctrl+g (or / where nothing is typed), results as one types, and Enter opens a
result where it lives: a message far back in its room, around it and selected; an incident on the board."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
from tui_scene import LOGISTICS, Scene

from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.incidents import IncidentsScreen
from tui.screens.search import SearchScreen
from tui.widgets.chat.room_window import PAGE

INCIDENT = bytes.fromhex("33" * 16)


def test_search_opens_a_message_far_back_and_an_incident(scene: Scene, home: Path) -> None:
    scene.write(scene.ana, "room.create", room=LOGISTICS, name="logistics", topic="")
    scene.post(scene.bo, "Sandbags needed at the north levee, km 4", room=LOGISTICS, seconds=5)
    for i in range(3 * PAGE):  # the hit lies far behind the newest page of its room
        scene.post([scene.bo, scene.cy][i % 2], f"routine report {i}", room=LOGISTICS, seconds=5)
    scene.write(scene.cy, "incident.open", incident=INCIDENT, title="Levee breach at km 4", severity=2)
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("ctrl+g")
        await until(pilot, lambda: isinstance(pilot.app.screen, SearchScreen), "the search")
        search = pilot.app.screen
        assert isinstance(search, SearchScreen)
        await type_text(pilot, "SANDBAG")  # any case, part of a word
        await until(pilot, lambda: len(search.hits) == 1, "the result")
        assert search.hits[0].text == "Sandbags needed at the north levee, km 4"
        await pilot.press("enter", "enter")  # to the results, and open the highlighted one
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat")
        chat = pilot.app.screen
        assert isinstance(chat, ChatScreen)
        selected = chat.messages.selected_message
        assert selected is not None and selected.text == "Sandbags needed at the north levee, km 4"
        assert selected in chat.messages.visible_messages() and chat.room == LOGISTICS
        await pilot.press("f3", "slash")  # where nothing is typed, / searches too
        await until(pilot, lambda: isinstance(pilot.app.screen, SearchScreen))
        search = pilot.app.screen
        assert isinstance(search, SearchScreen)
        await type_text(pilot, "breach")
        await until(pilot, lambda: len(search.hits) == 1)
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen), "the board")
        board = pilot.app.screen
        assert isinstance(board, IncidentsScreen)
        assert board.selected is not None and board.selected.obj == INCIDENT
        await pilot.press("ctrl+g")
        await until(pilot, lambda: isinstance(pilot.app.screen, SearchScreen))
        await type_text(pilot, "helicopter")
        await pilot.press("enter")
        assert "Nothing holds every word" in str(pilot.app.screen.query_one("#search-status").render())
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen))

    drive(MeshchatApp(home), script)
