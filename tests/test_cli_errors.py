"""No command ends in a traceback, whatever it is given: every failure is one line and an exit code
(meshchat.cli.main, docs/cli.md), and a reader that goes away (``| head -1``) ends the command quietly."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from meshchat.cli.main import EXIT_BROKEN_PIPE, main
from meshchat.profile import Profile
from meshchat.testing import cli_commands, run_cli

# Commands that run until stopped (the UI, a node): given only bad arguments, never none.
LONG_RUNNING = {("ui",), ("demo",), ("node",)}
ALLOWED_EXITS = {0, 1, 2, EXIT_BROKEN_PIPE}  # 70 (a bug) is never allowed


class ClosedPipe(io.TextIOBase):
    """A stdout whose reader has gone away, as under ``meshchat log | head -1`` once head has exited."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no descriptor")

    def isatty(self) -> bool:
        return False


def bad_argument_lists(path: tuple[str, ...], parser: argparse.ArgumentParser, tmp: Path) -> list[list[str]]:
    """Ways to get a command wrong: an option it does not have; every positional filled with nonsense (a
    word that names nothing, a path that does not exist, a directory where a file is wanted); nothing."""
    positionals = [a for a in parser._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]
    lists = [[*path, "--no-such-option"]]
    for junk in ("zz", str(tmp / "no" / "such" / "path"), str(tmp), "\x1b[2J" + "x" * 9000) if positionals else ():
        lists.append([*path, *(junk for a in positionals if a.nargs not in ("?", "*") or a is positionals[0])])
    if path not in LONG_RUNNING:
        lists.append(list(path))
    for option in ("--listen", "--peer", "--owner", "--severity", "--since", "--limit", "--expires", "--for"):
        if option in parser._option_string_actions:
            lists.append([*path, option, "nonsense"])
    return lists


@pytest.mark.parametrize("home_state", ["a team", "no profile"])
def test_every_command_with_bad_arguments_and_a_closed_stdout_ends_in_one_line(
    tmp_path: Path, home_state: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    if home_state == "a team":
        Profile.init(home, "T", display_name="Ana").close()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a crash report would go: there must be none
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.chdir(tmp_path)  # a command given "zz" as a file name writes it here
    tried, wrong = 0, []
    for path, parser in sorted(cli_commands().items()):
        for argv in bad_argument_lists(path, parser, tmp_path):
            monkeypatch.setattr(sys, "stdout", ClosedPipe())
            try:
                code = main(["--home", str(home), *argv])
            except SystemExit as exit:  # argparse: usage errors exit 2 after one usage message
                code = exit.code if isinstance(exit.code, int) else 2
            err = capsys.readouterr().err
            if (
                code not in ALLOWED_EXITS
                or "Traceback" in err
                or "internal error" in err
                or len(err) > 2000  # one message (argparse adds its usage), never the input echoed
            ):
                wrong.append(f"meshchat {' '.join(argv)[:80]}: exit {code}: {err[:300]}")
            tried += 1
    assert not wrong, "\n".join(wrong)
    assert not list(tmp_path.glob("meshchat-crash-*")), "a command crashed"
    assert tried > 150


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """``meshchat log general | head -1``: the pipe is closed before the command writes."""
    home = tmp_path / "h"
    with Profile.init(home, "T") as profile:
        for i in range(3):
            profile.post("general", f"message {i}")
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "MESHCHAT_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "meshchat", "log", "general"], stdout=write_end, stderr=subprocess.PIPE, env=env
    )
    os.close(write_end)
    assert result.returncode == EXIT_BROKEN_PIPE
    assert result.stderr == b""


def test_closed_stdout_and_stderr_are_no_error(tmp_path: Path) -> None:
    """``meshchat log >&- 2>&-``: what would be printed is dropped, the command still does its work."""
    home = tmp_path / "h"
    Profile.init(home, "T").close()
    env = {**os.environ, "MESHCHAT_HOME": str(home)}
    for argv in (["post", "general", "written blind"], ["log", "general"], ["post", "nowhere", "x"]):
        result = subprocess.run(
            ["sh", "-c", 'exec "$@" >&- 2>&-', "sh", sys.executable, "-m", "meshchat", *argv], env=env, check=False
        )
        assert result.returncode in (0, 2), argv
    with Profile.open(home) as profile:
        assert [m.text for m in profile.views.messages(profile.room("general").room)] == ["written blind"]


def test_a_directory_given_as_a_bundle_file_is_refused_before_any_work(tmp_path: Path) -> None:
    home, out = tmp_path / "h", tmp_path / "out"
    out.mkdir()
    Profile.init(home, "T").close()
    for argv in (["bundle", "export", str(out)], ["bundle", "frontier", str(out)]):
        result = run_cli(home, *argv, ok=False)
        assert result.returncode == 2
        assert f"{out} is a directory" in result.stderr
    assert list(out.iterdir()) == [] and not list(tmp_path.glob(".out.partial-*"))


def test_a_file_that_is_not_a_bundle_is_called_that(tmp_path: Path) -> None:
    home, junk = tmp_path / "h", tmp_path / "notes.txt"
    Profile.init(home, "T").close()
    junk.write_text("hello, this is not a bundle\n")
    result = run_cli(home, "bundle", "import", str(junk), ok=False)
    assert result.returncode == 2
    assert "notes.txt is not a meshchat bundle" in result.stderr


def test_an_import_of_nothing_is_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "hq", "import", str(tmp_path / "no" / "such" / "path"), ok=False)
    assert result.returncode in (1, 2)
    assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr


def test_a_message_over_the_limit_is_refused_by_its_size_not_echoed(tmp_path: Path) -> None:
    home = tmp_path / "h"
    Profile.init(home, "T").close()
    result = run_cli(home, "post", "general", "x" * 100_000, ok=False)
    assert result.returncode == 2
    assert "8,000" in result.stderr and "100,000" in result.stderr
    assert len(result.stderr) < 200, result.stderr


def test_a_bug_is_one_line_and_a_report_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception is still not a traceback on screen: one line says where the details are."""
    from meshchat.cli import team

    def broken(args: argparse.Namespace) -> int:
        raise ZeroDivisionError("the bug")

    monkeypatch.setattr(team, "cmd_id", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(["--home", str(tmp_path), "id"]) == 70
    [report] = tmp_path.glob("meshchat-crash-*.txt")
    assert "ZeroDivisionError: the bug" in stderr.getvalue() and str(report) in stderr.getvalue()
    assert "Traceback" in report.read_text() and "Traceback" not in stderr.getvalue()
