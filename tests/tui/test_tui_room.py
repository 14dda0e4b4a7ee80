"""Issue 14.7, the rest: "new since you left" when a room opens with unread messages, @name mentions that are
marked and ring, and the pinned messages of a room (ctrl+t)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import drive, until
from tui_scene import GENERAL, LOGISTICS, Scene

from meshchat.profile import Profile
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.pinned import PinnedScreen
from tui.widgets.chat.message_view import MessageVisual


def chat(pilot: Pilot[int]) -> ChatScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    return screen


def test_a_room_with_unread_messages_opens_at_new_since_you_left(scene: Scene, home: Path) -> None:
    posts = [scene.post([scene.bo, scene.cy][i % 2], f"report {i} " + "more words " * 6) for i in range(60)]
    scene.save(home)
    with Profile.open(home) as profile:  # Ana read up to report 19 when she last had the app open
        profile.store.set_local("read:" + GENERAL.hex(), posts[19].clock.to_bytes(8, "big", signed=True))

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        messages = chat(pilot).messages
        keys = [row.key for row in messages.rows]
        marker = keys.index(("new", "unread"))
        assert keys[marker + 1] == ("msg", posts[20].id)  # the line sits above the first unread message
        assert not messages.at_newest  # the view opens where the person left, not at the end
        visible = [m.text for m in messages.visible_messages()]
        assert visible[0].startswith("report 20") or visible[0].startswith("report 19")
        await pilot.press("up", "end")  # read to the end: the room is read
        await until(pilot, lambda: messages.at_newest)

    drive(MeshchatApp(home), script)


def test_an_at_mention_is_marked_and_rings(scene: Scene, home: Path) -> None:
    scene.post(scene.bo, "Morning all")
    scene.save(home)
    app = MeshchatApp(home)
    app.clock = lambda: scene.clock  # the scene's time: what arrives is recent

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        bells = app.bells
        scene.post(scene.bo, "@ana can you check the pump at km 4?")
        scene.post(scene.cy, "ana is on her way")  # the name, but no @mention
        scene.deliver(home)
        messages = chat(pilot).messages
        await until(pilot, lambda: any("ana is on her way" in t for t in messages.message_texts()), "the posts")
        await until(pilot, lambda: "Bo mentioned you in #general" in [n.title for n in app._notifications])
        assert app.bells == bells + 1
        assert app.desktop_notifications[-1] == ("Bo mentioned you in #general", "@ana can you check the pump at km 4?")
        looks = {r.visual.msg.text: r.visual.look for r in messages.rows if isinstance(r.visual, MessageVisual)}
        assert looks["@ana can you check the pump at km 4?"].mentions_me
        assert not looks["ana is on her way"].mentions_me and not looks["Morning all"].mentions_me
        mark = next(r for r in messages.rows if r.message and r.message.text.startswith("@ana"))
        assert "@ " in mark.visual.render_strips(80, None, messages.get_visual_style(), _options(messages))[0].text

    drive(app, script)


def _options(widget: object) -> object:
    from textual.visual import RenderOptions

    return RenderOptions(widget._get_style, widget.styles)  # type: ignore[attr-defined]


def test_the_pinned_messages_of_a_room(scene: Scene, home: Path) -> None:
    scene.write(scene.ana, "room.create", room=LOGISTICS, name="logistics", topic="")
    first = scene.post(scene.bo, "Staging at the school gym")
    scene.post(scene.cy, "ok")
    second = scene.post(scene.cy, "Diesel for 6 hours")
    elsewhere = scene.post(scene.cy, "Fuel truck requested", room=LOGISTICS)
    for target in (first, second, elsewhere):
        scene.write(scene.bo, "msg.pin", target=target.id)
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        assert "◆ 2 pinned (ctrl+t)" in str(pilot.app.screen.query_one("#room-header").render())
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(pilot.app.screen, PinnedScreen), "the pins")
        pins = pilot.app.screen
        assert isinstance(pins, PinnedScreen)
        assert [m.text for m in pins.pins] == ["Diesel for 6 hours", "Staging at the school gym"]  # newest first
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        selected = chat(pilot).messages.selected_message
        assert selected is not None and selected.text == "Staging at the school gym"

    drive(MeshchatApp(home), script)
