"""The UI stays live while a large catch-up is stored: the node's writes (a peer's batches and our own posts)
are made by its one writer in a worker thread (meshchat.writer), never on the thread that draws and reads keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import events
from textual.pilot import Pilot
from tui_helpers import drive, until

from meshchat.profile import Profile
from meshchat.testing import loopback_config, node_process
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen

RESPONSIVE_S = 0.1  # a person notices a key that takes longer than this to show
TEXT = "pump truck at km four"


class LoopStalls:
    """The longest the asyncio loop (Textual's, with trio as its guest) went without running a task that
    asked to wake every 5 ms: the longest any key or frame had to wait."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.005)  # real time is what is measured: how late the loop wakes us
            self.longest = max(self.longest, loop.time() - before - 0.005)


def test_keys_show_at_once_and_a_post_goes_out_during_a_100k_catch_up(catch_up: tuple[Path, Path]) -> None:
    """A newcomer's app catches up 100,000 entries from a node in another process; meanwhile each key typed
    shows in the composer within 100 ms, the loop never stalls longer, and Enter posts the text."""
    source_home, home = catch_up
    with Profile.open(source_home) as source:
        total = source.store.count()
    latencies: list[float] = []
    stalls = LoopStalls()
    held_after_typing: list[int] = []

    with node_process(source_home) as source_node:
        port = source_node.wait_listening()
        app = MeshchatApp(home, config=loopback_config((("127.0.0.1", port),), listen=None))

        async def script(pilot: Pilot[int]) -> None:
            loop = asyncio.get_running_loop()
            await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat", timeout=30)
            screen = pilot.app.screen
            assert isinstance(screen, ChatScreen)
            composer = screen.composer.input
            store = app.node.profile.store
            await until(pilot, lambda: store.count() > total // 10, "the catch-up under way", timeout=60)
            watch = asyncio.create_task(stalls.watch())
            for typed, char in enumerate(TEXT, start=1):
                sent = loop.time()
                name = "space" if char == " " else char
                pilot.app.post_message(events.Key(name, char))  # as the terminal driver delivers a key
                while composer.value != TEXT[:typed]:
                    assert loop.time() - sent < 5, f"the key {char!r} never showed"
                    await asyncio.sleep(0.001)  # real time: the key's latency, to the millisecond
                latencies.append(loop.time() - sent)
                await asyncio.sleep(0.02)  # a fast typist: ~40 keys a second
            held_after_typing.append(store.count())
            pilot.app.post_message(events.Key("enter", "\r"))
            await until(pilot, lambda: composer.value == "", "the post to go out", timeout=30)
            watch.cancel()
            await until(pilot, lambda: store.count() >= total + 1, "the catch-up and the post", timeout=120)

        drive(app, script)

    assert held_after_typing[0] < total, "the keys were typed while the catch-up ran"
    assert max(latencies) < RESPONSIVE_S, f"a key took {max(latencies) * 1000:.0f} ms to show"
    assert stalls.longest < RESPONSIVE_S, f"the loop stalled {stalls.longest * 1000:.0f} ms"
    with Profile.open(home) as profile:
        general = profile.room("general").room
        assert TEXT in [m.text for m in profile.views.messages(general)], "the post was stored"
