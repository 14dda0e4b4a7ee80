"""The UI says when writing is paused because this device's store lost the end of our own log (and why): a
toast and a banner that stays on every screen while it lasts; a post tried meanwhile is refused with the reason."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
from tui_scene import Scene

from meshchat.events import WritingPaused
from meshchat.profile import STORE_FILE
from meshchat.store.own import HeadMark
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen


def test_writing_paused_is_shown_and_a_post_is_refused_with_the_reason(scene: Scene, home: Path) -> None:
    scene.save(home)
    # This home once wrote five more entries of its own than its store now holds (a lost -wal file).
    own = scene.me.entries[-1]
    HeadMark(home / STORE_FILE, scene.team_id).record(scene.me.key, own.seq + 5, b"\x01" * 32)

    def toasts(pilot: Pilot[int]) -> list[tuple[str, str]]:
        return [(n.title, n.message) for n in pilot.app._notifications]

    def banner(pilot: Pilot[int]) -> str:
        shown = [str(w.render()) for w in pilot.app.screen.query("#notice-banner") if w.display]
        return "".join(shown)  # nothing while the screen is still being built

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat")
        await until(pilot, lambda: any(t == "Writing paused" for t, _ in toasts(pilot)), "the paused toast")
        [message] = [m for t, m in toasts(pilot) if t == "Writing paused"]
        assert f"#{own.seq + 5}" in message and "fetches" in message
        await type_text(pilot, "would fork")
        await pilot.press("enter")
        await until(pilot, lambda: any(t == "Not done" for t, _ in toasts(pilot)), "the refusal")
        assert any(t == "Not done" and "writing is paused" in m for t, m in toasts(pilot))
        for mode in ("incidents", "chat"):  # the banner stays, on every screen, as long as writing waits
            pilot.app.switch_mode(mode)
            await until(pilot, lambda: "writing is paused" in banner(pilot), f"the banner on {mode}")
            assert f"#{own.seq + 5}" in banner(pilot)
        # The node says when its own log is back (here told directly): the banner goes, a toast says so.
        app = pilot.app
        assert isinstance(app, MeshchatApp)
        app.node.publish(WritingPaused(False, "your own log is back on this device: writing works again"))
        await until(pilot, lambda: banner(pilot) == "", "the banner to go")
        assert any(t == "Writing works again" for t, _ in toasts(pilot))

    drive(MeshchatApp(home), script)
