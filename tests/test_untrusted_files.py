"""Hostile files at HQ (issue 12.7): every file of an export, a bundle or a frontier is opened one safe way
(``meshchat.files``): no links followed, regular files only, no blocking on pipes or devices, bounded size."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from meshchat.files import UnsafeFileError, open_untrusted, read_untrusted


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _opens_within(path: Path, seconds: float = 10.0, **kwargs: object) -> BaseException | None:
    """What opening ``path`` raised, failing the test if it blocked (a FIFO with no writer would)."""
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            open_untrusted(path, **kwargs).close()  # type: ignore[arg-type]
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"opening {path} blocked"
    return outcome[0]


def test_a_regular_file_opens_and_reads(tmp_path: Path) -> None:
    (tmp_path / "log.msgpack").write_bytes(b"x" * 10)
    assert read_untrusted(tmp_path / "log.msgpack", 10) == b"x" * 10
    with pytest.raises(UnsafeFileError, match="larger than 9 bytes"):
        read_untrusted(tmp_path / "log.msgpack", 9)


def test_pipes_devices_links_and_directories_are_refused_without_blocking(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_bytes(b"outside the stick")
    (tmp_path / "link").symlink_to(target)
    (tmp_path / "dir").mkdir()
    cases = {
        _fifo(tmp_path / "fifo"): "named pipe",
        Path("/dev/zero"): "character device",
        tmp_path / "link": "symbolic link",
        tmp_path / "dir": "directory",
        tmp_path / "absent": "does not exist",
    }
    for path, words in cases.items():
        problem = _opens_within(path)
        assert isinstance(problem, UnsafeFileError) and words in str(problem), (path, problem)
    missing = _opens_within(tmp_path / "absent")
    assert isinstance(missing, UnsafeFileError) and missing.missing


def test_inside_a_directory_no_component_is_a_link(tmp_path: Path) -> None:
    export = tmp_path / "export"
    (export / "ics214").mkdir(parents=True)
    (export / "ics214" / "team.html").write_text("ok")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "team.html").write_text("not from the export")
    (export / "linked").symlink_to(outside)
    assert _opens_within(Path("ics214/team.html"), inside=export) is None
    problem = _opens_within(Path("linked/team.html"), inside=export)
    assert isinstance(problem, UnsafeFileError) and "not a plain directory" in str(problem)
    problem = _opens_within(Path("../outside/team.html"), inside=export)
    assert isinstance(problem, UnsafeFileError) and "not a plain path" in str(problem)
    # The directory a person names may itself be reached through a link.
    (tmp_path / "usb").symlink_to(export)
    assert _opens_within(Path("ics214/team.html"), inside=tmp_path / "usb") is None
