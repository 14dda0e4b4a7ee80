"""Network commands: node (a headless node), join, peers. (``invite`` is in ``meshchat.cli.admin``.)"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshchat.cli import shapes
from meshchat.cli.output import add_json_option, say, say_json, short
from meshchat.profile import Profile, ProfileError
from meshchat.settings import DEFAULT_LISTEN
from meshchat.terminal import OneLineLogRecords

if TYPE_CHECKING:
    import trio

    from meshchat.gps import GpsSettings
    from meshchat.node import Node, NodeConfig

JOIN_WAIT_S = 30.0
log = logging.getLogger("meshchat.node")


def register(commands: Any) -> None:
    p = commands.add_parser("node", help="run a headless node: listen, dial peers, replicate (Ctrl-C stops it)")
    add_network_options(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log every link event")
    p.set_defaults(handler=cmd_node)

    p = commands.add_parser("ui", help="open the terminal UI (what meshchat with no command does), with these options")
    add_network_options(p)
    p.set_defaults(handler=cmd_ui)

    p = commands.add_parser(
        "join",
        help="join a team with an invite code (creates a new home, then asks the inviter's node to admit you)",
    )
    p.add_argument("code", help="the invite code (MC2...)")
    p.add_argument("--name", default="", help="your display name")
    p.add_argument("--callsign", default="", help="your radio callsign")
    p.add_argument(
        "--wait",
        type=float,
        default=JOIN_WAIT_S,
        metavar="SECONDS",
        help=f"how long to try reaching the inviter's node now (default {JOIN_WAIT_S:g}; 0: later, by 'meshchat node')",
    )
    p.set_defaults(handler=cmd_join)

    p = commands.add_parser("peers", help="the peers of the node running on this home")
    add_json_option(p)
    p.set_defaults(handler=cmd_peers)


# ---- node ------------------------------------------------------------------------------------------------------


def add_network_options(p: argparse.ArgumentParser) -> None:
    """How a node (headless or in the UI) meets its peers. Each option left out is taken from the environment
    or the home's config.toml (``meshchat.settings``), else its default."""
    p.add_argument(
        "--listen", default=None, metavar="HOST:PORT", help=f"where to accept peers (default {DEFAULT_LISTEN})"
    )
    p.add_argument("--no-listen", action="store_true", help="only dial out")
    p.add_argument("--peer", action="append", default=None, metavar="HOST:PORT", help="a peer to dial (repeatable)")
    p.add_argument("--no-discovery", action="store_true", help="do not look for peers on the LAN")
    add_gps_options(p)


def add_gps_options(p: argparse.ArgumentParser) -> None:
    """``--gps``: report our position from a running gpsd (meshchat.gps), and when."""
    from meshchat.gps import GPSD_PORT, ReportPolicy

    policy = ReportPolicy()
    gps = p.add_argument_group("GPS (through a running gpsd)")
    gps.add_argument(
        "--gps",
        nargs="?",
        const=f"127.0.0.1:{GPSD_PORT}",
        default=None,
        metavar="HOST:PORT",
        help=f"report your position from gpsd (default 127.0.0.1:{GPSD_PORT})",
    )
    gps.add_argument(
        "--gps-distance",
        type=float,
        default=policy.min_distance_m,
        metavar="M",
        help=f"report when you moved this far (default {policy.min_distance_m:g} m)",
    )
    gps.add_argument(
        "--gps-every",
        type=float,
        default=policy.max_interval_s,
        metavar="S",
        help=f"or when this long passed (default {policy.max_interval_s:g} s)",
    )
    gps.add_argument(
        "--gps-min-interval",
        type=float,
        default=policy.min_interval_s,
        metavar="S",
        help=f"never more often than this (default {policy.min_interval_s:g} s)",
    )


