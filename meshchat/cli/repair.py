"""``meshchat repair``: rebuild a damaged store (keeping the identity), or resume writing after giving up on
the missing end of our own log."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

from meshchat.cli.network import add_network_options, node_config
from meshchat.cli.output import say
from meshchat.export.progress import Progress
from meshchat.homelock import HomeLock
from meshchat.profile import Profile, ProfileError

DEFAULT_TIMEOUT_S = 120.0


def register(commands: Any) -> None:
    p = commands.add_parser(
        "repair",
        help="rebuild a damaged store from what is readable, bundles and peers (your identity stays)",
        description="Moves the damaged database aside (kept in damaged-DATE/ in the home), stores every entry "
        "still readable in it, imports the bundles given, then fetches the rest from your peers. Your own log "
        "stays paused for writing until it is back as far as the damaged store had it.",
    )
    add_network_options(p)
    p.add_argument("--bundle", action="append", type=Path, default=[], metavar="FILE", help="a bundle to import")
    p.add_argument("--offline", action="store_true", help="do not fetch from peers")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to wait for peers (default {DEFAULT_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--resume-writing",
        action="store_true",
        help="stop waiting for the missing end of your own log (only if no teammate ever received it)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=cmd_repair)


def cmd_repair(args: argparse.Namespace) -> int:
    import trio

    from meshchat.node import Node
    from meshchat.repair import check_damaged, fetch_from_peers, imported, rebuild

    if args.resume_writing:
        return _resume_writing(args.home)
    progress = Progress(quiet=args.quiet)
    config = None if args.offline else node_config(args)  # a bad address is an error before anything moves
    check_damaged(args.home)
    lock = HomeLock.acquire(args.home)  # no node may use the store while it is moved aside and rebuilt
    try:
        say(f"the store in {args.home} is damaged: rebuilding it (your identity stays)")
        rebuilt = rebuild(args.home, args.bundle, progress=progress)
    finally:
        lock.release()  # the node that fetches the rest takes it again
    say(f"kept the damaged files in {rebuilt.aside}")
    salvaged = rebuilt.salvaged
    skipped = f"; {salvaged.unreadable} damaged parts skipped" if salvaged.unreadable else ""
    say(f"from the damaged store: {imported(rebuilt.from_store):,} entries readable and valid{skipped}")
    if rebuilt.from_store.still_deferred:
        lost = rebuilt.from_store.still_deferred
        say(f"  {lost:,} more follow entries that were lost: your peers or bundles fill the gaps")
    for bundle, result in rebuilt.from_bundles:
        say(f"from {bundle.name}: {imported(result):,} new entries")
    if config is not None:
        node = Node.open(args.home, config)
        try:
            fetched = trio.run(
                partial(fetch_from_peers, node, timeout=args.timeout, progress=progress, on_problem=_problem)
            )
        finally:
            node.close()
        if fetched.peers:
            say(f"from peers: {fetched.entries:,} new entries ({fetched.peers} caught up with)")
        else:
            say(f"from peers: none reached within {args.timeout:g} s ({fetched.entries:,} entries arrived)")
    with Profile.open(args.home) as profile:
        head = profile.store.head(profile.me)
        say(f"the store holds {profile.store.count():,} entries; your own log up to #{head.seq if head else 0}")
        refusal = profile.store.own_writes_refused(profile.me)
    if refusal is not None:
        say(refusal)
        return 1
    say("repaired: start meshchat (or 'meshchat node') as usual")
    return 0


def _resume_writing(home: Path) -> int:
    with Profile.open(home) as profile:
        gap = profile.store.own_gap(profile.me)
        if gap is None:
            raise ProfileError("writing is not paused: nothing to resume")
        profile.store.resume_own_writing(profile.me)
    say(
        f"writing resumes at #{gap.have + 1}: #{gap.have + 1}-#{gap.expected} of your own log are given up "
        "(should a teammate hold them after all, your log forks there, and every node will say so)"
    )
    return 0


def _problem(message: str) -> None:
    say(f"meshchat: {message}", file=sys.stderr)
