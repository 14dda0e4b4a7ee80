"""Network commands: node (a headless node), invite, join, peers."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from meshchat.cli.output import short
from meshchat.profile import Profile, ProfileError

if TYPE_CHECKING:
    import trio

    from meshchat.node import Node

DEFAULT_LISTEN = "0.0.0.0:7766"  # a headless relay serves every interface unless told otherwise
log = logging.getLogger("meshchat.node")


def register(commands: Any) -> None:
    p = commands.add_parser("node", help="run a headless node: listen, dial peers, replicate (Ctrl-C stops it)")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT", help=f"default {DEFAULT_LISTEN}")
    p.add_argument("--no-listen", action="store_true", help="only dial out")
    p.add_argument("--peer", action="append", default=[], metavar="HOST:PORT", help="a peer to dial (repeatable)")
    p.add_argument("--no-discovery", action="store_true", help="do not look for peers on the LAN")
    p.add_argument("-v", "--verbose", action="store_true", help="log every link event")
    p.set_defaults(handler=cmd_node)

    p = commands.add_parser("invite", help="print a one-time invite code for a newcomer (admins)")
    p.add_argument("--role", default="member", choices=("member", "observer", "admin"))
    p.add_argument(
        "--address",
        action="append",
        default=None,
        metavar="HOST:PORT",
        help="where the newcomer can reach this node (default: where its node listens)",
    )
    p.set_defaults(handler=cmd_invite)

    p = commands.add_parser("join", help="join a team with an invite code (creates a new home)")
    p.add_argument("code", help="the invite code (MC1...)")
    p.add_argument("--name", default="", help="your display name")
    p.add_argument("--callsign", default="", help="your radio callsign")
    p.set_defaults(handler=cmd_join)

    p = commands.add_parser("peers", help="the peers of the node running on this home")
    p.set_defaults(handler=cmd_peers)


# ---- node ------------------------------------------------------------------------------------------------------


def cmd_node(args: argparse.Namespace) -> int:
    import trio

    from meshchat.net.peers import parse_address
    from meshchat.node import Node, NodeConfig

    try:
        listen = None if args.no_listen else parse_address(args.listen, default_host="0.0.0.0")  # noqa: S104
        peers = tuple(parse_address(p) for p in args.peer)
    except ValueError as exc:
        raise ProfileError(str(exc)) from None
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        stream=sys.stderr,
    )
    node = Node.open(args.home, NodeConfig(listen=listen, peers=peers, discovery=not args.no_discovery))
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


# ---- invite and join -------------------------------------------------------------------------------------------


def cmd_invite(args: argparse.Namespace) -> int:
    from meshchat.invites import create_invite, reachable_addresses
    from meshchat.log.codec import unpack
    from meshchat.net.peers import parse_address
    from meshchat.node import LISTEN_KEY

    with Profile.open(args.home) as profile:
        if args.address is None:
            raw = profile.store.get_local(LISTEN_KEY)
            listen = unpack(raw, max_len=4096) if raw else []
            addresses = reachable_addresses(str(a) for a in listen) if isinstance(listen, list) else []
        else:
            for address in args.address:
                try:
                    parse_address(address)
                except ValueError as exc:
                    raise ProfileError(str(exc)) from None
            addresses = list(args.address)
        code = create_invite(profile, role=args.role, addresses=addresses)
        print(f"One-time invite to {profile.team_name!r} as {args.role}. The newcomer runs:")
        print()
        print(f"  meshchat join {code.encode()}")
        print()
        if addresses:
            print(f"It reaches this node at {', '.join(addresses)}; keep 'meshchat node' running.")
        else:
            print("No address is in the code (no node has listened on this home yet): the newcomer needs --peer.")
    return 0


def cmd_join(args: argparse.Namespace) -> int:
    from meshchat.invites import InviteCode, join_team

    code = InviteCode.decode(args.code)
    with join_team(args.home, code, display_name=args.name, callsign=args.callsign) as profile:
        print(f"Joined team {code.team_name!r} as {code.role} (home {args.home}); your key is {profile.me.hex()}")
        where = ", ".join(code.addresses) or "a teammate's node (give --peer HOST:PORT)"
        print(f"Run 'meshchat node' to connect to {where}: teammates admit you once their node sees your join.")
    return 0


# ---- peers -----------------------------------------------------------------------------------------------------


def cmd_peers(args: argparse.Namespace) -> int:
    from meshchat.status import STATUS_KEY, NodeStatus

    with Profile.open(args.home) as profile:
        raw = profile.store.get_local(STATUS_KEY)
    status = NodeStatus.decode(raw) if raw else None
    now = int(time.time() * 1000)
    if status is None or not status.running(now):
        print(f"no node is running on {args.home} (start one with 'meshchat node')")
        return 1
    print(f"node (pid {status.pid}) on {', '.join(status.listen) or 'no address: not listening'}")
    if not status.peers:
        print("no peers yet")
    for peer in status.peers:
        who = short(peer.peer.key, 12) if peer.peer.key else "?"
        synced = f"synced {max(0, now - peer.last_sync_ms) // 1000}s ago" if peer.last_sync_ms else "never synced"
        line = (
            f"{peer.peer.address:<22} {peer.peer.found_by:<9} {peer.state:<11} {who:<12}"
            f"  in {peer.entries_in:<6} out {peer.entries_out:<6} {synced}"
        )
        print(line + (f"  ({peer.error})" if peer.error else ""))
    return 0
