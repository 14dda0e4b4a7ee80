"""Peers and sync state: each peer's link, and any fork (an author who signed two histories)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from meshchat.invites import InviteCode
from tui.changes import Changes
from tui.format import plural, shown
from tui.screens.base import AreaScreen
from tui.screens.forms import InviteCodeForm, InviteForm
from tui.session import session
from tui.widgets.peers.peer_table import PeerTable
from tui.widgets.table import Rows

NO_PEERS = (
    "No peers yet. Teammates' laptops on the same network appear here by themselves. For one across a routed "
    "network or a VPN, start the app with its address: 'meshchat ui --peer HOST:PORT' (and press i here to "
    "invite someone new). Until then everything you write is kept and syncs when a peer appears."
)


class PeersScreen(AreaScreen):
    MODE = "peers"
    REREAD_EVERY_S = 1.0  # entries exchanged and sync times move without a peer event
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "invite", "Invite a teammate"),
        Binding("slash", "app.search", "Search", show=False),
    ]

    def compose_area(self) -> ComposeResult:
        with Vertical(id="peers"):
            yield Static("PEERS", classes="section-title")
            yield Static(id="peers-listening")
            yield Static(id="peers-summary")
            yield PeerTable(id="peer-table")
            yield Static(id="peer-note")
            yield Static("FORKS", classes="section-title", id="forks-title")
            yield Static(id="forks")

    def area_mounted(self) -> None:
        self.refresh_area(None)
        self.focus_default()

    def focus_default(self) -> None:
        self.query_one(PeerTable).focus()

    def refresh_area(self, changes: Changes | None) -> None:
        if changes is not None and not (changes.peers or changes.forks or changes.membership or changes.entries):
            return
        app = session(self)
        node = app.node
        peers = node.peers()
        live = sum(p.state in ("live", "syncing") for p in peers)
        self.query_one("#peers-listening", Static).update(listening_text(node.listen_addresses, node.config.discovery))
        summary = self.query_one("#peers-summary", Static)
        if peers:
            summary.update(f"{plural(len(peers), 'peer')} known, {live} connected.")
        else:
            summary.update(Content.styled(NO_PEERS, "$text-muted"))
        table = self.query_one(PeerTable)
        table.display = bool(peers)
        table.show_peers(peers, app.sync, app.name_of)
        self._show_note()
        forks = app.fork_list()
        self.query_one("#forks", Static).update(
            Content.styled(
                "\n".join(f"⚠ {f.author}: two different entries signed as #{f.seq}" for f in forks),
                "bold $text-error",
            )
            if forks
            else Content.styled("No forks: every author's log is one unbroken chain.", "$text-success")
        )

    def on_rows_highlighted(self, event: Rows.Highlighted) -> None:
        if isinstance(event.table, PeerTable):
            self._show_note()

    def _show_note(self) -> None:
        """The highlighted peer's last problem in full (the table's column cuts it to fit)."""
        table = self.query_one(PeerTable)
        key = table.selected_key
        status = next((p for p in session(self).node.peers() if p.peer.address == key), None)
        note = self.query_one("#peer-note", Static)
        note.display = status is not None and bool(status.error)
        if status is not None and status.error:
            note.update(Content.assemble((f"{status.peer.address}: ", "bold"), (shown(status.error), "$text-error")))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only what this person may do is offered (admins invite)."""
        if action == "invite":
            return bool(session(self).node.invitable_roles())
        return True

    @work
    async def action_invite(self) -> None:
        app = session(self)
        role = await app.push_screen_wait(InviteForm(app.node.invitable_roles()))
        if role is None:
            return
        code = await app.write(lambda: app.node.create_invite(role))
        if code is not None:
            addresses = InviteCode.decode(code).addresses
            await app.push_screen_wait(InviteCodeForm(code, role, addresses, app.home / "invites"))


def listening_text(addresses: Sequence[tuple[str, int]], discovery: bool) -> Content:
    if not addresses:
        return Content.styled("Not listening: this node only dials its peers.", "$text-muted")
    where = ", ".join(f"{host}:{port}" for host, port in addresses)
    lan = "LAN discovery on" if discovery else "LAN discovery off"
    return Content.assemble("Listening on ", (where, "bold"), f" · {lan}")