def gps_settings(args: argparse.Namespace) -> GpsSettings | None:
    """What :func:`add_gps_options` asked for; numbers that make no sense are a clear error."""
    from meshchat.gps import GPSD_PORT, GpsSettings, ReportPolicy
    from meshchat.net.address import parse_address

    if args.gps is None:
        return None
    text = args.gps if ":" in args.gps else f"{args.gps}:{GPSD_PORT}"
    try:
        host, port = parse_address(text, default_host="127.0.0.1")
    except ValueError as exc:
        raise ProfileError(f"--gps: {exc}") from None
    numbers = (args.gps_distance, args.gps_every, args.gps_min_interval)
    if not all(math.isfinite(n) and n >= 0 for n in numbers) or args.gps_min_interval > args.gps_every:
        raise ProfileError("--gps-distance and the intervals are numbers >= 0, --gps-min-interval <= --gps-every")
    policy = ReportPolicy(
        min_distance_m=args.gps_distance, min_interval_s=args.gps_min_interval, max_interval_s=args.gps_every
    )
    return GpsSettings(host, port, policy)


def node_config(args: argparse.Namespace) -> NodeConfig:
    """The node configuration: the options given (:func:`add_network_options`), then the environment, then
    the home's config.toml; a bad value is a clear error that says where it came from."""
    from meshchat.node import NodeConfig
    from meshchat.settings import Given, node_settings

    if args.no_listen and args.listen is not None:
        raise ProfileError("--listen and --no-listen say opposite things: give one")
    given = Given(
        listen=False if args.no_listen else args.listen,
        peers=tuple(args.peer) if args.peer is not None else None,
        discovery=False if args.no_discovery else None,
        where="the command line",
    )
    settings = node_settings(args.home, given)
    gps = gps_settings(args)
    return NodeConfig(listen=settings.listen, peers=settings.peers, discovery=settings.discovery, gps=gps)


def cmd_ui(args: argparse.Namespace) -> int:
    import importlib

    config = node_config(args)
    try:
        app = importlib.import_module("tui.app")
    except ImportError:
        raise ProfileError("the terminal UI is not installed with this copy of meshchat") from None
    return int(app.run_app(args.home, config=config))


def cmd_node(args: argparse.Namespace) -> int:
    return run_headless(args)


Companion = Callable[["Node"], Callable[..., Awaitable[object]]]


def run_headless(args: argparse.Namespace, companion: Companion | None = None) -> int:
    """Run a node as ``meshchat node`` does, logging to stderr until Ctrl-C or SIGTERM; ``companion(node)``
    gives a task started beside it (``meshchat tak``'s bridge: ``nursery.start(task)``)."""
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
        return trio.run(_run_node, node, companion(node) if companion else None)
    finally:
        node.close()
        log.info("stopped")


async def _run_node(node: Node, companion: Callable[..., Awaitable[object]] | None = None) -> int:
    import trio

    from meshchat.events import EntriesAdded, ForkDetected, GpsStatus, NodeProblem

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
        if companion is not None:
            try:
                await nursery.start(companion)
            except ProfileError as exc:  # it cannot start as asked: said as every command says it
                say(f"meshchat: {exc}", file=sys.stderr)
                nursery.cancel_scope.cancel()
                return 2
        async for event in events:
            if isinstance(event, EntriesAdded) and not event.local:
                log.debug("%d new entries", event.count)
            elif isinstance(event, ForkDetected) and event.author == node.me:
                log.error("FORK OF YOUR OWN LOG: your key signed two different entries #%d", event.seq)
            elif isinstance(event, ForkDetected):
                log.warning("FORK: %s signed two entries #%d: kept both as proof", short(event.author), event.seq)
            elif isinstance(event, NodeProblem):
                log.error("%s", event.message)
                if node.damaged is not None:
                    nursery.cancel_scope.cancel()
                    return 2
            elif isinstance(event, GpsStatus):
                log.info("GPS: %s (%s)", event.state, event.detail)
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
    """Make the newcomer's home, then reach the inviter's node: admitted (the team's log comes along),
    refused (said plainly, with what to do; the new home is removed), or not reachable yet (the home waits)."""
    from meshchat.invites import InviteCode, join_team

    code = InviteCode.decode(args.code)
    with join_team(args.home, code, display_name=args.name, callsign=args.callsign) as profile:
        say(f"Joining team {code.team_name!r} as {code.role} (home {args.home}); your key is {profile.me.hex()}")
    where = ", ".join(code.addresses)
    if not code.addresses:
        say("The code names no address: run 'meshchat node --peer HOST:PORT' with the inviter's node address.")
        return 0
    if args.wait <= 0:
        say(f"Run 'meshchat node' to reach the inviter's node at {where}: it admits you there.")
        return 0
    import trio

    say(f"Reaching the inviter's node at {where} ...")
    sys.stdout.flush()
    outcome = trio.run(_reach_inviter, args.home, args.wait)
    if isinstance(outcome, str):
        _remove_new_home(args.home)
        raise ProfileError(
            f"the team refused this invite: {outcome}. Ask an admin for a new invite code "
            f"('meshchat invite' on their side); nothing was kept in {args.home}."
        )
    with Profile.open(args.home) as profile:
        if outcome:
            role = profile.store.membership.role_of(profile.me)
            say(f"Admitted to {code.team_name!r} as {role.label if role is not None else code.role}.")
            say(f"Received {profile.store.count()} entries of the team's log.")
            say("Run 'meshchat node' or 'meshchat' to stay in touch.")
        else:
            say(f"Could not reach the inviter's node at {where} within {args.wait:g} s; your home is ready.")
            say("Run 'meshchat node' (or 'meshchat'): it keeps trying, and says so if the team refuses the invite.")
    return 0


