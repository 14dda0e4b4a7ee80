"""What a person sees: the main screen, the incident board and the peers screen, pixel for pixel, at 120x40
and (main screen, board) at 60x20, and a form at 40 rows.

Deterministic: fixed keys and clocks (``tui_scene``), the time zone pinned to UTC, the cursor not blinking,
and peers given as fixed statuses (networking reports real ones). Update after an intended change with
``pytest tests/tui/test_tui_snapshots.py --snapshot-update`` and look at the SVGs before committing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from tui_helpers import SIZE, until
from tui_scene import LOGISTICS, START, Scene

from meshchat.events import PeerInfo, PeerStatus, SyncProgress
from meshchat.node import Node
from tui.app import MeshchatApp
from tui.screens.base import AreaScreen
from tui.screens.chat import ChatScreen

SnapCompare = Callable[..., bool]
INCIDENT = bytes.fromhex("33" * 16)
SMALL_INCIDENT = bytes.fromhex("55" * 16)


def busy_morning(scene: Scene) -> Scene:
    s = scene
    s.write(s.ana, "room.create", room=LOGISTICS, name="logistics", topic="Fuel, food, transport")
    s.post(s.bo, "Morning all. At the north levee staging area: water 40 cm below the crest, rising.")
    s.post(s.cy, "Copy. Pump truck and 200 sandbags on the way, ETA 15 min.")
    s.post(s.cy, "Two more volunteers with me.")
    flash = s.post(s.bo, "Seepage at km 4 is growing fast. Everyone off the levee crest NOW.", flash=True)
    s.write(s.cy, "msg.ack", target=flash.id)
    s.post(s.cy, "Off the crest, team of 4 at the pump truck.", reply_to=flash.id)
    thanks = s.post(s.ana, "Thanks all. Regroup at the school gym, hot food from 13:00.")
    s.write(s.ana, "msg.pin", target=thanks.id)
    oops = s.post(s.bo, "wrong room, sorry")
    s.write(s.bo, "msg.retract", target=oops.id)
    s.post(s.cy, "Diesel for the pumps lasts about 6 hours.", room=LOGISTICS)
    s.post(s.bo, "Fire station lends us 200 litres.", room=LOGISTICS)
    s.write(
        s.bo,
        "incident.open",
        incident=INCIDENT,
        title="Seepage at levee km 4",
        severity=2,
        location={"text": "north levee, km 4"},
    )
    s.write(s.cy, "incident.update", incident=INCIDENT, fields={"status": "active", "commander": "Bo"})
    s.write(
        s.bo,
        "task.open",
        task=bytes.fromhex("66" * 16),
        title="Sandbag ring around the boil",
        owner=s.cy.key,
        incident=INCIDENT,
    )
    s.write(
        s.ana,
        "task.open",
        task=bytes.fromhex("77" * 16),
        title="Close the levee road",
        owner=s.bo.key,
        incident=INCIDENT,
    )
    s.write(s.bo, "task.update", task=bytes.fromhex("77" * 16), fields={"status": "done"})
    s.write(s.bo, "incident.update", incident=INCIDENT, fields={"severity": 1, "summary": "Boil 2 m from the toe."})
    s.write(s.cy, "incident.open", incident=SMALL_INCIDENT, title="Road 12 flooded at the bridge", severity=4)
    s.write(s.cy, "incident.update", incident=SMALL_INCIDENT, fields={"status": "contained"})
    return s


async def settle(pilot: Pilot[int]) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, AreaScreen))
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def test_main_screen(snap_compare: SnapCompare, scene: Scene, home: Path) -> None:
    busy_morning(scene).save(home)

    async def run_before(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await settle(pilot)

    assert snap_compare(MeshchatApp(home), terminal_size=SIZE, run_before=run_before)


NARROW = (60, 20)


def test_main_screen_narrow(snap_compare: SnapCompare, scene: Scene, home: Path) -> None:
    """60x20: the room list folded away, the text column as wide as the terminal."""
    busy_morning(scene).save(home)

    async def run_before(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await settle(pilot)

    assert snap_compare(MeshchatApp(home), terminal_size=NARROW, run_before=run_before)


def test_incident_board_narrow(snap_compare: SnapCompare, scene: Scene, home: Path) -> None:
    """60x20: the board above the incident's details."""
    busy_morning(scene).save(home)

    async def run_before(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("f2")
        await settle(pilot)

    assert snap_compare(MeshchatApp(home), terminal_size=NARROW, run_before=run_before)


def test_update_form_at_40_rows(snap_compare: SnapCompare, scene: Scene, home: Path) -> None:
    """Every field of an incident, one line each, and the Save button in view."""
    busy_morning(scene).save(home)

    async def run_before(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("f2", "e")
        await until(pilot, lambda: pilot.app.screen.__class__.__name__ == "IncidentForm")
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    assert snap_compare(MeshchatApp(home), terminal_size=SIZE, run_before=run_before)


def test_incident_board(snap_compare: SnapCompare, scene: Scene, home: Path) -> None:
    busy_morning(scene).save(home)

    async def run_before(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("f2")
        await settle(pilot)

    assert snap_compare(MeshchatApp(home), terminal_size=SIZE, run_before=run_before)


def test_peers_screen_with_a_fork(
    snap_compare: SnapCompare, scene: Scene, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_morning(scene)
    scene.fork(scene.cy, "a different history")
    scene.save(home)
    synced = START + 3_600_000
    bo = PeerInfo("192.168.1.23:7411", "discovery", scene.bo.key)
    cy = PeerInfo("10.8.0.4:7411", "static", scene.cy.key)
    peers = [
        PeerStatus(bo, "live", entries_in=1_204, entries_out=311, last_sync_ms=synced),
        PeerStatus(cy, "syncing", entries_in=340, entries_out=12, last_sync_ms=synced - 600_000),
        PeerStatus(PeerInfo("10.8.0.9:7411", "static"), "backoff", error="connection refused"),
    ]
    monkeypatch.setattr(Node, "peers", lambda self: peers)
    listening = [("0.0.0.0", 7766)]  # noqa: S104 (shown, not bound)
    monkeypatch.setattr(Node, "listen_addresses", property(lambda self: listening))

    async def run_before(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        app = pilot.app
        assert isinstance(app, MeshchatApp)
        app.sync[cy.address] = SyncProgress(cy, 340, 1000, done=False)
        await pilot.press("f4")
        await settle(pilot)

    assert snap_compare(MeshchatApp(home), terminal_size=SIZE, run_before=run_before)


def test_fork_alert_appears_while_running(scene: Scene, home: Path) -> None:
    from tui_helpers import drive

    scene.post(scene.cy, "first version")
    scene.save(home)

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        banner = pilot.app.screen.query_one("#fork-banner")
        assert not banner.display
        scene.fork(scene.cy, "second version")
        scene.post(scene.bo, "anything new wakes the watcher")
        scene.deliver(home)
        await until(pilot, lambda: banner.display, "the fork banner")
        assert "FORK: Cy signed two different entries" in str(banner.render())
        assert "FORK DETECTED" in [n.title for n in pilot.app._notifications]
        await pilot.press("f4")
        await until(pilot, lambda: pilot.app.screen.query_one("#fork-banner").display)

    drive(MeshchatApp(home), script)
