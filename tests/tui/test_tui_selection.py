"""Issue 14, points 1 and 2: the selection stays on the message the person chose, and typing never acts.

Reply, acknowledge, pin and retract act on the selected message, so it must not move by itself: not when
messages arrive, not after the person's own acknowledgement or pin, not at the ends of the list. And a
person typing while the list has focus writes a message: actions happen only in the act mode (Enter), which
is shown and ends after one action.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
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


def selected_text(pilot: Pilot[int]) -> str | None:
    message = chat(pilot).messages.selected_message
    return message.text if message else None


def test_the_selection_stays_while_messages_arrive(scene: Scene, home: Path) -> None:
    for i in range(6):
        scene.post([scene.bo, scene.cy][i % 2], f"report {i}")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("up", "up", "up")  # into the list (the newest), then two up
        assert selected_text(pilot) == "report 3"
        for i in range(3):
            scene.post(scene.bo, f"arrived {i}")
        scene.deliver(home)
        messages = chat(pilot).messages
        await until(pilot, lambda: any("arrived 2" in t for t in messages.message_texts()), "the new messages")
        assert selected_text(pilot) == "report 3"
        assert messages.selected_message in messages.visible_messages()
        await pilot.press("down")
        assert selected_text(pilot) == "report 4"  # moves from where it was, not from the newest

    drive(MeshchatApp(home), script)


def test_the_selection_stays_after_my_own_ack_and_pin(scene: Scene, home: Path) -> None:
    flash = scene.post(scene.bo, "Off the levee crest NOW", flash=True)
    scene.post(scene.cy, "Moving")
    scene.post(scene.cy, "Team of 4 at the pump truck")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("up", "up", "up")
        assert selected_text(pilot) == "Off the levee crest NOW"
        await pilot.press("enter", "a")
        messages = chat(pilot).messages
        await until(pilot, lambda: any("✓ 1 of 2 acked" in t for t in messages.message_texts()), "the ack")
        assert selected_text(pilot) == "Off the levee crest NOW"
        await pilot.press("enter", "p")
        await until(pilot, lambda: any("crest NOW" in t and "pinned" in t for t in messages.message_texts()))
        assert selected_text(pilot) == "Off the levee crest NOW"
        await pilot.press("enter", "r")  # the reply answers the FLASH, the message the person chose
        assert isinstance(pilot.app.focused, ComposerInput)
        await type_text(pilot, "Off the crest")
        await pilot.press("enter")
        await until(pilot, lambda: any("Off the crest" in t for t in messages.message_texts()), "the reply")

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        reply = profile.views.messages(GENERAL)[-1]
        assert reply.text == "Off the crest" and reply.reply_to == flash.id
        assert profile.views.pinned() == [flash.id]


def test_down_on_the_newest_message_does_not_wrap(scene: Scene, home: Path) -> None:
    for i in range(4):
        scene.post(scene.bo, f"report {i}")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("up")
        assert selected_text(pilot) == "report 3"
        await pilot.press("down", "down")
        assert selected_text(pilot) == "report 3"
        await pilot.press("up", "up", "up", "up", "up", "up")
        assert selected_text(pilot) == "report 0"  # and up on the first stays too

    drive(MeshchatApp(home), script)


def test_typed_letters_never_act(scene: Scene, home: Path) -> None:
    scene.post(scene.bo, "Off the levee crest NOW", flash=True)
    scene.post(scene.cy, "Anyone at the bridge?")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("up", "up")  # the FLASH is selected: a, r, p, x, t would each act on it
        assert isinstance(pilot.app.focused, MessageList)
        assert selected_text(pilot) == "Off the levee crest NOW"
        await type_text(pilot, "pump at the bridge, i think: x-ray team ready")
        assert isinstance(pilot.app.focused, ComposerInput)
        assert chat(pilot).composer.input.value == "pump at the bridge, i think: x-ray team ready"
        assert not pilot.app.screen.query_one("#room-header").has_class("-acting")
        await pilot.press("ctrl+u", "up")
        assert isinstance(pilot.app.focused, MessageList)
        await pilot.press("enter")  # act mode: shown, with what this person may do to the FLASH
        line = pilot.app.screen.query_one("#room-header")  # the room's line becomes the action bar
        assert line.has_class("-acting") and "a acknowledge" in str(line.render())
        assert chat(pilot).messages.acting
        await pilot.press("escape")  # leaves act mode; typing writes again
        assert not line.has_class("-acting") and not chat(pilot).messages.acting
        assert str(line.render()).startswith("# general")
        await type_text(pilot, "all clear")
        assert chat(pilot).composer.input.value == "all clear"

    drive(MeshchatApp(home), script)
    with Profile.open(home) as profile:
        assert [m.text for m in profile.views.messages(GENERAL)][-1] == "Anyone at the bridge?"
        assert profile.views.pinned() == [] and profile.views.tasks() == []
        assert len(profile.views.unacknowledged(profile.me)) == 1
