"""The bridge on the SA multicast group (239.2.3.1:6969), between two network namespaces the test creates and
removes: multicast never touches the machine's real interfaces. ``meshchat tak --multicast`` runs in one
namespace; an ATAK device on the group (tests/tak_multicast_probe.py) in the other hears the member's
position and answers with a GeoChat, which the bridge relays into the team's ``tak`` room."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from netlab import NetLab, lab_unavailable_reason

from meshchat.log.clock import wall_ms
from meshchat.log.positions import Report
from meshchat.profile import Profile
from meshchat.testing import wait_until_sync

pytestmark = pytest.mark.skipif(bool(lab_unavailable_reason()), reason=lab_unavailable_reason() or "")
PROBE = str(Path(__file__).parent / "tak_multicast_probe.py")


def test_the_bridge_on_the_sa_multicast_group(tmp_path: Path) -> None:
    home = tmp_path / "gateway"
    with Profile.init(home, "Flood", display_name="Gw") as gateway:  # an admin: the bridge makes the tak room
        gateway.report_position(Report(520907000, 51214000, 6, fix_ms=wall_ms(), source="gps"))
        prefix = f"meshchat.{gateway.team_id.hex()[:8]}.{gateway.me.hex()[:16]}"
    with NetLab() as lab:
        a, b = lab.add_host("a"), lab.add_host("b")
        command = [sys.executable, "-m", "meshchat.cli.main", "--home", str(home), "tak", "--multicast", a.ip]
        log = (tmp_path / "bridge.log").open("wb")
        lab.start(a, *command, "--no-listen", "--no-discovery", stdout=log, stderr=subprocess.STDOUT)
        probe = lab.start(b, sys.executable, PROBE, b.ip, prefix, "20", stdout=subprocess.PIPE)
        relayed: list[str] = []

        def bridged() -> bool:
            with Profile.open(home) as gateway:
                room = gateway.views.find_room("tak")
                if room is not None:
                    relayed[:] = [f"{m.via.label}: {m.text}" for m in gateway.views.messages(room.room) if m.via]
            return bool(relayed)

        with contextlib.suppress(AssertionError):  # nothing relayed: the assertion below shows the bridge's log
            wait_until_sync(bridged, 30, what="a relayed message")
        probe.kill()
        out, _ = probe.communicate(timeout=10)
    heard = [json.loads(line) for line in out.decode().splitlines()]
    assert heard and heard[0]["type"] == "a-f-G-U-C" and heard[0]["callsign"] == "Gw" and heard[0]["from"] == a.ip
    assert relayed == ["MCAST-1 (TAK): Heard you on the group"], (tmp_path / "bridge.log").read_text()
