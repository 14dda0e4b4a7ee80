"""The command line as a person uses it: real processes, a real home directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshchat.testing import run_cli as meshchat


def test_a_day_in_the_field(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    out = meshchat(home, "init", "--team", "Flood response", "--name", "Ana").stdout
    assert "Founded team 'Flood response'" in out
    key = meshchat(home, "id").stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    meshchat(home, "post", "general", "Water rising at the north levee")
    posted = meshchat(home, "post", "general", "Evacuate sector 4", "--flash").stdout
    flash_id = re.search(r"#([0-9a-f]{8})", posted).group(1)  # type: ignore[union-attr]
    opened = meshchat(home, "incident", "open", "Levee breach", "--severity", "2", "--location", "north dam").stdout
    incident = re.search(r"incident ([0-9a-f]{8})", opened).group(1)  # type: ignore[union-attr]
    meshchat(home, "incident", "update", incident, "--status", "active", "--commander", "Ana")
    board = meshchat(home, "incident", "list").stdout
    assert "Levee breach" in board and "active" in board and "commander: Ana" in board
    shown = meshchat(home, "incident", "show", incident).stdout
    assert "status     active" in shown and "north dam" in shown
    log = meshchat(home, "log", "general").stdout
    assert "Water rising at the north levee" in log and "Evacuate sector 4 [FLASH, acked by 0]" in log
    meshchat(home, "ack", flash_id)
    assert "acked by 1" in meshchat(home, "log", "general").stdout
    meshchat(home, "retract", flash_id)
    assert "(retracted) Evacuate sector 4" in meshchat(home, "log").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("post", "nowhere", "hi"), "no room 'nowhere'"),
        (("post", "general", "   "), "empty message"),
        (("incident", "update", "ffff", "--status", "closed"), "no incident"),
        (("ack", "zz"), "no message"),
        (("room", "create", "general"), "exists already"),
    ],
)
def test_clear_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    home = tmp_path / "h"
    meshchat(home, "init", "--team", "T")
    result = meshchat(home, *args, ok=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_no_profile_is_a_clear_error(tmp_path: Path) -> None:
    result = meshchat(tmp_path / "none", "log", ok=False)
    assert result.returncode == 2 and "meshchat init" in result.stderr


def test_init_twice_refuses(tmp_path: Path) -> None:
    meshchat(tmp_path / "h", "init", "--team", "T")
    result = meshchat(tmp_path / "h", "init", "--team", "T", ok=False)
    assert result.returncode == 2 and "already holds" in result.stderr
