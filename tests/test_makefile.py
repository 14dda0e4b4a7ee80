"""The README's two set-up commands: ``make run`` installs the app alone (atheris, a test tool, has no ARM
wheel: a Raspberry Pi must not need it), ``make test`` adds the test tools, and both check the machine first."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def planned(target: str, venv: Path) -> list[str]:
    """What ``make TARGET`` would run on a machine with no virtualenv yet (``make -n``: nothing is run)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # not make's child
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", target, f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return result.stdout.splitlines()


def test_make_run_installs_the_app_without_the_test_tools(tmp_path: Path) -> None:
    lines = planned("run", tmp_path / "venv")
    assert "preflight.py" in lines[0]  # before anything is installed
    installs = [line for line in lines if "pip install" in line and "--upgrade pip" not in line]
    assert installs == [f"{tmp_path / 'venv'}/bin/python -m pip install --quiet -e ."]
    assert lines[-1].startswith(f"{tmp_path / 'venv'}/bin/meshchat")


def test_make_test_adds_the_test_tools(tmp_path: Path) -> None:
    lines = planned("test", tmp_path / "venv")
    assert "preflight.py" in lines[0]
    assert any("pip install --quiet -e '.[test]'" in line for line in lines)
    assert any("pytest" in line for line in lines)
    assert any(line.endswith("/bin/vulture") for line in lines)  # dead code fails the checks (pyproject.toml)


def test_the_preflight_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import preflight
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert preflight.main() == 0  # this machine has libsodium

    def missing(name: str) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", missing)
    assert preflight.main() == 1
    assert "apt-get install libsodium23" in capsys.readouterr().out
