"""The UI says when writing is paused because this device's store lost the end of our own log (and why), and
when it works again; a post tried meanwhile is refused with the reason."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
from tui_scene import Scene

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

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat")
        await until(pilot, lambda: any(t == "Writing paused" for t, _ in toasts(pilot)), "the paused toast")
        [message] = [m for t, m in toasts(pilot) if t == "Writing paused"]
        assert f"#{own.seq + 5}" in message and "fetches" in message
        await type_text(pilot, "would fork")
        await pilot.press("enter")
        await until(pilot, lambda: any(t == "Not done" for t, _ in toasts(pilot)), "the refusal")
        assert any(t == "Not done" and "writing is paused" in m for t, m in toasts(pilot))

    drive(MeshchatApp(home), script)
