"""Entry point: parse the command line, open the profile, run the command, report errors plainly."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from meshchat import __version__
from meshchat.cli import admin, demo, hq, incidents, messages, network, team
from meshchat.profile import ProfileError, default_home

Handler = Callable[[argparse.Namespace], int]
COMMAND_GROUPS = (team, admin, messages, incidents, network, hq, demo)


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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.home is None:
        args.home = default_home()
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        return run_default(args, parser)
    try:
        return handler(args)
    except ProfileError as exc:
        print(f"meshchat: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run_default(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """No command: the terminal UI when it is installed, else the help and the local timeline."""
    try:
        app = importlib.import_module("tui.app")
    except ImportError:
        parser.print_help()
        return 0
    from meshchat.cli.network import DEFAULT_LISTEN
    from meshchat.net.peers import parse_address
    from meshchat.node import NodeConfig

    # Like 'meshchat node': listen on every interface and find the team's other nodes on the LAN. A taken
    # port is shown in the app, which then only dials (the peers of an invite, those discovery reports);
    # 'meshchat ui --listen/--peer/--no-discovery' chooses otherwise.
    config = NodeConfig(listen=parse_address(DEFAULT_LISTEN), discovery=True)
    return int(app.run_app(args.home, config=config))


if __name__ == "__main__":
    sys.exit(main())
