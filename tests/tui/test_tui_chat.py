"""The chat, driven by keys as a person would: post, FLASH, acknowledge, reply, pin, retract, new room."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import drive, palette_offers, type_text, until
from tui_scene import GENERAL, Scene

from meshchat.profile import Profile
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.widgets.chat.composer import ComposerInput
from tui.widgets.chat.message_list import MessageList


def chat(pilot: Pilot[int]) -> ChatScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    return screen


def shown(pilot: Pilot[int]) -> list[str]:
    return chat(pilot).messages.message_texts()


def stored(home: Path) -> list[tuple[str, str, bool]]:
    with Profile.open(home) as profile:
        return [(m.text, m.priority, m.retracted) for m in profile.views.messages(GENERAL)]


def test_composer_has_focus_and_enter_posts(scene: Scene, home: Path) -> None:
    scene.post(scene.bo, "Arrived at staging, north levee")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat")
        assert isinstance(pilot.app.focused, ComposerInput)
        await type_text(pilot, "Pump truck at km 4")
        await pilot.press("enter")
        await until(pilot, lambda: any("Pump truck at km 4" in t for t in shown(pilot)), "the post on screen")
        assert chat(pilot).composer.input.value == ""

    drive(MeshchatApp(home), script)
    assert stored(home)[-1] == ("Pump truck at km 4", "routine", False)


def test_ctrl_f_marks_the_next_message_flash(scene: Scene, home: Path) -> None:
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("ctrl+f")
        assert chat(pilot).composer.flash
        await type_text(pilot, "Everyone off the crest")
        await pilot.press("enter")
        await until(pilot, lambda: any("FLASH" in t and "off the crest" in t for t in shown(pilot)), "a FLASH line")
        assert not chat(pilot).composer.flash  # one message only
        await type_text(pilot, "routine again")
        await pilot.press("enter")
        await until(pilot, lambda: any("routine again" in t for t in shown(pilot)))

    drive(MeshchatApp(home), script)
    assert stored(home)[-2:] == [("Everyone off the crest", "flash", False), ("routine again", "routine", False)]


def test_acknowledge_a_flash_from_the_message_list(scene: Scene, home: Path) -> None:
    flash = scene.post(scene.bo, "Seepage growing at km 4: off the levee now", flash=True)
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        status = str(pilot.app.screen.query_one("#status-flash").render())
        assert "1 FLASH to acknowledge" in status
        assert any("needs your ack" in t for t in shown(pilot))
        await pilot.press("up")  # from the empty composer into the messages, on the newest
        assert isinstance(pilot.app.focused, MessageList)
        await pilot.press("enter", "a")  # act mode, then acknowledge
        await until(pilot, lambda: any("✓ 1 of 2 acked" in t for t in shown(pilot)), "the ack on screen")
        await until(pilot, lambda: "FLASH" not in str(pilot.app.screen.query_one("#status-flash").render()))

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        assert profile.views.unacknowledged(profile.me) == []
        message = profile.views.message(flash.id)
        assert message is not None and message.acked_by == (profile.me,)


def test_reply_pin_and_retract(scene: Scene, home: Path) -> None:
    scene.post(scene.bo, "Need sandbags at the bridge")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("up", "enter", "r")  # reply to Bo's message
        assert isinstance(pilot.app.focused, ComposerInput)
        await type_text(pilot, "On my way")
        await pilot.press("enter")
        await until(pilot, lambda: any("↳ Bo: Need sandbags" in t for t in shown(pilot)), "the reply")
        await pilot.press("up", "enter", "p")  # pin my reply
        await until(pilot, lambda: any("On my way" in t and "pinned" in t for t in shown(pilot)), "the pin")
        await pilot.press("enter", "x")  # retract it: a confirmation first
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "ConfirmForm", "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: any("message retracted" in t for t in shown(pilot)), "the retraction")
        assert not any("On my way" in t for t in shown(pilot))

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        mine = profile.views.messages(GENERAL)[-1]
        assert mine.text == "On my way" and mine.retracted and mine.pinned
        assert mine.reply_to == profile.views.messages(GENERAL)[-2].id


def test_messages_from_a_peer_appear_and_count_as_unread(scene: Scene, home: Path) -> None:
    scene.write(scene.ana, "room.create", room=bytes(16), name="logistics", topic="")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        scene.post(scene.cy, "Generator fuel for 6 hours")
        scene.post(scene.cy, "Fuel truck requested", room=bytes(16))
        scene.post(scene.cy, "and water for 40 people", room=bytes(16))
        scene.deliver(home)  # another connection writes, as the network will
        await until(pilot, lambda: any("Generator fuel" in t for t in shown(pilot)), "the peer's message")
        rooms = chat(pilot).rooms
        await until(pilot, lambda: [e.unread for e in rooms.entries] == [0, 2], "unread counts")
        await pilot.press("ctrl+r", "down")  # the room list, next room: opens it
        await until(pilot, lambda: any("water for 40" in t for t in shown(pilot)), "the other room")
        await until(pilot, lambda: [e.unread for e in rooms.entries] == [0, 0], "read")

    drive(MeshchatApp(home), script)


def test_new_room(scene: Scene, home: Path) -> None:
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("ctrl+n")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "RoomForm")
        await type_text(pilot, "logistics")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await until(pilot, lambda: [e.room.name for e in chat(pilot).rooms.entries] == ["general", "logistics"])
        assert str(pilot.app.screen.query_one("#room-header").render()).startswith("# logistics")
        assert "No messages here yet" in chat(pilot).messages.rows[0].visual.plain  # type: ignore[attr-defined]

    drive(MeshchatApp(home), script)


def test_a_flash_or_roll_call_from_a_teammate_is_announced(scene: Scene, home: Path) -> None:
    scene.save(home)

    def titles(pilot: Pilot[int]) -> list[str]:
        return [n.title for n in pilot.app._notifications]

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        scene.post(scene.bo, "Dam gate 2 failing: leave the valley floor", flash=True)
        scene.write(scene.bo, "checkin.request", checkin=bytes(16), room=GENERAL, question="Are you safe?")
        scene.deliver(home)
        await until(pilot, lambda: "FLASH from Bo" in titles(pilot), "the FLASH toast")
        await until(pilot, lambda: "Roll call from Bo" in titles(pilot), "the roll call toast")
        await until(pilot, lambda: "1 FLASH" in str(pilot.app.screen.query_one("#status-flash").render()))

    drive(MeshchatApp(home), script)


def test_the_command_palette_opens_a_room(scene: Scene, home: Path) -> None:
    scene.write(scene.ana, "room.create", room=bytes(16), name="logistics", topic="Fuel, food, transport")
    scene.post(scene.cy, "Diesel for 6 hours", room=bytes(16))
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("f2")
        await pilot.press("ctrl+p")
        await type_text(pilot, "logistics")
        await until(pilot, lambda: palette_offers(pilot, "logistics"), "the palette to offer the room")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "back in the chat")
        await until(pilot, lambda: any("Diesel for 6 hours" in t for t in shown(pilot)), "the room")

    drive(MeshchatApp(home), script)


def test_a_relayed_post_is_shown_as_the_outsiders_never_as_the_bridges_member(scene: Scene, home: Path) -> None:
    """A TAK user's GeoChat, written by Bo's bridge: named by its callsign, marked TAK and "via Bo"; and a
    second outsider's post right after is not grouped under the first one's name."""
    scene.post(scene.bo, "Convoy at the bridge", via={"net": "tak", "uid": "ANDROID-7", "callsign": "ALPHA-1"})
    scene.post(scene.bo, "Road 12 closed", seconds=5, via={"net": "tak", "uid": "ANDROID-9", "callsign": "BRAVO"})
    scene.post(scene.bo, "Bo himself", seconds=5)
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: len(shown(pilot)) == 3, "three messages")
        first, second, own = shown(pilot)
        assert "⇄ALPHA-1" in first and " TAK  via Bo " in first and "Convoy at the bridge" in first
        assert "⇄BRAVO" in second and "via Bo" in second
        assert "Bo" in own and "TAK" not in own and "⇄" not in own

    drive(MeshchatApp(home), script)
