"""Issue 14.11: the layout at 60x20 and 120x40. The room list folds away on a narrow terminal (ctrl+r shows it),
toasts never cover the composer, the detail panes get the width the tables do not need, and in forms the Save
button is always in view (Enter saves)."""

from __future__ import annotations

from pathlib import Path

from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets._toast import Toast
from tui_helpers import drive, open_from_board, until
from tui_scene import LOGISTICS, Scene

from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.forms import IncidentForm
from tui.screens.incidents import IncidentsScreen

INCIDENT = bytes.fromhex("33" * 16)


def visible(widget: Widget) -> Region:
    """Where the widget shows on the screen (empty if hidden)."""
    return widget.region if widget.display and widget.region.area else Region()


def morning(scene: Scene) -> Scene:
    scene.write(scene.ana, "room.create", room=LOGISTICS, name="logistics", topic="")
    scene.post(scene.bo, "Staging at the north levee")
    scene.post(scene.cy, "Diesel for 6 hours", room=LOGISTICS)
    scene.write(scene.bo, "incident.open", incident=INCIDENT, title="Seepage at levee km 4", severity=2)
    return scene


def test_narrow_the_room_list_folds_away_and_ctrl_r_shows_it(scene: Scene, home: Path) -> None:
    morning(scene).save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        chat = pilot.app.screen
        assert isinstance(chat, ChatScreen)
        assert visible(chat.query_one("#sidebar")) == Region()  # folded: the text gets the width
        assert chat.messages.region.width >= 55
        await pilot.press("ctrl+r")
        assert visible(chat.query_one("#sidebar")).width >= 55 and visible(chat.query_one("#conversation")) == Region()
        await pilot.press("down", "enter")  # the next room, and back to the conversation
        await until(pilot, lambda: chat.room == LOGISTICS and bool(visible(chat.query_one("#conversation"))))
        assert visible(chat.query_one("#sidebar")) == Region()
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert visible(chat.query_one("#sidebar")).width >= 20  # wide: the list is back beside the text

    drive(MeshchatApp(home), script, size=(60, 20))


def test_toasts_never_cover_the_composer(scene: Scene, home: Path) -> None:
    scene.save(home)
    for size in ((60, 20), (120, 40)):

        async def script(pilot: Pilot[int]) -> None:
            await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
            for i in range(3):
                pilot.app.notify(f"Something happened, number {i}, with words enough to take two lines here")
            await until(pilot, lambda: len(pilot.app.screen.query(Toast)) == 3, "the three toasts")
            await pilot.pause()  # and laid out
            composer = pilot.app.screen.query_one("#composer").region
            toasts = [t.region for t in pilot.app.screen.query(Toast)]
            assert toasts and all(not t.overlaps(composer) for t in toasts), (toasts, composer)

        drive(MeshchatApp(home), script, size=size, toasts=True)


def test_the_detail_pane_gets_the_width_the_board_does_not_need(scene: Scene, home: Path) -> None:
    morning(scene).save(home)

    async def script(pilot: Pilot[int]) -> None:
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen))
        board, detail = (pilot.app.screen.query_one(s).region for s in ("#board-pane", "#detail-pane"))
        assert board.width <= 76 and detail.width >= 120 - 76 - 1

    drive(MeshchatApp(home), script, size=(120, 40))


def test_a_form_shows_its_save_button_and_enter_saves(scene: Scene, home: Path) -> None:
    morning(scene).save(home)
    for size in ((120, 40), (60, 20)):

        async def script(pilot: Pilot[int]) -> None:
            await open_from_board(pilot, "e", IncidentForm)  # the update form: every field of an incident
            form = pilot.app.screen
            await pilot.pause()
            save = form.query_one("#save").region
            screen = Region(0, 0, *pilot.app.size)
            assert save.area and screen.contains_region(save), save
            await pilot.press("end", "exclamation_mark", "enter")  # a change in the title, and Enter saves
            await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen), "saved")

        drive(MeshchatApp(home), script, size=size)
