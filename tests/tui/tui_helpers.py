"""Driving the app in tests: run it headless on asyncio (pytest-trio owns async tests, so these are sync
tests that start their own loop), and wait for what a person would wait for."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget

from tui.app import MeshchatApp
from tui.screens.incidents import IncidentsScreen

SIZE = (120, 40)
W = TypeVar("W", bound=Widget)


def drive(
    app: MeshchatApp,
    script: Callable[[Pilot[int]], Awaitable[None]],
    size: tuple[int, int] = SIZE,
    *,
    toasts: bool = False,
) -> None:
    """Run ``script`` against ``app`` in a headless terminal, then quit the app the way a person would.
    ``toasts``: draw toasts (Textual's test runs leave them out unless asked)."""

    async def main() -> None:
        async with app.run_test(size=size, notifications=toasts) as pilot:
            await script(pilot)
            await pilot.press("ctrl+q")

    asyncio.run(main())


async def until(pilot: Pilot[int], condition: Callable[[], object], what: str = "", timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds, letting the app (and the node on trio) run meanwhile: the Textual
    flavour of ``meshchat.testing.wait_until`` (the app runs on asyncio; each poll lets it process messages)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


async def type_text(pilot: Pilot[int], text: str) -> None:
    await pilot.press(*[_key(c) for c in text])


def _key(char: str) -> str:
    return {" ": "space", ".": "full_stop", ",": "comma", ":": "colon", "-": "minus", "!": "exclamation_mark"}.get(
        char, char
    )


async def burst(pilot: Pilot[int], keys: str | list[str]) -> None:
    """Keys as a fast typist or a paste sends them: all queued at once, as the terminal driver does, rather
    than one at a time with the app idle in between (``pilot.press``)."""
    from textual import events

    names = [_key(k) for k in keys] if isinstance(keys, str) else keys
    for name in names:
        char = {"space": " ", "full_stop": ".", "comma": ",", "colon": ":", "minus": "-"}.get(name, name)
        pilot.app.post_message(events.Key(name, char if len(char) == 1 else None))
    await pilot.pause()
    await pilot.pause()


def palette_offers(pilot: Pilot[int], words: str) -> bool:
    """Whether the command palette is open and one of the commands it offers names ``words``."""
    from textual.command import CommandList, CommandPalette

    screen = pilot.app.screen
    if not isinstance(screen, CommandPalette):
        return False
    commands = screen.query_one(CommandList)
    return any(words in str(option.prompt) for option in commands.options)


async def open_from_board(pilot: Pilot[int], key: str, form: type[Screen[Any]]) -> None:
    """F2 to the incident board, then ``key`` opens ``form`` there (n: a new incident, t: a task, e: update)."""
    await pilot.press("f2")
    await until(pilot, lambda: isinstance(pilot.app.screen, IncidentsScreen), "the board")
    await pilot.press(key)
    await until(pilot, lambda: isinstance(pilot.app.screen, form), form.__name__)
