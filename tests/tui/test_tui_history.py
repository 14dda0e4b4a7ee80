"""Issue 14, points 3 and 11: big rooms read a page at a time and only when the person goes there; long
messages fold and can be read to their end by keyboard; a resize keeps the view at the newest message."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
from tui_scene import Scene

from meshchat.store.queries import Views
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.widgets.chat.message_list import MessageList
from tui.widgets.chat.message_view import FOLD_LINES
from tui.widgets.chat.room_window import CAP, PAGE


def messages_of(pilot: Pilot[int]) -> MessageList:
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    return screen.messages


def screen_text(pilot: Pilot[int]) -> str:
    """What the message list shows on screen, as text."""
    messages = messages_of(pilot)
    return "\n".join(messages.render_line(y).text for y in range(messages.scrollable_content_region.height))


def test_a_long_room_reads_a_page_only_where_the_person_goes(scene: Scene, home: Path) -> None:
    total = CAP + 3 * PAGE + 10
    for i in range(total):
        scene.post([scene.bo, scene.cy][i % 2], f"report {i}", seconds=7)
    scene.save(home)
    reads: list[int] = []

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        messages = messages_of(pilot)
        source = messages.source
        original = source.messages

        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            found = original(*args, **kwargs)
            reads.append(len(found))
            return found

        source.messages = counted  # type: ignore[method-assign]
        assert len(messages.window) == PAGE and messages.window.messages[-1].text == f"report {total - 1}"
        await pilot.press("up")  # into the list: nothing read
        assert reads == []
        for _ in range(PAGE):  # a screen at a time up through the first page, until the next one is read
            await pilot.press("pageup")
            if len(messages.window) > PAGE:
                break
        await pilot.pause()
        assert len(messages.window) == 2 * PAGE and sum(reads) == PAGE, reads  # one page, no chain
        selected = messages.selected_message
        assert selected is not None and selected in messages.visible_messages()
        await pilot.press("up")
        assert messages.selected_message is not None and messages.selected_message.clock < selected.clock
        await pilot.press("home")  # the first message of the room, without reading what lies between
        assert messages.selected_message is not None and messages.selected_message.text == "report 0"
        assert len(messages.window) <= CAP and messages.window.at_start and not messages.window.at_end
        for _ in range(15):
            await pilot.press("pagedown")  # down again, a page at a time; the window never passes its cap
            assert len(messages.window) <= CAP
        await pilot.press("end")
        assert messages.selected_message is not None
        assert messages.selected_message.text == f"report {total - 1}" and messages.at_newest
        await pilot.press("home", "escape")  # far up in history, back to writing: my post brings me down
        await type_text(pilot, "still here")
        await pilot.press("enter")
        await until(pilot, lambda: messages.at_newest and "still here" in messages.message_texts()[-1], "my post")

    drive(MeshchatApp(home), script)
    assert max(reads) <= CAP


def test_a_long_message_folds_and_is_read_to_its_end_by_keyboard(scene: Scene, home: Path) -> None:
    words = " ".join(f"w{i}" for i in range(900))  # ~5,000 characters
    scene.post(scene.bo, f"START {words} FINISH")
    scene.post(scene.cy, "after the long one")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        messages = messages_of(pilot)
        long_row = next(r for r in messages.rows if r.message and r.message.text.startswith("START"))
        assert long_row.height == FOLD_LINES + 1  # folded: its first lines and "show more"
        assert "more lines" in screen_text(pilot) and "FINISH" not in screen_text(pilot)
        await pilot.press("up", "up", "right")  # select it, unfold
        long_row = next(r for r in messages.rows if r.message and r.message.text.startswith("START"))
        assert long_row.height > messages.scrollable_content_region.height  # taller than the screen
        assert "START" in screen_text(pilot)
        for _ in range(30):
            if "FINISH" in screen_text(pilot):
                break
            await pilot.press("down")  # reads on through the message, the selection stays on it
            assert messages.selected_message is not None
            assert messages.selected_message.text.startswith("START")
        assert "FINISH" in screen_text(pilot)
        await pilot.press("down")
        assert messages.selected_message is not None and messages.selected_message.text == "after the long one"
        await pilot.press("up", "pageup", "pageup", "pageup", "pageup")
        assert "START" in screen_text(pilot)
        await pilot.press("left")  # fold it again
        assert "more lines" in screen_text(pilot)

    drive(MeshchatApp(home), script)


def test_after_a_resize_the_view_stays_at_the_newest_message(scene: Scene, home: Path) -> None:
    for i in range(80):
        scene.post([scene.bo, scene.cy][i % 2], f"line {i} " + "word " * (i % 13))
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        messages = messages_of(pilot)
        assert messages.at_newest
        for size in ((60, 20), (120, 40), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            await until(pilot, lambda: messages.at_newest, f"the newest message at {size}")
            assert "line 79" in screen_text(pilot)

    drive(MeshchatApp(home), script)


def test_replies_to_messages_far_back_are_read_in_one_pass(
    scene: Scene, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The messages replies answer are read with the window, in one pass over the room: entries are not indexed
    by id, and a lookup per reply would scan the whole log each time."""
    old = [scene.post(scene.bo, f"question {i}", seconds=5) for i in range(PAGE)]
    for i in range(PAGE):
        scene.post(scene.cy, f"answer {i}", reply_to=old[i].id, seconds=5)
    scene.save(home)
    lookups: list[object] = []
    original = Views.message
    monkeypatch.setattr(Views, "message", lambda self, ref: lookups.append(ref) or original(self, ref))

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        texts = messages_of(pilot).message_texts()
        assert any("↳ Bo: question 99" in t and "answer 99" in t for t in texts)
        assert lookups == []

    drive(MeshchatApp(home), script)
