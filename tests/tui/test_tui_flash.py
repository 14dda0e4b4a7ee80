"""Issue 14.5: a FLASH cannot be missed. A banner on every screen until it is acknowledged, the bell again at an
interval (faster once overdue), a desktop notification; the sender sees who has not acknowledged, and once the
deadline passes, who is silent and who is unreachable. Time is the app's clock, set by the test (no sleeps)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from tui_helpers import drive, until
from tui_scene import Scene

from meshchat.log.flash import FLASH_ACK_DEADLINE_MS
from tui.alarm import RING_EVERY_MS, RING_OVERDUE_EVERY_MS
from tui.app import MeshchatApp
from tui.format import clock_time
from tui.screens.chat import ChatScreen
from tui.screens.checkins import CheckinsScreen


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def banner(pilot: Pilot[int]) -> str:
    widget = pilot.app.screen.query_one("#flash-banner")
    return str(widget.render()) if widget.display else ""


async def at(pilot: Pilot[int], clock: Clock, now: int) -> None:
    """Move the app's time to ``now`` and let the alarm look at it."""
    app = pilot.app
    assert isinstance(app, MeshchatApp)
    clock.now = now
    app.watch_flashes()
    await pilot.pause()


def test_a_flash_keeps_a_banner_on_every_screen_and_rings_until_acknowledged(scene: Scene, home: Path) -> None:
    scene.save(home)
    app = MeshchatApp(home)
    clock = Clock(scene.clock)
    app.clock = clock

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        assert banner(pilot) == "" and app.bells == 0
        flash = scene.post(scene.bo, "Dam gate 2 failing: leave the valley floor", flash=True)
        clock.now = flash.clock + 1000
        scene.deliver(home)
        await until(pilot, lambda: "Dam gate 2 failing" in banner(pilot), "the banner")
        assert "FLASH" in banner(pilot) and "OVERDUE" not in banner(pilot) and "F3 then a" in banner(pilot)
        assert app.bells == 1
        assert app.desktop_notifications == [("FLASH from Bo", "Dam gate 2 failing: leave the valley floor")]
        for key in ("f2", "f4", "alt+1"):  # every screen (and alt+digit moves between them like the F-keys)
            await pilot.press(key)
            assert "Dam gate 2 failing" in banner(pilot), key
        await at(pilot, clock, clock.now + RING_EVERY_MS - 1)
        assert app.bells == 1
        await at(pilot, clock, clock.now + 1)  # the interval passed: it rings again
        assert app.bells == 2
        await at(pilot, clock, flash.clock + FLASH_ACK_DEADLINE_MS)  # overdue: it says so, rings faster
        assert "OVERDUE FLASH" in banner(pilot) and app.bells == 3
        assert app.desktop_notifications[-1][0] == "Overdue FLASH from Bo: acknowledge it"
        await at(pilot, clock, clock.now + RING_OVERDUE_EVERY_MS)
        assert app.bells == 4
        await pilot.press("alt+3")
        assert isinstance(pilot.app.screen, CheckinsScreen)
        await pilot.press("a")  # acknowledged: the banner goes, the bell stops
        await until(pilot, lambda: banner(pilot) == "", "the banner gone")
        await at(pilot, clock, clock.now + 10 * RING_EVERY_MS)
        assert app.bells == 4

    drive(app, script)


def test_the_sender_sees_who_is_silent_and_who_is_unreachable_once_overdue(scene: Scene, home: Path) -> None:
    cy_last = scene.post(scene.cy, "Cy checking in", seconds=60)  # Cy's last word: long before the FLASH
    flash = scene.post(scene.ana, "Evacuate sector 4 now", flash=True, seconds=11 * 60)
    scene.post(scene.bo, "Bo here, on the radio", seconds=120)  # Bo: heard from after it, no ack
    scene.save(home)
    app = MeshchatApp(home)
    clock = Clock(flash.clock + 60_000)
    app.clock = clock

    def flash_line(pilot: Pilot[int]) -> str:
        screen = pilot.app.screen
        assert isinstance(screen, ChatScreen)
        return next(t for t in screen.messages.message_texts() if "Evacuate sector 4" in t)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await until(pilot, lambda: "waiting for Bo, Cy" in flash_line(pilot), "who has not acknowledged")
        assert "0 of 2 acked" in flash_line(pilot) and banner(pilot) == ""
        assert app.bells == 0  # the sender's own FLASH does not ring for them
        await at(pilot, clock, flash.clock + FLASH_ACK_DEADLINE_MS)
        await until(pilot, lambda: "overdue" in flash_line(pilot), "the overdue line")
        assert "silent: Bo" in flash_line(pilot) and "unreachable: Cy" in flash_line(pilot)
        text = banner(pilot)
        assert "Your FLASH" in text and "is overdue" in text and "silent: Bo" in text
        assert f"unreachable: Cy (last wrote {clock_time(cy_last.clock)}, their newest entry here)" in text
        assert app.desktop_notifications[-1][0] == "Your FLASH is overdue" and app.bells == 1
        await pilot.press("f3")  # the check-ins screen lists it with who is silent and who is unreachable
        sent = str(pilot.app.screen.query_one("#sent-flashes").render())
        assert "OVERDUE" in sent and "Bo (silent)" in sent and "Cy (unreachable, last wrote" in sent
        await pilot.press("f4")
        assert "Your FLASH" in banner(pilot)  # on every screen
        scene.write(scene.bo, "msg.ack", target=flash.id)
        scene.write(scene.cy, "msg.ack", target=flash.id)
        scene.deliver(home)
        await until(pilot, lambda: banner(pilot) == "", "everyone acknowledged")

    drive(app, script)
