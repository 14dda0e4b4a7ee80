"""Issue 12.2 in the TUI: a message whose time is doubtful says so in its row. Here a member's clock claims
2076; the team's heads entries place the message when the team held it (``meshchat.log.timing``), and the
row shows what its author's clock claimed."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import drive, until
from tui_scene import GENERAL, Scene

from meshchat.log.entry import Entry
from meshchat.testing import AuthorLog
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen

YEAR_2076 = 3_373_000_000_000  # 2076-11-19


def heads(scene: Scene, writer: AuthorLog, named: list[Entry]) -> None:
    body = {"heads": {e.author: [e.seq, e.id] for e in named}}
    scene.pending.append(writer.write("heads", body, clock=scene.tick()))


def test_a_message_from_2076_is_placed_by_the_team_and_marked(scene: Scene, home: Path) -> None:
    scene.post(scene.bo, "Levee holding at km 4")
    future = scene.cy.write("msg.post", {"room": GENERAL, "text": "All clear, go home"}, clock=YEAR_2076)
    scene.pending.append(future)
    heads(scene, scene.ana, [future])  # the nodes that stored it signed what they held soon after
    heads(scene, scene.bo, [future])
    scene.post(scene.bo, "Still pumping")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        screen = pilot.app.screen
        assert isinstance(screen, ChatScreen)
        texts = screen.messages.message_texts()
        ordered = [t for t in texts if "Levee" in t or "All clear" in t or "Still pumping" in t]
        assert "All clear" in ordered[1], "it sits where the team held it, not at the end"
        row = ordered[1]
        assert "⏱ time doubtful: claims Thu 19 Nov 2076" in row
        assert "⏱" not in ordered[0] and "⏱" not in ordered[2]

    drive(MeshchatApp(home), script)
