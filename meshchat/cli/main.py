"""Entry point: parse the command line, open the profile, run the command, report errors plainly."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from meshchat import __version__
from meshchat.cli import admin, demo, files, hq, incidents, messages, network, positions, repair, search, tak, team
from meshchat.cli.output import say
from meshchat.profile import ProfileError, default_home
from meshchat.terminal import guarded_terminal

Handler = Callable[[argparse.Namespace], int]
COMMAND_GROUPS = (team, admin, messages, files, search, incidents, positions, network, tak, hq, repair, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshchat",
        description="Peer-to-peer, offline-first team messenger for field teams. "
        "With no command, opens the terminal UI.",
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
    """Run one command. Whatever it prints, and whatever ``argparse`` or ``logging`` print for it, reaches the
    terminal as safe text (:func:`meshchat.terminal.guarded_terminal`)."""
    with guarded_terminal():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.home is None:
        args.home = default_home()
    handler: Handler | None = getattr(args, "handler", None)
    try:
        return handler(args) if handler is not None else run_default(args, parser)
    except ProfileError as exc:
        say(f"meshchat: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run_default(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """No command: ``meshchat ui`` with its defaults (listen like ``meshchat node``, find the team on the LAN)
    when the terminal UI is installed, else the help."""
    if importlib.util.find_spec("tui") is None:
        parser.print_help()
        return 0
    ui = parser.parse_args(["--home", str(args.home), "ui"])
    handler: Handler = ui.handler
    return handler(ui)


if __name__ == "__main__":
    sys.exit(main())
