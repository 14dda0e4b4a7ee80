"""Hostile files at HQ, through the real CLI (issue 12.7): an export or bundle on a stick may hold a named pipe,
a device or a link where a file should be, or the path may not exist at all. Every command ends promptly with
a clear message (exit 2), never a hang or a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from export_support import export, found_team

from meshchat.export import manifest
from meshchat.testing import run_cli

DEADLINE = 60  # seconds; a command that blocks on a pipe never ends, one that refuses it ends at once


def meshchat(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return run_cli(home, *args, ok=False, timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail(f"meshchat {' '.join(args)} hung (a pipe or device was opened and read)")


@pytest.fixture(scope="module")
def stick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("team")
    ana, *others = found_team(root)
    ana.post("general", "Levee holds")
    out = root / "export"
    export(ana, out)
    for p in (ana, *others):
        p.close()
    return out


def _replace(path: Path, kind: str) -> None:
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.symlink_to(path.parent.parent / "elsewhere")


@pytest.mark.parametrize("kind", ["fifo", "device", "link"])
@pytest.mark.parametrize("name", [manifest.LOG_FILE, manifest.FORKS_FILE, manifest.MANIFEST_FILE])
def test_import_of_an_export_with_a_pipe_device_or_link_ends_with_a_clear_error(
    stick: Path, tmp_path: Path, name: str, kind: str
) -> None:
    work = tmp_path / "usb" / "export"
    shutil.copytree(stick, work)
    (tmp_path / "usb" / "elsewhere").write_bytes((stick / name).read_bytes())
    _replace(work / name, kind)
    result = meshchat(tmp_path / "hq", "import", str(work))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert name in result.stderr and "not a regular file" in result.stderr, result.stderr


def test_bundle_import_of_a_pipe_ends_with_a_clear_error(stick: Path, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "a.bundle")
    for args in (("import", str(tmp_path / "a.bundle")), ("bundle", "import", str(tmp_path / "a.bundle"))):
        home = stick.parent / "ana"
        result = meshchat(home if args[0] == "bundle" else tmp_path / "hq", *args)
        assert result.returncode == 2 and "not a regular file" in result.stderr, (args, result.stderr)


def test_a_path_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    result = meshchat(tmp_path / "hq", "import", str(tmp_path / "no" / "such" / "path"))
    assert result.returncode == 2 and "does not exist" in result.stderr, result.stderr
    assert "AssertionError" not in result.stderr


def test_verify_and_frontier_refuse_pipes_without_blocking(stick: Path, tmp_path: Path) -> None:
    work = tmp_path / "export"
    shutil.copytree(stick, work)
    _replace(work / manifest.LOG_FILE, "fifo")
    (work / "notes").mkdir()
    os.mkfifo(work / "notes" / "pipe")
    checked = meshchat(tmp_path / "hq", "verify", str(work))
    assert checked.returncode == 1 and "not a regular file" in checked.stdout, checked.stdout
    assert "extra-file: notes/pipe" in checked.stdout.replace("  ", " "), checked.stdout
    os.mkfifo(tmp_path / "b.frontier")
    frontier = meshchat(
        stick.parent / "ana", "bundle", "export", str(tmp_path / "x.bundle"), "--for", str(tmp_path / "b.frontier")
    )
    assert frontier.returncode == 2 and "not a regular file" in frontier.stderr, frontier.stderr
