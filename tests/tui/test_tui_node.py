"""How the app hosts the node: events folded into bursts, trio crashes surfaced, a long room read by pages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
from tui_scene import Scene

from meshchat.demo import LOOPBACK, NOTICE, create_demo_home, demo_companion
from meshchat.events import EntriesAdded, ForkDetected, MembershipChanged, NodeProblem, PeerInfo, SyncProgress
from meshchat.node import Node, NodeConfig
from tui.app import SWITCH_INTERVAL_S, MeshchatApp
from tui.changes import fold
from tui.screens.chat import ChatScreen
from tui.widgets.peers.peer_table import PeerTable


def test_a_burst_of_events_folds_into_one_change() -> None:
    room_a, room_b = b"a" * 16, b"b" * 16
    peer = PeerInfo("10.0.0.5:7000", "discovery")
    changes = fold(
        [
            EntriesAdded(3, frozenset({"msg.post"}), frozenset({room_a}), frozenset({b"k"}), local=True),
            EntriesAdded(2, frozenset({"msg.ack"}), frozenset({room_b}), frozenset({b"j"}), local=False),
            MembershipChanged(),
            ForkDetected(b"j", 7),
            NodeProblem("the disk is full"),
            SyncProgress(peer, 10, 100, done=False),
            SyncProgress(peer, 60, 100, done=False),
        ]
    )
    assert changes.entries == 5 and changes.rooms == {room_a, room_b} and changes.remote
    assert changes.messages and changes.membership and changes.peers
    assert changes.touches_room(b"c" * 16)  # an ack may concern any room's message
    assert [f.seq for f in changes.forks] == [7] and changes.problems == ("the disk is full",)
    assert changes.sync["10.0.0.5:7000"].received == 60  # the latest progress wins
    quiet = fold([EntriesAdded(1, frozenset({"incident.update"}), frozenset(), frozenset({b"k"}), local=True)])
    assert quiet.incidents and not quiet.messages and not quiet.touches_room(room_a)


def test_a_crash_on_the_trio_side_ends_the_app_with_the_error(
    scene: Scene, home: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    scene.save(home)

    async def crash(node: Node) -> None:
        raise RuntimeError("the radio caught fire")

    app = MeshchatApp(home, companions=[crash])

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: not pilot.app.is_running or pilot.app._exit, "the app to stop")

    drive(app, script)
    assert app.return_code == 1
    err = capfd.readouterr().err
    assert "the node stopped with an error" in err and "RuntimeError: the radio caught fire" in err


def test_quitting_cancels_the_node_and_closes_the_store(scene: Scene, home: Path) -> None:
    scene.save(home)
    app = MeshchatApp(home)
    seen: list[Node] = []

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        seen.append(app.node)

    drive(app, script)
    assert app.bridge is not None and not app.bridge.running
    assert app.return_code == 0
    try:
        seen[0].views.rooms()
    except Exception as exc:  # the connection is closed
        assert "closed" in str(exc)
    else:
        raise AssertionError("the store is still open after quitting")


def test_the_demo_shows_teammates_working_in_the_app(tmp_path: Path) -> None:
    team = create_demo_home(tmp_path / "you")

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        screen = pilot.app.screen
        assert isinstance(screen, ChatScreen)
        await until(pilot, lambda: any("FLASH" in t for t in screen.messages.message_texts()), "the demo's FLASH")
        await until(pilot, lambda: "Welcome" in [n.title for n in pilot.app._notifications])
        await pilot.press("ctrl+f")
        await type_text(pilot, "Leaving now")
        await pilot.press("enter")
        mine = lambda: [t for t in screen.messages.message_texts() if "Leaving now" in t]  # noqa: E731
        await until(pilot, lambda: mine() and "acked by all 2" in mine()[0], "both teammates' acks", timeout=10)
        await pilot.press("f4")
        table = pilot.app.screen.query_one(PeerTable)
        rows = lambda: sorted(" ".join(table.row_text(i)) for i in range(table.row_count))  # noqa: E731
        await until(pilot, lambda: len(rows()) == 2 and all(" live " in r for r in rows()), "both links live")
        assert rows()[0].startswith("Bo ") and "configured" in rows()[0]
        assert rows()[1].startswith("Cy ") and "dialled us" in rows()[1]

    config = NodeConfig(listen=(LOOPBACK, 0), discovery=False)  # as meshchat demo runs it
    drive(MeshchatApp(team.home, config=config, companions=[demo_companion(team, pace=0)], notice=NOTICE), script)


def test_the_app_hands_the_interpreter_lock_over_every_millisecond_while_it_runs(scene: Scene, home: Path) -> None:
    """A key or a frame waiting for the node's storing thread waits up to the switch interval: the app sets
    it to 1 ms while it runs (a catch-up's longest UI stall 31 -> 22 ms) and gives the process its own back."""
    scene.save(home)
    before = sys.getswitchinterval()
    assert before != SWITCH_INTERVAL_S  # Python's 5 ms, as the test process has it
    app = MeshchatApp(home)
    seen: list[float] = []

    async def script(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat")
        seen.append(sys.getswitchinterval())

    drive(app, script)
    assert seen == [SWITCH_INTERVAL_S]
    assert sys.getswitchinterval() == before
