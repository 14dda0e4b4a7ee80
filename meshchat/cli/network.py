"""Network commands: node (a headless node), join, peers. (``invite`` is in ``meshchat.cli.admin``.)"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from meshchat.cli.output import say, short
from meshchat.profile import Profile, ProfileError
from meshchat.terminal import OneLineLogRecords

if TYPE_CHECKING:
    import trio

    from meshchat.node import Node, NodeConfig

DEFAULT_LISTEN = "0.0.0.0:7766"  # a headless relay serves every interface unless told otherwise
log = logging.getLogger("meshchat.node")


def register(commands: Any) -> None:
    p = commands.add_parser("node", help="run a headless node: listen, dial peers, replicate (Ctrl-C stops it)")
    add_network_options(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log every link event")
    p.set_defaults(handler=cmd_node)

    p = commands.add_parser("ui", help="open the terminal UI (what meshchat with no command does), with these options")
    add_network_options(p)
    p.set_defaults(handler=cmd_ui)

    p = commands.add_parser("join", help="join a team with an invite code (creates a new home)")
    p.add_argument("code", help="the invite code (MC1...)")
    p.add_argument("--name", default="", help="your display name")
    p.add_argument("--callsign", default="", help="your radio callsign")
    p.set_defaults(handler=cmd_join)

    p = commands.add_parser("peers", help="the peers of the node running on this home")
    p.set_defaults(handler=cmd_peers)


# ---- node ------------------------------------------------------------------------------------------------------


def add_network_options(p: argparse.ArgumentParser) -> None:
    """How a node (headless or in the UI) meets its peers."""
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT", help=f"default {DEFAULT_LISTEN}")
    p.add_argument("--no-listen", action="store_true", help="only dial out")
    p.add_argument("--peer", action="append", default=[], metavar="HOST:PORT", help="a peer to dial (repeatable)")
    p.add_argument("--no-discovery", action="store_true", help="do not look for peers on the LAN")


def node_config(args: argparse.Namespace) -> NodeConfig:
    """The node configuration that :func:`add_network_options` asked for; a bad address is a clear error."""
    from meshchat.net.peers import parse_address
    from meshchat.node import NodeConfig

    try:
        listen = None if args.no_listen else parse_address(args.listen, default_host="0.0.0.0")  # noqa: S104
        peers = tuple(parse_address(p) for p in args.peer)
    except ValueError as exc:
        raise ProfileError(str(exc)) from None
    return NodeConfig(listen=listen, peers=peers, discovery=not args.no_discovery)


def cmd_ui(args: argparse.Namespace) -> int:
    import importlib

    config = node_config(args)
    try:
        app = importlib.import_module("tui.app")
    except ImportError:
        raise ProfileError("the terminal UI is not installed with this copy of meshchat") from None
    return int(app.run_app(args.home, config=config))


def cmd_node(args: argparse.Namespace) -> int:
    import trio

    from meshchat.node import Node

    config = node_config(args)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(OneLineLogRecords())  # peers' reasons and members' names are in these lines
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        handlers=[handler],
    )
    node = Node.open(args.home, config)
    try:
        return trio.run(_run_node, node)
    finally:
        node.close()
        log.info("stopped")


async def _run_node(node: Node) -> int:
    import trio

    from meshchat.events import EntriesAdded, ForkDetected, NodeProblem

    team = node.team_name
    log.info("node %s of team %r starting (home %s)", short(node.me, 12), team, node.profile.home)
    if not node.config.discovery:
        log.info("LAN discovery is off: dialling static peers only")
    events = node.events()
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        if node.config.listen is not None and not node.listen_addresses:
            log.error("not listening: see the problem above; stopping")
            nursery.cancel_scope.cancel()
            return 2
        nursery.start_soon(_stop_on_signal, nursery.cancel_scope)
        async for event in events:
            if isinstance(event, EntriesAdded) and not event.local:
                log.debug("%d new entries", event.count)
            elif isinstance(event, ForkDetected):
                log.warning("FORK: %s signed two entries #%d: kept both as proof", short(event.author), event.seq)
            elif isinstance(event, NodeProblem):
                log.error("%s", event.message)
    return 0


async def _stop_on_signal(scope: trio.CancelScope) -> None:
    import trio

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("%s: finishing what is in flight, then stopping", signal.Signals(signum).name)
            scope.cancel()
            return


# ---- join --------------------------------------------------------------------------------------------------------


def cmd_join(args: argparse.Namespace) -> int:
    from meshchat.invites import InviteCode, join_team

    code = InviteCode.decode(args.code)
    with join_team(args.home, code, display_name=args.name, callsign=args.callsign) as profile:
        say(f"Joined team {code.team_name!r} as {code.role} (home {args.home}); your key is {profile.me.hex()}")
        where = ", ".join(code.addresses) or "a teammate's node (give --peer HOST:PORT)"
        say(f"Run 'meshchat node' to connect to {where}: teammates admit you once their node sees your join.")
    return 0


# ---- peers -----------------------------------------------------------------------------------------------------


def cmd_peers(args: argparse.Namespace) -> int:
    from meshchat.status import STATUS_KEY, NodeStatus

    with Profile.open(args.home) as profile:
        raw = profile.store.get_local(STATUS_KEY)
    status = NodeStatus.decode(raw) if raw else None
    now = int(time.time() * 1000)
    if status is None or not status.running(now):
        say(f"no node is running on {args.home} (start one with 'meshchat node')")
        return 1
    say(f"node (pid {status.pid}) on {', '.join(status.listen) or 'no address: not listening'}")
    if not status.peers:
        say("no peers yet")
    for peer in status.peers:
        who = short(peer.peer.key, 12) if peer.peer.key else "?"
        synced = f"synced {max(0, now - peer.last_sync_ms) // 1000}s ago" if peer.last_sync_ms else "never synced"
        line = (
            f"{peer.peer.address:<22} {peer.peer.found_by:<9} {peer.state:<11} {who:<12}"
            f"  in {peer.entries_in:<6} out {peer.entries_out:<6} {synced}"
        )
        say(line + (f"  ({peer.error})" if peer.error else ""))
    return 0
