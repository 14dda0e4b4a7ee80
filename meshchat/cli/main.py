"""Entry point: parse the command line, run the command, and turn every failure into one plain line.

Exit codes (docs/cli.md): 0 done; 1 the command ran and found a problem (verification failed, an import
rejected entries, no node runs) or the machine stopped it (a full disk, a busy or damaged store, a file that
cannot be written); 2 the command cannot be done as given (a :class:`~meshchat.errors.UserError`, or a usage
error); 70 a bug (the traceback goes to a file, not the screen); 130 interrupted; 141 the reader of our
output went away (``meshchat log | head -1``), which is not an error worth a word.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from meshchat import __version__
from meshchat.cli import admin, demo, files, hq, incidents, messages, network, positions, repair, search, tak, team
from meshchat.cli.output import say
from meshchat.errors import MeshchatError, UserError, excerpt
from meshchat.profile import default_home
from meshchat.terminal import guarded_terminal

Handler = Callable[[argparse.Namespace], int]
COMMAND_GROUPS = (team, admin, messages, files, search, incidents, positions, network, tak, hq, repair, demo)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUG = 70  # EX_SOFTWARE in sysexits.h
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell shows for a C program whose reader went away
MAX_MESSAGE = 600  # characters of an error message, at most


class Parser(argparse.ArgumentParser):
    """``argparse`` quotes a refused value whole (``invalid choice: '...'``): a usage error names what was
    wrong and never echoes a whole argument back (a pasted 100 KB text, an escape sequence)."""

    def error(self, message: str) -> NoReturn:
        super().error(re.sub(r"'([^']{60})[^']+'", lambda m: excerpt(m.group(1) + "...", 60), message))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="meshchat",
        description="Peer-to-peer, offline-first team messenger for field teams. "
        "With no command, opens the terminal UI (or, when the output is not a terminal, prints this help).",
    )
    parser.add_argument("--version", action="version", version=f"meshchat {__version__}")
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help=f"profile directory (default: $MESHCHAT_HOME or {default_home()})",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    _home_after_command(parser)
    return parser


def _home_after_command(parser: argparse.ArgumentParser) -> None:
    """Accept ``--home`` after the command too (``meshchat join CODE --home DIR``), for every command."""
    for action in parser._actions:  # argparse has no public way to list subparsers
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if "--home" not in sub._option_string_actions:
                    sub.add_argument("--home", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
                _home_after_command(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure ends as one line (see the exit codes above). Whatever it prints, and
    whatever ``argparse`` or ``logging`` print for it, reaches the terminal as safe text
    (:func:`meshchat.terminal.guarded_terminal`)."""
    _reopen_closed_std_streams()
    code = EXIT_BROKEN_PIPE
    try:
        with guarded_terminal():
            code = _run(argv)
            sys.stdout.flush()  # inside the try: a reader that went away shows here, not at interpreter exit
    except BrokenPipeError:
        _silence_stdout()
        return code or EXIT_BROKEN_PIPE  # a command that failed says so even if nobody read its output
    return code


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.home is None:
        args.home = default_home()
    handler: Handler | None = getattr(args, "handler", None)
    try:
        return handler(args) if handler is not None else run_default(args, parser)
    except UserError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except MeshchatError as exc:
        return _fail(str(exc), EXIT_FAILED)
    except BrokenPipeError:
        raise
    except OSError as exc:  # a file or directory named on the command line, or the home itself
        where = f"{excerpt(str(exc.filename), 200)}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}", EXIT_FAILED)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        return _fail(_report_bug(exc), EXIT_BUG)


def _fail(message: str, code: int) -> int:
    """One line on stderr. Messages name what was wrong in a few words; one that grew long anyway (a value
    quoted whole somewhere) is cut, so no input is ever echoed back at length."""
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    say(f"meshchat: {message}", file=sys.stderr)
    return code


def _report_bug(exc: Exception) -> str:
    """A bug: the traceback goes to a file a person can attach to a report; the screen gets one line."""
    try:
        fd, path = tempfile.mkstemp(prefix="meshchat-crash-", suffix=".txt")  # mode 0600: argv may hold text
        os.close(fd)
        details = "".join(traceback.format_exception(exc))
        Path(path).write_text(f"meshchat {__version__}, argv {sys.argv!r}\n{details}")
        where = f"; the details are in {path}"
    except OSError:
        where = ""
    return f"internal error (a bug, please report it): {type(exc).__name__}: {exc}{where}"


def _reopen_closed_std_streams() -> None:
    """Started with stdout or stderr closed (``meshchat log >&-``), Python has no stream there: point it at
    /dev/null, so output is dropped instead of failing, and no file opened later takes that descriptor."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:
            os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
            setattr(sys, name, open(fd, "w", closefd=False))  # noqa: SIM115 (lives as long as the process)


def _silence_stdout() -> None:
    """After a broken pipe: what is still buffered goes to /dev/null rather than to a warning at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (a test's stand-in)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)


def run_default(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """No command: ``meshchat ui`` with its defaults (listen like ``meshchat node``, find the team on the LAN),
    if the terminal UI is installed and the output is a terminal; else the help (never escape codes in a file)."""
    if importlib.util.find_spec("tui") is None or not sys.stdout.isatty():
        parser.print_help()
        return 0
    ui = parser.parse_args(["--home", str(args.home), "ui"])
    handler: Handler = ui.handler
    return handler(ui)


if __name__ == "__main__":
    sys.exit(main())
