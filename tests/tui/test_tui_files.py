"""Files in the TUI: a photo attached in the composer (ctrl+l, a path prompt where Tab completes) reaches a
teammate's node, whose message shows it with its preview; a peer's photo shows its thumbnail at once, and act
mode fetches it (f), shows it (v), saves a copy (s) and opens it with the system's viewer (o).

Bo's node runs beside Ana's app, on the app's trio run (a companion), linked to hers in memory.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio
from PIL import Image
from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
from tui_scene import Scene

from meshchat.blobs.settings import BlobSettings
from meshchat.log.attachments import Attachment
from meshchat.node import Node, NodeConfig
from meshchat.profile import Profile
from meshchat.testing import link_nodes, running_node
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.files import AttachForm, ImageScreen, SaveForm

CONFIG = NodeConfig(discovery=False, poll_interval=0.05)


def photo(path: Path, size: tuple[int, int] = (1200, 900)) -> Path:
    image = Image.new("RGB", size, (20, 60, 140))
    for x in range(0, size[0], 40):
        image.paste((230, 200, 40), (x, 0, x + 8, size[1]))
    image.save(path, "JPEG", quality=95)
    return path


def texts(pilot: Pilot[int]) -> list[str]:
    screen = pilot.app.screen_stack[0] if pilot.app.screen_stack else None
    return screen.messages.message_texts() if isinstance(screen, ChatScreen) else []


def bo_beside(bo_home: Path, bo: list[Node], first: Callable[[Node], Awaitable[None]] | None = None):  # type: ignore[no-untyped-def]
    """A companion: Bo's node, linked to Ana's, doing ``first`` before the link comes up."""

    async def run(ana: Node) -> None:
        async with running_node(bo_home, CONFIG) as node, trio.open_nursery() as nursery:
            if first is not None:
                await first(node)
            bo.append(node)
            link_nodes(nursery, ana, node)
            await trio.sleep_forever()

    return run


def homes(tmp_path: Path) -> tuple[Path, Path]:
    scene = Scene()
    ana_home = scene.save(tmp_path / "ana")
    scene.me = scene.bo
    return ana_home, scene.save(tmp_path / "bo")


def test_a_photo_attached_in_the_composer_reaches_a_teammate_with_its_preview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana_home, bo_home = homes(tmp_path)
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    data = photo(pictures / "breach-km4.jpg").read_bytes()
    (pictures / "breach-notes.txt").write_text("notes")
    monkeypatch.setenv("HOME", str(tmp_path))
    bo: list[Node] = []
    app = MeshchatApp(ana_home, config=CONFIG, companions=[bo_beside(bo_home, bo)])

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: bo and bo[0].peers(), "Bo's link")
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(pilot.app.screen, AttachForm), "the path prompt")
        form = pilot.app.screen
        assert isinstance(form, AttachForm)
        await type_text(pilot, "pic")
        await pilot.press("tab")  # one name fits: the folder
        await pilot.pause()
        assert form.text("file-path") == "~/pictures/"
        await type_text(pilot, "br")
        await pilot.press("tab")  # two fit: what they share
        await pilot.pause()
        assert form.text("file-path") == "~/pictures/breach-"
        assert "2 fit: breach-km4.jpg  breach-notes.txt" in str(form.query_one("#file-matches").render())
        await type_text(pilot, "k")
        await pilot.press("tab", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat")
        chat = pilot.app.screen
        assert isinstance(chat, ChatScreen)
        assert "breach-km4.jpg" in str(chat.composer.query_one("#files-badge").render())
        await type_text(pilot, "Breach at km 4")
        await pilot.press("enter")
        await until(pilot, lambda: any("▤ breach-km4.jpg" in t for t in texts(pilot)), "the file under the message")
        line = next(t for t in texts(pilot) if "Breach at km 4" in t)
        assert "JPEG 1200x900 · here" in line and "▀" * 8 in line  # the preview, in half blocks
        await until(pilot, lambda: any(m.files for m in bo[0].views.messages(bo[0].profile.room("general").room)))
        (message,) = [m for m in bo[0].views.messages(bo[0].profile.room("general").room) if m.files]
        assert message.files[0].thumb and message.files[0].width == 1200
        await until(pilot, lambda: bo[0].file_state(message.files[0]).here, "Bo's node to fetch the photo")
        assert bo[0].blobs.path_of(message.files[0].blob).read_bytes() == data

    drive(app, script)


def test_a_peer_photo_shows_at_once_and_act_mode_fetches_views_saves_and_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana_home, bo_home = homes(tmp_path)
    with Profile.open(ana_home) as profile:
        BlobSettings(max_attach=10**8, auto_fetch=1000).save(profile.store)  # Ana fetches only when asked
    data = photo(tmp_path / "road.jpg", (1600, 1200)).read_bytes()
    opened = tmp_path / "opened.txt"
    viewer = tmp_path / "viewer.py"
    viewer.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    monkeypatch.setenv("MESHCHAT_OPEN", f"{sys.executable} {viewer}")
    monkeypatch.setenv("HOME", str(tmp_path))
    saved = tmp_path / "saved"
    saved.mkdir()
    bo: list[Node] = []

    async def post_photo(node: Node) -> None:
        await node.post("general", "Road blocked at the bridge", attach=[tmp_path / "road.jpg"])

    app = MeshchatApp(ana_home, config=CONFIG, companions=[bo_beside(bo_home, bo, post_photo)])

    def file_of(pilot: Pilot[int]) -> Attachment:
        screen = pilot.app.screen_stack[0]
        assert isinstance(screen, ChatScreen)
        (message,) = [m for m in screen.messages.window.messages if m.files]
        return message.files[0]

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: any("▤ road.jpg" in t for t in texts(pilot)), "Bo's photo", timeout=10)
        line = next(t for t in texts(pilot) if "Road blocked" in t)
        assert "not fetched · f fetches" in line and "▀" * 8 in line  # the thumbnail came with the message
        chat = pilot.app.screen
        assert isinstance(chat, ChatScreen)
        chat.messages.focus()
        await pilot.press("end", "enter")
        offered = chat.messages.available_actions()
        assert offered == ["reply", "pin", "retract", "task", "fetch", "view"]  # not here yet: no o, no s
        await pilot.press("v")  # the thumbnail, until it is fetched
        await until(pilot, lambda: isinstance(pilot.app.screen, ImageScreen), "the viewer")
        assert "the thumbnail: f fetches the picture" in str(pilot.app.screen.query_one("#viewer-title").render())
        await pilot.press("escape")
        await pilot.press("enter", "f")
        await until(pilot, lambda: any("road.jpg" in t and "· here" in t for t in texts(pilot)), "the fetch")
        held = app.node.held_file(file_of(pilot))
        assert held is not None and held.read_bytes() == data
        await pilot.press("enter")
        assert "fetch" not in chat.messages.available_actions()
        await pilot.press("v")
        await until(pilot, lambda: isinstance(pilot.app.screen, ImageScreen), "the viewer")
        title = str(pilot.app.screen.query_one("#viewer-title").render())
        assert "road.jpg" in title and "thumbnail" not in title  # the picture itself
        await pilot.press("escape", "enter", "s")
        await until(pilot, lambda: isinstance(pilot.app.screen, SaveForm), "the save prompt")
        field = pilot.app.screen.query_one("#save-path")
        field.value = ""  # type: ignore[attr-defined]
        await type_text(pilot, "~/saved/")
        await pilot.press("enter")
        await until(pilot, (saved / "road.jpg").is_file, "the copy")
        assert (saved / "road.jpg").read_bytes() == data
        await pilot.press("enter", "o")
        await until(pilot, opened.is_file, "the viewer to be started")
        copy = Path(opened.read_text())
        assert copy.name == "road.jpg" and copy.read_bytes() == data
        assert not copy.stat().st_mode & (stat.S_IWUSR | stat.S_IXUSR)  # a viewer cannot change the blob
        assert os.path.samefile(copy.parent.parent.parent, ana_home / "blobs")

    drive(app, script)
