"""One row per peer: who (once authenticated), where, how found, link state, entries in/out, last sync."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.content import Content
from textual.widgets import DataTable

from meshchat.events import PeerStatus, SyncProgress
from tui.format import clock_seconds

LINK_STYLES = {
    "live": "bold $text-success",
    "syncing": "bold $text-warning",
    "connecting": "$text-muted",
    "handshaking": "$text-muted",
    "backoff": "$text-warning",
    "closed": "$text-muted",
}
FOUND_BY = {"static": "configured", "discovery": "LAN (zeroconf)", "incoming": "dialled us"}


def link_text(status: PeerStatus, sync: SyncProgress | None) -> Content:
    state: str = status.state
    label = state
    if sync is not None and not sync.done:
        label = f"syncing {sync.received:,}/{max(sync.expected, sync.received):,}"
        state = "syncing"
    return Content.styled(label, LINK_STYLES.get(state, ""))


class PeerTable(DataTable[Content]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("Peer", key="peer", width=12)
        self.add_column("Address", key="address", width=22)
        self.add_column("Found by", key="found", width=15)
        self.add_column("Link", key="link", width=20)
        self.add_column("In", key="in", width=8)
        self.add_column("Out", key="out", width=8)
        self.add_column("Last sync", key="last", width=9)
        self.add_column("Note", key="note")

    def show(self, peers: Sequence[PeerStatus], sync: dict[str, SyncProgress], name_of: Callable[[bytes], str]) -> None:
        self.clear()
        for status in sorted(peers, key=lambda p: p.peer.address):
            peer = status.peer
            self.add_row(
                Content.styled(name_of(peer.key) if peer.key else "?", "bold"),
                Content(peer.address),
                Content(FOUND_BY.get(peer.found_by, peer.found_by)),
                link_text(status, sync.get(peer.address)),
                Content(f"{status.entries_in:,}"),
                Content(f"{status.entries_out:,}"),
                Content(clock_seconds(status.last_sync_ms) if status.last_sync_ms else "never"),
                Content.styled(status.error, "$text-error"),
                key=peer.address,
            )
