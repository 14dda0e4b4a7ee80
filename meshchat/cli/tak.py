"""``meshchat tak``: a node with the TAK bridge beside it (meshchat.tak): the team's positions, open incidents
and FLASH messages on TAK maps; TAK users' positions and chat in a room of their own, marked as outsiders."""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshchat.cli.network import add_network_options, run_headless
from meshchat.profile import ProfileError
from meshchat.tak.colours import TEAM_COLOURS

if TYPE_CHECKING:
    from meshchat.node import Node
    from meshchat.tak.transport import Target


def register(commands: Any) -> None:
    p = commands.add_parser(
        "tak",
        help="bridge the team to TAK (ATAK, WinTAK, TAK Server): positions, open incidents and FLASH out; "
        "TAK users' positions and chat in, marked as outsiders",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", metavar="HOST:PORT", help="a TAK server's CoT port (e.g. 8087; 8089 with TLS)")
    where.add_argument(
        "--multicast",
        metavar="INTERFACE",
        help="the SA multicast group 239.2.3.1:6969 on this interface (its IPv4 address or its name)",
    )
    tls = p.add_argument_group("TLS (TAK Server's streaming port)")
    tls.add_argument("--tls", action="store_true", help="TLS without a client certificate")
    tls.add_argument("--cert", type=Path, default=None, help="our client certificate (PEM; implies TLS)")
    tls.add_argument("--key", type=Path, default=None, help="its private key, if not in --cert")
    tls.add_argument("--ca", type=Path, default=None, help="the CA the server's certificate is checked against")
    p.add_argument("--room", default="tak", help="the room TAK users' messages go to (default: tak)")
    p.add_argument(
        "--colour", choices=TEAM_COLOURS, default="Cyan", help="the team's colour on TAK maps (default: Cyan)"
    )
    add_network_options(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log every link event")
    p.set_defaults(handler=cmd_tak)


def cmd_tak(args: argparse.Namespace) -> int:
    from meshchat.tak.bridge import BridgeSettings, TakBridge

    settings = BridgeSettings(target_of(args), room=args.room, colour=args.colour)

    def bridge(node: Node) -> Any:
        return TakBridge(node, settings).run

    return run_headless(args, bridge)


def target_of(args: argparse.Namespace) -> Target:
    from meshchat.net.address import parse_address
    from meshchat.tak.transport import TakMulticast, TakServer, tls_context

    if args.multicast is not None:
        if args.tls or args.cert or args.key or args.ca:
            raise ProfileError("--multicast has no TLS: the SA group is plain UDP on one network")
        return TakMulticast(_interface_address(args.multicast))
    try:
        host, port = parse_address(args.server)
    except ValueError as exc:
        raise ProfileError(f"--server: {exc}") from None
    if not (args.tls or args.cert or args.ca):
        return TakServer(host, port)
    for path in (args.cert, args.key, args.ca):
        if path is not None and not path.is_file():
            raise ProfileError(f"{path} is not a file")
    try:
        return TakServer(host, port, tls_context(cert=args.cert, key=args.key, ca=args.ca))
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a key that does not fit, a bad PEM
        raise ProfileError(f"cannot use the certificate: {exc}") from None


def _interface_address(text: str) -> str:
    """An interface's IPv4 address, given the address or the interface's name."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        pass
    import ifaddr

    for adapter in ifaddr.get_adapters():
        if text in (adapter.nice_name, adapter.name):
            for ip in adapter.ips:
                if isinstance(ip.ip, str):
                    return ip.ip
            raise ProfileError(f"interface {text!r} has no IPv4 address")
    raise ProfileError(f"no interface {text!r} (give its name, e.g. wlan0, or its IPv4 address)")
