"""Issue 14.10: homes. A home on a read-only medium opens read-only (reading works, writing says why not);
making a team on one says so plainly (the welcome screen and `meshchat init`); a second meshchat on a home
where one already runs is told so at once.

The read-only medium is real: a small tmpfs this test mounts and remounts read-only (root only; the test
machine and CI run as root), unmounted whatever happens.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
from tui_scene import Scene

from meshchat.profile import Profile
from meshchat.store import ReadOnlyStoreError
from meshchat.testing import node_process, run_cli
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.problem import ProblemScreen
from tui.screens.welcome import WelcomeScreen


@pytest.fixture
def medium(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], None]]]:
    """A directory on its own small filesystem, and a function that makes it read-only."""
    where = tmp_path / "card"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(where)], check=False)
    if mounted.returncode != 0:
        pytest.skip("mounting a filesystem needs root (as the test machine and CI run)")
    try:
        yield where, lambda: subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_home_on_a_read_only_medium_opens_read_only(scene: Scene, medium: tuple[Path, Callable[[], None]]) -> None:
    card, make_read_only = medium
    scene.post(scene.bo, "Water rising at the north levee")
    home = scene.save(card / "ana")
    make_read_only()
    with pytest.raises(ReadOnlyStoreError, match="read-only medium"), Profile.open(home) as profile:
        profile.post("general", "this cannot be written")

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat")
        chat = pilot.app.screen
        assert isinstance(chat, ChatScreen)
        assert any("Water rising" in t for t in chat.messages.message_texts())  # reading works
        banner = chat.query_one("#notice-banner")
        assert banner.display and "read-only medium" in str(banner.render())
        assert chat.composer.input.disabled and "read-only" in chat.composer.input.placeholder
        assert "New room" not in str(chat.query_one("#key-bar").render())
        await pilot.press("up", "enter")  # nothing is offered in act mode either
        assert "nothing you may do" in str(chat.query_one("#room-header").render())

    drive(MeshchatApp(home), script)


def test_making_a_team_on_a_read_only_medium_says_why_not(
    tmp_path: Path, medium: tuple[Path, Callable[[], None]]
) -> None:
    card, make_read_only = medium
    make_read_only()
    out = run_cli(card / "new", "init", "--team", "Flood response", "--name", "Ana", ok=False)
    assert out.returncode == 2 and "read-only medium" in out.stderr and "writable place" in out.stderr

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, WelcomeScreen))
        await type_text(pilot, "Flood response")
        await pilot.press("enter")
        await type_text(pilot, "Ana")
        await pilot.press("enter")
        message = pilot.app.screen.query_one("#welcome-message")
        await until(pilot, lambda: "read-only medium" in str(message.render()), "the reason")
        assert isinstance(pilot.app.screen, WelcomeScreen)  # still there, nothing crashed

    drive(MeshchatApp(card / "new"), script)


def test_a_second_meshchat_on_a_home_is_told_at_once(scene: Scene, home: Path) -> None:
    scene.save(home)
    with node_process(home) as first:
        first.wait_listening()  # it holds the home's lock from before it listens
        pid = first.process.pid

        async def script(pilot: Pilot[int]) -> None:
            await until(pilot, lambda: isinstance(pilot.app.screen, ProblemScreen), "the problem")
            text = str(pilot.app.screen.query_one("#welcome-problem").render())
            assert f"Process {pid} runs a meshchat node on this home" in text and "Close the other" in text

        drive(MeshchatApp(home), script)
