"""`meshchat ui`: the terminal UI with the network options of `meshchat node`."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

import tui.app
from meshchat.cli.main import main
from meshchat.node import NodeConfig


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, NodeConfig]]:
    """What the UI would have been opened with (the app itself is driven by the tests in tests/tui)."""
    calls: list[tuple[Path, NodeConfig]] = []

    def run_app(home: Path, *, config: NodeConfig, **_: Any) -> int:
        calls.append((home, config))
        return 0

    monkeypatch.setattr(tui.app, "run_app", run_app)
    return calls


def test_ui_takes_the_nodes_network_options(tmp_path: Path, opened: list[tuple[Path, NodeConfig]]) -> None:
    args = ["--home", str(tmp_path), "ui", "--listen", "127.0.0.1:0", "--peer", "127.0.0.1:7001", "--no-discovery"]
    assert main(args) == 0
    ((home, config),) = opened
    assert home == tmp_path
    assert config.listen == ("127.0.0.1", 0)
    assert config.peers == (("127.0.0.1", 7001),)
    assert not config.discovery


def test_no_command_listens_and_discovers_like_a_node(
    tmp_path: Path, opened: list[tuple[Path, NodeConfig]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert main(["--home", str(tmp_path)]) == 0
    ((_, config),) = opened
    assert config.listen == ("0.0.0.0", 7766) and config.discovery and config.peers == ()  # noqa: S104


def test_no_command_into_a_file_or_pipe_prints_the_help_instead(
    tmp_path: Path, opened: list[tuple[Path, NodeConfig]], capsys: pytest.CaptureFixture[str]
) -> None:
    """``meshchat > out.txt`` (or a script that forgot the command): the help, not the UI's escape codes."""
    assert main(["--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: meshchat") and "\x1b" not in out
    assert opened == []


def test_a_bad_address_is_a_clear_error_before_the_ui_opens(
    tmp_path: Path, opened: list[tuple[Path, NodeConfig]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--home", str(tmp_path), "ui", "--peer", "laptop-7"]) == 2
    assert "'laptop-7' is not HOST:PORT" in capsys.readouterr().err
    assert opened == []
