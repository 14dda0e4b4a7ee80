"""Two nodes on loopback, each with its app: a message typed in one appears in the other.

Ana's app listens on 127.0.0.1 (port 0); she makes an invite on the peers screen (i, Enter). Dee starts the app on an
empty home, pastes the code on the welcome screen and types her name: her node dials the address in the code,
Ana's node admits her (it holds the invite and her join), and from then on what either types reaches the other.

trio allows one run per thread (a guest run holds the thread's run context), so Dee's app runs in a thread of
its own, with its own asyncio loop and its own trio guest run, as it would in another process.
"""

from __future__ import annotations

import threading
from pathlib import Path

from textual import events
from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
from tui_scene import Scene

from meshchat.events import PeerStatus
from meshchat.invites import InviteCode
from meshchat.node import NodeConfig
from tui.app import MeshchatApp
from tui.screens.chat import ChatScreen
from tui.screens.forms import InviteCodeForm, InviteForm
from tui.screens.welcome import WelcomeScreen
from tui.widgets.peers.peer_table import PeerTable

LOOPBACK = NodeConfig(listen=("127.0.0.1", 0), discovery=False)


def shown(pilot: Pilot[int]) -> list[str]:
    screen = pilot.app.screen
    return screen.messages.message_texts() if isinstance(screen, ChatScreen) else []


def peer_rows(pilot: Pilot[int]) -> list[str]:
    table = pilot.app.screen.query_one(PeerTable)
    return [" ".join(table.row_text(i)) for i in range(table.row_count)]


def test_an_invited_teammate_joins_and_messages_typed_in_one_app_appear_in_the_other(tmp_path: Path) -> None:
    Scene().save(tmp_path / "ana")
    ana = MeshchatApp(tmp_path / "ana", config=LOOPBACK)
    dee = MeshchatApp(tmp_path / "dee", config=LOOPBACK)
    invite: list[str] = []
    code_ready, finished = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    dee_peers: list[PeerStatus] = []

    async def dee_side(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, WelcomeScreen), "the welcome screen")
        pilot.app.screen.query_one("#invite-code").focus()
        pilot.app.screen.query_one("#invite-code").post_message(events.Paste(invite[0]))  # as a terminal pastes
        await pilot.pause()
        await pilot.press("enter")
        await type_text(pilot, "Dee")
        await pilot.press("enter")
        await until(pilot, lambda: any("Levee ok" in t for t in shown(pilot)), "Ana's message", timeout=30)
        dee_peers.extend(dee.node.peers())
        await type_text(pilot, "Copy, Dee")
        await pilot.press("enter")
        await until(pilot, finished.is_set, "Ana to see the answer", timeout=30)

    def run_dee() -> None:
        try:
            code_ready.wait(timeout=30)
            drive(dee, dee_side)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            finished.set()

    async def ana_side(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await pilot.press("f4", "i")  # the peers screen makes invites
        await until(pilot, lambda: isinstance(pilot.app.screen, InviteForm), "the invite form")
        await pilot.press("enter")  # as a member
        await until(pilot, lambda: isinstance(pilot.app.screen, InviteCodeForm), "the code")
        shown_code = pilot.app.screen
        assert isinstance(shown_code, InviteCodeForm)
        code = shown_code.code
        assert InviteCode.decode(code).addresses == (f"127.0.0.1:{ana.node.listen_addresses[0][1]}",)
        invite.append(code)
        await pilot.press("escape", "f1")
        code_ready.set()
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen))
        await type_text(pilot, "Levee ok")
        await pilot.press("enter")
        await until(pilot, lambda: any("Copy, Dee" in t for t in shown(pilot)) or bool(failures), timeout=30)
        assert not failures
        await pilot.press("f4")
        await until(pilot, lambda: any("Dee" in row and "live" in row for row in peer_rows(pilot)), "Dee's link")
        assert any("dialled us" in row for row in peer_rows(pilot))
        finished.set()

    thread = threading.Thread(target=run_dee, name="dee's app")
    thread.start()
    try:
        drive(ana, ana_side)
    finally:
        code_ready.set()
        finished.set()
        thread.join(timeout=30)
    if failures:
        raise failures[0]
    assert not thread.is_alive()
    [ana_link] = dee_peers  # dialled from the address in the code
    assert ana_link.peer.found_by == "static" and ana_link.state == "live"
    assert ana_link.entries_in > 0 and ana_link.entries_out > 0
