"""``meshchat position`` / ``positions`` and ``--at`` as a person uses them: real processes, real homes; and a
position typed by hand on one laptop reaching a teammate's running node."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import trio

from meshchat.geo.point import Point
from meshchat.testing import link_nodes, running_node, team_homes, wait_until
from meshchat.testing import run_cli as meshchat


def test_reporting_showing_and_clearing_a_position(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    meshchat(home, "init", "--team", "Flood", "--name", "Ana", "--callsign", "LEAD-1")
    assert "not reported a position" in meshchat(home, "position").stdout
    out = meshchat(home, "position", "52.0907", "5.1214").stdout
    assert out.startswith("reported 52.09070, 5.12140 (31U FT 45332 73249), ±6 m")
    out = meshchat(home, "position", "31U", "FT", "12345", "67890", "--accuracy", "3", "--alt", "4").stdout
    assert out.startswith("reported 52.05022, 4.63837 (31U FT 12345 67890), ±3 m")
    listed = meshchat(home, "positions").stdout
    assert re.search(r"LEAD-1 \(Ana\)\s+52\.05022, 4\.63837  31U FT 12345 67890\s+±3 m\s+manual just now\s+you", listed)
    doc = json.loads(meshchat(home, "positions", "--json").stdout)
    [me] = doc["members"]
    assert (me["lat_e7"], me["lon_e7"], me["accuracy_m"], me["alt_m"], me["mgrs"]) == (
        520502190,
        46383718,
        3,
        4,
        "31U FT 12345 67890",
    )
    assert me["geo"] == "geo:52.050219,4.6383718" and doc["outsiders"] == []
    track = meshchat(home, "positions", "--track", "LEAD-1").stdout
    assert "track of LEAD-1: 2 reports" in track and "31U FT 45332 73249" in track and "31U FT 12345 67890" in track
    meshchat(home, "position", "--clear")
    assert "no positions yet" in meshchat(home, "positions").stdout


def test_incidents_tasks_and_answers_take_coordinates(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    meshchat(home, "init", "--team", "Flood", "--name", "Ana")
    opened = meshchat(
        home, "incident", "open", "Breach", "--severity", "2", "--location", "north dam", "--at", "52.09 5.12"
    )
    incident = re.search(r"incident ([0-9a-f]{8})", opened.stdout).group(1)  # type: ignore[union-attr]
    assert "north dam (52.09000,5.12000)" in meshchat(home, "incident", "show", incident).stdout
    meshchat(home, "position", "31U FT 45332 73249")
    meshchat(home, "task", "open", "Sandbags", "--incident", incident, "--at", "here")
    assert "Sandbags @ 52.09070,5.12140" in meshchat(home, "incident", "show", incident).stdout
    requested = meshchat(home, "checkin", "request", "general").stdout
    checkin = re.search(r"roll call ([0-9a-f]{8})", requested).group(1)  # type: ignore[union-attr]
    meshchat(home, "checkin", "reply", checkin, "need_help", "--note", "stuck", "--location", "barn", "--at", "here")
    assert "need_help - stuck @ barn (52.09070,5.12140)" in meshchat(home, "checkin", "list").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("position", "hello"), "'hello' is not a position"),
        (("position", "95", "5"), "latitude 95 is outside"),
        (("position", "52", "5", "--clear"), "not both"),
        (("position", "52", "5", "--accuracy", "-3"), "not negative"),
        (("position", "52", "5", "--accuracy", "nan"), "a number of metres"),
        (("incident", "open", "X", "--severity", "2", "--at", "here"), "needs your position"),
        (("incident", "open", "X", "--severity", "2", "--at", "31U"), "--at: '31U' is not a position"),
        (("positions", "--track", "nobody"), "no member matches"),
    ],
)
def test_clear_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    home = tmp_path / "h"
    meshchat(home, "init", "--team", "T")
    result = meshchat(home, *args, ok=False)
    assert result.returncode == 2 and message in result.stderr, result.stderr


async def test_a_position_typed_by_hand_reaches_a_teammates_node(tmp_path: Path) -> None:
    """By hand and by MGRS, in another process on Ana's home while her node runs: Bo's node shows it."""
    ana_home, bo_home = team_homes(tmp_path, 2)
    async with running_node(ana_home) as ana, running_node(bo_home) as bo, trio.open_nursery() as nursery:
        link_nodes(nursery, ana, bo)
        await trio.to_thread.run_sync(lambda: meshchat(ana_home, "position", "52.0907", "5.1214"))
        await wait_until(lambda: [(f.author, f.lat_e7) for f in bo.views.positions()] == [(ana.me, 520907000)], 20)
        await trio.to_thread.run_sync(lambda: meshchat(ana_home, "position", "31U FT 12345 67890"))
        expected = Point(520502190, 46383718)
        await wait_until(lambda: [Point(f.lat_e7, f.lon_e7) for f in bo.views.positions()] == [expected], 20)
        nursery.cancel_scope.cancel()