async def _reach_inviter(home: Path, wait: float) -> bool | str:
    """Run a node that dials only the inviter until we are admitted and caught up (True), the invite is
    refused (its reason), or ``wait`` seconds pass (False)."""
    import trio

    from meshchat.events import InviteRefused, SyncProgress
    from meshchat.node import Node, NodeConfig

    node = Node.open(home, NodeConfig(listen=None, discovery=False))
    events = node.events()
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            outcome: bool | str = False
            caught_up = False  # with the inviter's log: our admission may come with it, or just after
            with trio.move_on_after(wait):
                async for event in events:
                    if isinstance(event, InviteRefused):
                        outcome = event.reason
                        break
                    caught_up = caught_up or (isinstance(event, SyncProgress) and event.done)
                    if caught_up and node.membership.role_of(node.me) is not None:
                        outcome = True
                        break
            if outcome is False and node.membership.role_of(node.me) is not None:
                outcome = True  # admitted, and the log still coming: the node finishes it later
            if outcome is True:  # let our first entry (our name) reach the inviter before we stop
                with trio.move_on_after(3):
                    while any(p.entries_out == 0 for p in node.peers() if p.state == "live"):
                        await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    finally:
        node.close()
    return outcome


def _remove_new_home(home: Path) -> None:
    """Remove what ``meshchat join`` just made (identity, store), and the directory if nothing else is in it."""
    from meshchat.homelock import LOCK_FILE
    from meshchat.profile import IDENTITY_FILE, STORE_FILE

    for name in (IDENTITY_FILE, STORE_FILE, f"{STORE_FILE}-wal", f"{STORE_FILE}-shm", LOCK_FILE):
        (home / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        home.rmdir()


# ---- peers -----------------------------------------------------------------------------------------------------


def cmd_peers(args: argparse.Namespace) -> int:
    from meshchat.status import STATUS_KEY, NodeStatus

    with Profile.open(args.home) as profile:
        raw = profile.store.get_local(STATUS_KEY)
    status = NodeStatus.decode(raw) if raw else None
    now = int(time.time() * 1000)
    running = status is not None and status.running(now)
    if args.json:
        say_json(
            {
                "running": running,
                "pid": status.pid if running and status is not None else None,
                "listen": list(status.listen) if running and status is not None else [],
                "peers": [shapes.peer(p) for p in status.peers] if running and status is not None else [],
            }
        )
        return 0 if running else 1
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
            f"  dup {peer.duplicates_in}  {_size(peer.bytes_in)} in / {_size(peer.bytes_out)} out"
        )
        say(line + (f"  ({peer.error})" if peer.error else ""))
        if peer.why:
            say(f"    why: {peer.why}")
    return 0


def _size(count: int) -> str:
    """Bytes for a person: 812 B, 14.2 kB, 3.1 MB."""
    for unit, scale in (("MB", 1_000_000), ("kB", 1_000)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"
