"""A running node's status as it keeps it in local state, for ``meshchat peers`` in another process.

The node rewrites it whenever its peers change (at most once a second) and at least every five seconds, and
marks it stopped on a clean shutdown; a status older than :data:`STALE_MS`, or whose process is gone, means
no node is running on that home.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from meshchat.events import PeerInfo, PeerStatus
from meshchat.log.codec import DecodeError, pack, unpack

STATUS_KEY = "node.status"
STALE_MS = 15_000
_STATES = ("connecting", "handshaking", "syncing", "live", "backoff", "closed")
_FOUND_BY = ("static", "discovery", "incoming")


@dataclass(frozen=True)
class NodeStatus:
    pid: int
    updated_ms: int
    listen: tuple[str, ...] = ()
    peers: tuple[PeerStatus, ...] = ()
    stopped: bool = False

    def encode(self) -> bytes:
        peers = [
            [
                p.peer.address,
                p.peer.found_by,
                p.peer.key,
                p.state,
                p.entries_in,
                p.entries_out,
                p.last_sync_ms,
                p.error,
                p.why,
                p.duplicates_in,
                p.bytes_in,
                p.bytes_out,
            ]
            for p in self.peers
        ]
        return pack([self.pid, self.updated_ms, list(self.listen), peers, self.stopped])

    @classmethod
    def decode(cls, raw: bytes) -> NodeStatus | None:
        """The status, or ``None`` if ``raw`` is not one (an older or damaged record)."""
        try:
            value: Any = unpack(raw, max_len=1 << 22, max_items=10_000)
            pid, updated, listen, rows, stopped = value
            peers = []
            for row in rows:  # 8 fields from a node before why, duplicates and bytes were kept
                address, found_by, key, state, entries_in, entries_out, last_sync, error = row[:8]
                why, duplicates, bytes_in, bytes_out = row[8:] if len(row) == 12 else ("", 0, 0, 0)
                if found_by not in _FOUND_BY or state not in _STATES or len(row) not in (8, 12):
                    return None
                info = PeerInfo(str(address), found_by, key if isinstance(key, bytes) else None)
                synced = last_sync if isinstance(last_sync, int) else None
                status = PeerStatus(info, state, int(entries_in), int(entries_out), synced, str(error), str(why))
                peers.append(
                    replace(status, duplicates_in=int(duplicates), bytes_in=int(bytes_in), bytes_out=int(bytes_out))
                )
            return cls(int(pid), int(updated), tuple(str(a) for a in listen), tuple(peers), bool(stopped))
        except (DecodeError, TypeError, ValueError):  # not ours: unpacking a wrong shape raises these
            return None

    def running(self, now_ms: int) -> bool:
        """Whether this status belongs to a node that is running now."""
        return not self.stopped and now_ms - self.updated_ms <= STALE_MS and _alive(self.pid)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True
