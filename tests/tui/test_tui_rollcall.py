"""Issue 14.6: answering NEED HELP asks what and where, and confirms; the roll call tells a member who has not
answered though heard from lately from one who is unreachable (and says when and how last heard)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
from tui_scene import GENERAL, Scene

from meshchat.log.flash import UNREACHABLE_AFTER_MS
from meshchat.profile import Profile
from tui.app import MeshchatApp
from tui.format import clock_time
from tui.screens.chat import ChatScreen
from tui.screens.checkins import CheckinsScreen
from tui.screens.forms import NeedHelpForm

CHECKIN = bytes.fromhex("44" * 16)


def test_need_help_asks_what_and_where_and_confirms(scene: Scene, home: Path) -> None:
    scene.write(scene.bo, "checkin.request", checkin=CHECKIN, room=GENERAL, question="Roll call: are you safe?")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("f3", "h")
        await until(pilot, lambda: isinstance(pilot.app.screen, NeedHelpForm), "the form")
        assert "Roll call: are you safe?" in str(pilot.app.screen.query_one("#confirm-detail").render())
        await pilot.press("escape")  # changed their mind: nothing is sent
        await until(pilot, lambda: isinstance(pilot.app.screen, CheckinsScreen))
        with Profile.open(home) as profile:
            assert profile.views.checkins()[0].replies == {}
        await pilot.press("h")
        await until(pilot, lambda: isinstance(pilot.app.screen, NeedHelpForm))
        await type_text(pilot, "ankle, cannot walk")
        await pilot.press("tab")
        await type_text(pilot, "school gym roof")
        await pilot.press("enter")  # Enter sends
        await until(pilot, lambda: isinstance(pilot.app.screen, CheckinsScreen))
        answers = pilot.app.screen.query_one("#rollcall-answers")
        await until(pilot, lambda: "You answered: need help" in str(answers.render()), "the answer")
        assert "Answered: NEED HELP: ankle, cannot walk · at school gym roof" in [
            n.message for n in pilot.app._notifications
        ]

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        reply = profile.views.checkins()[0].replies[profile.me]
        assert reply.status == "need_help" and reply.note == "ankle, cannot walk · at school gym roof"


def test_a_roll_call_tells_not_answered_from_unreachable(scene: Scene, home: Path) -> None:
    cy_last = scene.post(scene.cy, "Cy going to the east bank")  # then nothing more from Cy
    scene.write(scene.ana, "checkin.request", checkin=CHECKIN, room=GENERAL, question="Roll call", seconds=20 * 60)
    bo_last = scene.post(scene.bo, "Bo on the radio, busy")  # Bo is heard from, but does not answer
    scene.save(home)
    app = MeshchatApp(home)
    app.clock = lambda: bo_last.clock + 60_000
    assert bo_last.clock + 60_000 - cy_last.clock > UNREACHABLE_AFTER_MS

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("f3")
        answers = pilot.app.screen.query_one("#rollcall-answers")
        await until(pilot, lambda: "Unreachable" in str(answers.render()), "the answers")
        text = str(answers.render())
        assert "Not answered Bo" in text
        assert f"Unreachable  Cy (last wrote {clock_time(cy_last.clock)}, their newest entry here)" in text
        table = pilot.app.screen.query_one("#rollcall-table")
        assert "1 not answered · 1 unreachable" in table.row_text(0)[3]  # type: ignore[attr-defined]

    drive(app, script)
