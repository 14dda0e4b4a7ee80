"""Reading commands work on a member's home and on an HQ archive alike (``--team``)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from meshchat.profile import STORE_FILE, Profile, ProfileError, TeamReader


def add_team_option(parser: Any) -> None:
    parser.add_argument(
        "--team", default=None, metavar="TEAM", help="in an HQ archive: the team to read (name or id prefix)"
    )


@contextmanager
def open_reader(args: argparse.Namespace) -> Iterator[TeamReader]:
    """The home's own team (a member's profile), or with ``--team`` one team of an HQ archive. An archive
    that holds exactly one team needs no ``--team``."""
    team = getattr(args, "team", None)
    if team is None and (args.home / STORE_FILE).exists():
        with Profile.open(args.home) as profile:
            yield profile
        return
    from meshchat.export.archive import Home  # an HQ archive: only then
    from meshchat.export.errors import ExportError

    home = Home(args.home)
    try:
        if team is None:
            teams = home.teams()
            if len(teams) != 1:
                raise ProfileError(
                    f"no meshchat profile in {args.home}: run 'meshchat init --team NAME' or 'meshchat join CODE'"
                    if not teams
                    else f"{args.home} is an HQ archive of {len(teams)} teams: choose one with --team "
                    "(see 'meshchat teams')"
                )
            found = teams[0]
        else:
            found = home.find_team(team)
        store = home.open_store(found.team_id)
    except ExportError as exc:
        raise ProfileError(str(exc)) from None
    with TeamReader(store) as reader:
        yield reader
