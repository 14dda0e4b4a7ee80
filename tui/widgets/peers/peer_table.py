"""One row per peer: who (once authenticated), where, how found, link state, entries in/out, last sync."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.content import Content

from meshchat.events import PeerStatus, SyncProgress
from tui.format import clock_seconds, shown
from tui.widgets.table import Column, Table

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


class PeerTable(Table):
    COLUMNS: ClassVar[Sequence[Column]] = (
        Column("Peer", 10),
        Column("Address", 21),
        Column("Found by", 14),
        Column("Link", 20),
        Column("In", 8),
        Column("Out", 8),
        Column("Last sync", 9),
        Column("Note"),
    )

    def show_peers(
        self, peers: Sequence[PeerStatus], sync: dict[str, SyncProgress], name_of: Callable[[bytes], str]
    ) -> None:
        rows = []
        for status in sorted(peers, key=lambda p: p.peer.address):
            peer = status.peer
            cells = [
                Content.styled(name_of(peer.key), "bold") if peer.key else Content.styled("unknown", "$text-muted"),
                Content(shown(peer.address)),
                Content(FOUND_BY.get(peer.found_by, peer.found_by)),
                link_text(status, sync.get(peer.address)),
                Content(f"{status.entries_in:,}"),
                Content(f"{status.entries_out:,}"),
                Content(clock_seconds(status.last_sync_ms) if status.last_sync_ms else "never"),
                Content.styled(shown(status.error), "$text-error"),
            ]
            rows.append((peer.address, cells))
        self.show(rows)
