"""Two nodes on loopback, each with its app: a message typed in one appears in the other.

Ana's app listens on 127.0.0.1 (port 0); she makes an invite on the peers screen (i, Enter) and saves it to a file
(w). Dee starts the app on an empty home, pastes the whole ``meshchat join CODE`` line as a terminal copies it from
the invite box (over several lines) and types her name: her node dials the address in the code, Ana's node admits
her, and from then on what either types reaches the other. A second newcomer's invite is revoked before she joins:
her app says plainly that the team refused it, why, and what to do (issue 14.4).

trio allows one run per thread (a guest run holds the thread's run context), so Dee's app runs in a thread of
its own, with its own asyncio loop and its own trio guest run, as it would in another process.
"""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import trio
from textual import events
from textual.pilot import Pilot
from tui_helpers import drive, type_text, until
from tui_scene import Scene

from meshchat.events import PeerStatus
from meshchat.invites import InviteCode
from meshchat.node import NodeConfig
from meshchat.testing import loopback_config, running_node
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
        as_copied = "\n".join(textwrap.wrap(invite[0], 40))  # the box wraps the line; a terminal copies its lines
        pilot.app.screen.query_one("#invite-code").post_message(events.Paste(as_copied))
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
        assert shown_code.line == f"meshchat join {code}"
        await pilot.press("w")  # saved to a file only Ana can read
        assert shown_code.saved is not None and shown_code.saved.read_text() == shown_code.line + "\n"
        assert shown_code.saved.stat().st_mode & 0o777 == 0o600
        invite.append(shown_code.line)
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


def test_a_refused_invite_is_said_plainly_with_why_and_what_to_do(tmp_path: Path) -> None:
    Scene().save(tmp_path / "ana")
    code: list[str] = []
    ready, stop = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def run_ana() -> None:
        async def main() -> None:
            async with running_node(tmp_path / "ana", loopback_config()) as node:
                made = await node.create_invite("member")
                await node.revoke_invite(InviteCode.decode(made).invite_public_key.hex()[:8])
                code.append(made)
                ready.set()
                await trio.to_thread.run_sync(stop.wait)  # until the app's side is done

        try:
            trio.run(main)
        except BaseException as exc:
            failures.append(exc)
            ready.set()

    async def eve_side(pilot: Pilot[int]) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, WelcomeScreen), "the welcome screen")
        pilot.app.screen.query_one("#invite-code").focus()
        pilot.app.screen.query_one("#invite-code").post_message(events.Paste(code[0]))
        await pilot.pause()
        await pilot.press("enter")
        await type_text(pilot, "Eve")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat")
        banner = pilot.app.screen.query_one("#notice-banner")
        await until(pilot, lambda: banner.display, "the refusal", timeout=15)
        text = str(banner.render())
        assert "refused your invite" in text and "revoked" in text and "ask an admin" in text
        assert "refused" in str(pilot.app.screen.query_one("#room-header").render())
        await pilot.press("f4")  # every screen says it
        await until(pilot, lambda: pilot.app.screen.query_one("#notice-banner").display)

    thread = threading.Thread(target=run_ana, name="ana's node")
    thread.start()
    try:
        ready.wait(timeout=30)
        if failures:
            raise failures[0]
        drive(MeshchatApp(tmp_path / "eve", config=loopback_config(listen=None)), eve_side)

        async def reopened(pilot: Pilot[int]) -> None:  # and again the next time the app opens
            await until(pilot, lambda: isinstance(pilot.app.screen, ChatScreen), "the chat")
            assert pilot.app.screen.query_one("#notice-banner").display

        drive(MeshchatApp(tmp_path / "eve"), reopened)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not failures
