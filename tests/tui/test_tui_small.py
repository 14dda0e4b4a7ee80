"""Issue 14.12, the smaller points: a refused form keeps what was typed; keys typed right after Tab or Enter
land in the next field; after a change of name or callsign, earlier messages, replies and the incident
commander show the new name; the empty peers screen speaks of the app."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import burst, drive, type_text, until
from tui_scene import Scene

from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.forms import RoomForm
from tui.screens.incidents import IncidentsScreen
from tui.screens.peers import PeersScreen
from tui.screens.welcome import WelcomeScreen

INCIDENT = bytes.fromhex("33" * 16)


def test_a_room_name_already_taken_keeps_the_form_and_what_was_typed(scene: Scene, home: Path) -> None:
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(pilot.app.screen, RoomForm))
        await type_text(pilot, "general")
        await pilot.press("tab")
        await type_text(pilot, "fuel and food")
        await pilot.press("enter")
        form = pilot.app.screen
        error = form.query_one("#form-error")
        await until(pilot, lambda: "exists already" in str(error.render()), "the refusal in the form")
        assert isinstance(pilot.app.screen, RoomForm)
        assert form.query_one("#room-topic").value == "fuel and food"  # type: ignore[attr-defined]
        await pilot.press("shift+tab", "end")
        await type_text(pilot, " 2")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "created")
        chat = pilot.app.screen
        assert isinstance(chat, ChatScreen)
        assert [e.room.name for e in chat.rooms.entries] == ["general", "general 2"]

    drive(MeshchatApp(home), script)


def test_keys_typed_right_after_tab_or_enter_land_in_the_next_field(tmp_path: Path, scene: Scene, home: Path) -> None:
    async def welcome(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, WelcomeScreen))
        await burst(pilot, [*"Flood", "tab", *"Bo"])  # as fast as a terminal hands them over
        fields = {f.id: f.value for f in pilot.app.screen.query("Input")}  # type: ignore[attr-defined]
        assert fields["team-name"] == "Flood" and fields["your-name"] == "Bo"
        await burst(pilot, ["shift+tab", "ctrl+u", *"Levee", "enter", "ctrl+u", *"Cy"])
        fields = {f.id: f.value for f in pilot.app.screen.query("Input")}  # type: ignore[attr-defined]
        assert fields["team-name"] == "Levee" and fields["your-name"] == "Cy"

    drive(MeshchatApp(tmp_path / "new"), welcome)
    scene.save(home)

    async def form(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(pilot.app.screen, RoomForm))
        await burst(pilot, [*"logistics", "tab", *"fuel"])
        assert pilot.app.screen.query_one("#room-name").value == "logistics"  # type: ignore[attr-defined]
        assert pilot.app.screen.query_one("#room-topic").value == "fuel"  # type: ignore[attr-defined]

    drive(MeshchatApp(home), form)


def test_after_a_callsign_change_messages_and_the_commander_show_the_new_name(scene: Scene, home: Path) -> None:
    asked = scene.post(scene.bo, "Who has the pump truck?")
    scene.post(scene.cy, "I do", reply_to=asked.id)
    scene.write(scene.ana, "incident.open", incident=INCIDENT, title="Levee breach", severity=2)
    scene.write(scene.ana, "incident.update", incident=INCIDENT, fields={"commander": "Bo"})
    scene.save(home)

    def texts(pilot: Pilot[int]) -> list[str]:
        chat = pilot.app.screen
        assert isinstance(chat, ChatScreen)
        return chat.messages.message_texts()

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        assert any(t.split()[1] == "Bo" and "pump truck" in t for t in texts(pilot))
        scene.write(scene.bo, "member.profile", name="Bo", callsign="LEAD-1")
        scene.deliver(home)
        await until(pilot, lambda: any("LEAD-1" in t and "pump truck?" in t for t in texts(pilot)), "the new name")
        assert any("↳ LEAD-1: Who has the pump truck?" in t for t in texts(pilot))  # and in the reply line
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen))
        board = pilot.app.screen.query_one("#board")
        assert board.row_text(0)[3] == "LEAD-1"  # type: ignore[attr-defined]
        assert "commanderLEAD-1" in str(pilot.app.screen.query_one("#incident-detail").render()).replace(" ", "")

    drive(MeshchatApp(home), script)


def test_the_empty_peers_screen_speaks_of_the_app(scene: Scene, home: Path) -> None:
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(pilot.app.screen, PeersScreen))
        text = str(pilot.app.screen.query_one("#peers-summary").render())
        assert "meshchat ui --peer HOST:PORT" in text and "meshchat node" not in text

    drive(MeshchatApp(home), script)
