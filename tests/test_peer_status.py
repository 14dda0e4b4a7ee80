"""``meshchat peers`` says why each link exists and what it really carried, duplicates included."""

from __future__ import annotations

import os
import time
from pathlib import Path

from meshchat.events import PeerInfo, PeerStatus
from meshchat.log.codec import pack
from meshchat.profile import Profile
from meshchat.status import STATUS_KEY, NodeStatus
from meshchat.testing import run_cli, team_homes


def test_the_status_keeps_why_duplicates_and_bytes_and_reads_older_records() -> None:
    peer = PeerStatus(
        PeerInfo("10.0.0.7:7766", "discovery", b"k" * 32),
        "live",
        120,
        4,
        1_795_000_000_000,
        "",
        why="ring: the next node after us",
        duplicates_in=17,
        bytes_in=52_000,
        bytes_out=3_100,
    )
    status = NodeStatus(123, 456, ("10.0.0.1:7766",), (peer,))
    assert NodeStatus.decode(status.encode()) == status
    older = pack([123, 456, ["10.0.0.1:7766"], [["10.0.0.7:7766", "static", None, "live", 1, 2, None, ""]], False])
    decoded = NodeStatus.decode(older)
    assert decoded is not None and decoded.peers[0].duplicates_in == 0 and decoded.peers[0].why == ""


def test_meshchat_peers_shows_why_and_duplicates(tmp_path: Path) -> None:
    (home,) = team_homes(tmp_path, 1)
    peer = PeerStatus(
        PeerInfo("10.0.0.7:7766", "discovery", b"\x12" * 32),
        "live",
        120,
        4,
        int(time.time() * 1000),
        why="chord: the node 6 places after us on the ring",
        duplicates_in=17,
        bytes_in=52_000,
        bytes_out=3_100,
    )
    with Profile.open(home) as profile:
        status = NodeStatus(os.getpid(), int(time.time() * 1000), ("10.0.0.1:7766",), (peer,))
        profile.store.set_local(STATUS_KEY, status.encode())
    out = run_cli(home, "peers").stdout
    assert "dup 17" in out and "52.0 kB in / 3.1 kB out" in out
    assert "why: chord: the node 6 places after us on the ring" in out
