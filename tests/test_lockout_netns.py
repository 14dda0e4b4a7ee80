"""The LAN cannot lock a node out: stalled connections from many addresses, while a member dials in.

Three namespaces on one bridge: the node, an attacker holding 16 LAN addresses, and a member. The attacker
keeps 64 connections open without a word (4 from each address, re-opening every one the node closes); the
member's node must still link within 5 s of starting.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from netlab import NetLab, lab_unavailable_reason

from meshchat.testing import team_homes, wait_until_sync

pytestmark = pytest.mark.skipif(bool(lab_unavailable_reason()), reason=lab_unavailable_reason() or "")
ATTACKER = str(Path(__file__).parent / "lockout_attacker.py")
PORT = 7766
ADDRESSES, PER_ADDRESS = 16, 4
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def node(lab: NetLab, host: object, home: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "meshchat.cli.main", "--home", str(home), "node", "--no-discovery", *args]
    return lab.start(host, *command, stdout=log.open("wb"), stderr=subprocess.STDOUT)  # type: ignore[arg-type]


def logged_at(line: str) -> datetime:
    match = STAMP.match(line)
    assert match, line
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")


def wait_for_line(log: Path, pattern: str, timeout: float) -> str:
    """The first line of ``log`` that matches ``pattern``, once there is one."""
    found: list[str] = []

    def logged() -> bool:
        found[:] = [line for line in log.read_text(errors="replace").splitlines() if re.search(pattern, line)]
        return bool(found)

    wait_until_sync(logged, timeout, what=f"{pattern!r} in {log.name}")
    return found[0]


def test_64_stalled_connections_from_16_addresses_do_not_keep_a_member_out(tmp_path: Path) -> None:
    server_home, member_home = team_homes(tmp_path, 2)
    with NetLab() as lab:
        server, attacker, member = lab.add_host("s"), lab.add_host("x"), lab.add_host("m")
        sources = [lab.add_address(attacker, 100 + i) for i in range(ADDRESSES)]
        server_log = tmp_path / "server.log"
        node(lab, server, server_home, server_log, "--listen", f"{server.ip}:{PORT}")
        wait_for_line(server_log, "listening on", 20)
        attack = lab.start(
            attacker,
            sys.executable,
            ATTACKER,
            server.ip,
            str(PORT),
            str(PER_ADDRESS),
            "30",
            *sources,
            stdout=subprocess.PIPE,
        )
        assert attack.stdout is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the attack is in place: the node's table is full
            stats = json.loads(attack.stdout.readline())
            if stats["open"] >= ADDRESSES * PER_ADDRESS:
                break
        else:
            raise AssertionError("the attacker never held its 64 connections")
        member_log = tmp_path / "member.log"
        node(lab, member, member_home, member_log, "--listen", f"{member.ip}:{PORT}", "--peer", f"{server.ip}:{PORT}")
        started = wait_for_line(member_log, "starting", 20)
        linked = wait_for_line(member_log, r"peer [0-9a-f]+ up", 15)
        took = (logged_at(linked) - logged_at(started)).total_seconds()
        assert took < 5, f"the member linked only after {took:.1f} s"
        stats = json.loads(attack.stdout.readline())
        assert stats["open"] >= ADDRESSES * PER_ADDRESS - 8, "the attack was still going on while the member linked"
        held, closed = stats["open"], stats["closed_by_node"]
        print(f"member linked {took:.2f} s after starting; attacker holds {held}, closed by the node so far {closed}")
