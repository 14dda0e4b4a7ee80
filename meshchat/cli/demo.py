"""``meshchat demo``: the TUI on a throwaway team with two simulated teammates, real nodes on loopback (see
``meshchat.demo``)."""

from __future__ import annotations

import argparse
import importlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from meshchat.cli.output import say
from meshchat.profile import ProfileError


def register(commands: Any) -> None:
    p = commands.add_parser(
        "demo", help="try meshchat: a throwaway team where two simulated teammates post, raise a FLASH, ..."
    )
    p.add_argument("--keep", action="store_true", help="keep the demo's home directory afterwards")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from meshchat.demo import LOOPBACK, NOTICE, create_demo_home, demo_companion
    from meshchat.node import NodeConfig

    try:
        app = importlib.import_module("tui.app")  # meshchat never imports the UI at import time
    except ImportError:
        raise ProfileError("the demo needs the terminal UI (the 'tui' package), which is not installed") from None
    home = Path(tempfile.mkdtemp(prefix="meshchat-demo-")) / "you"
    try:
        team = create_demo_home(home)
        config = NodeConfig(listen=(LOOPBACK, 0), discovery=False)  # the teammates' nodes dial yours here
        code = int(app.run_app(home, config=config, companions=[demo_companion(team)], notice=NOTICE))
    finally:
        if args.keep:
            say(f"The demo's home is kept in {home} (meshchat --home {home} opens it again).")
        else:
            shutil.rmtree(home.parent, ignore_errors=True)
    return code
