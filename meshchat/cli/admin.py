"""Team administration: invite (and revoke), invites, members (add, remove, role), profile.

What may be done is decided by the membership rules every node applies; the profile checks them before it
signs, so a refused action is a clear message here rather than an entry the team would ignore.
"""

from __future__ import annotations

import argparse
import io
from typing import Any

from meshchat.cli import shapes
from meshchat.cli.output import add_json_option, say, say_json, say_lines, short, when
from meshchat.cli.reading import add_team_option, open_reader
from meshchat.invites import DEFAULT_TTL_MS, InviteError, parse_duration
from meshchat.profile import Profile, ProfileError

ROLE_CHOICES = ("member", "observer", "admin")


def register(commands: Any) -> None:
    p = commands.add_parser(
        "invite",
        usage="meshchat invite [--role ROLE] [--expires DURATION] [--qr] [--address HOST:PORT]\n"
        "       meshchat invite revoke ID",
        help="print a one-time invite code for a newcomer (admins); 'invite revoke ID' withdraws one",
        description="Print a one-time invite code (and, with --qr, a QR code of it for the terminal). "
        "'meshchat invite revoke ID' withdraws an invite that was not used yet (ids: 'meshchat invites').",
    )
    p.add_argument("action", nargs="?", choices=("revoke",), help=argparse.SUPPRESS)
    p.add_argument("invite_id", nargs="?", metavar="ID", help=argparse.SUPPRESS)
    p.add_argument("--role", default="member", choices=ROLE_CHOICES)
    p.add_argument("--expires", default=None, metavar="DURATION", help="e.g. 30m, 24h, 7d (default 7d)")
    p.add_argument("--qr", action="store_true", help="also print the code as a QR code")
    p.add_argument(
        "--address",
        action="append",
        default=None,
        metavar="HOST:PORT",
        help="where the newcomer can reach this node (default: where its node listens)",
    )
    p.set_defaults(handler=cmd_invite)

    p = commands.add_parser("invites", help="list the team's invites: id, role, expiry, state")
    add_json_option(p)
    p.set_defaults(handler=cmd_invites)

    members = commands.add_parser("members", help="list the team's members; 'members add|remove|role' change them")
    add_team_option(members)
    add_json_option(members)
    members.set_defaults(handler=cmd_members)
    actions = members.add_subparsers(dest="members_command", metavar="ACTION")
    p = actions.add_parser("add", help="add a member by key, e.g. read out over the radio (admins)")
    p.add_argument("key", help="the newcomer's key, 64 hex digits ('meshchat id' on their machine)")
    p.add_argument("--role", default="member", choices=ROLE_CHOICES)
    p.add_argument("--name", default="", help="their display name until they set their own")
    p.set_defaults(handler=cmd_members_add)
    p = actions.add_parser("remove", help="remove a member (admins; admins only by the owner); rotates the key")
    p.add_argument("member", help="key (at least 8 hex digits), name or callsign")
    p.set_defaults(handler=cmd_members_remove)
    p = actions.add_parser("role", help="change a member's role (admins; admin role only by the owner)")
    p.add_argument("member", help="key (at least 8 hex digits), name or callsign")
    p.add_argument("role", choices=ROLE_CHOICES)
    p.set_defaults(handler=cmd_members_role)

    p = commands.add_parser("profile", help="set your display name and callsign")
    p.add_argument("--name", required=True, help="your display name")
    p.add_argument("--callsign", default=None, help="your radio callsign (default: keep it)")
    p.set_defaults(handler=cmd_profile)


# ---- invites ---------------------------------------------------------------------------------------------------


def cmd_invite(args: argparse.Namespace) -> int:
    if args.action == "revoke":
        return _revoke(args)
    if args.invite_id is not None:
        raise ProfileError("usage: meshchat invite [--role ROLE] [--expires 24h] | meshchat invite revoke ID")
    from meshchat.invites import create_invite, reachable_addresses
    from meshchat.log.codec import unpack
    from meshchat.net.address import parse_address
    from meshchat.node import LISTEN_KEY

    ttl = DEFAULT_TTL_MS if args.expires is None else parse_duration(args.expires)
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
        code = create_invite(profile, role=args.role, addresses=addresses, ttl_ms=ttl)
        text = code.encode()
        say(f"One-time invite {short(code.invite_public_key)} to {profile.team_name!r} as {args.role}")
        say(f"(valid until {when(code.expires)}). The newcomer runs:")
        say()
        say(f"  meshchat join {text}")
        say()
        if args.qr:
            say_lines(qr_text(text))
        if addresses:
            say(f"It reaches this node at {', '.join(addresses)}; keep 'meshchat node' running.")
        else:
            say("No address is in the code (no node has listened on this home yet): the newcomer needs --peer.")
        say(f"Withdraw it with 'meshchat invite revoke {short(code.invite_public_key)}'.")
    return 0


def qr_text(code: str) -> str:
    """The code as a QR code drawn with block characters (two modules per character cell)."""
    import segno

    out = io.StringIO()
    segno.make(code, error="l").terminal(out=out, compact=True, border=2)
    return out.getvalue()


def _revoke(args: argparse.Namespace) -> int:
    from meshchat.invites import revoke_invite

    if not args.invite_id:
        raise InviteError("which invite? 'meshchat invite revoke ID' (ids: 'meshchat invites')")
    with Profile.open(args.home) as profile:
        found = revoke_invite(profile, args.invite_id)
        say(f"revoked invite {found.id} ({found.invite.role.label}); a join with it will be refused everywhere")
    return 0


def cmd_invites(args: argparse.Namespace) -> int:
    from meshchat.invites import list_invites

    with Profile.open(args.home) as profile:
        invites = list_invites(profile)
        if args.json:
            say_json([shapes.invite(item.invite, item.state, profile.name_of) for item in invites])
            return 0
        if not invites:
            say("no invites yet ('meshchat invite' makes one)")
        for item in invites:
            invite = item.invite
            detail = ""
            if invite.used_by is not None:
                detail = f" by {profile.name_of(invite.used_by)}"
            elif invite.revoked_by is not None:
                detail = f" by {profile.name_of(invite.revoked_by)}"
            say(
                f"{item.id}  {invite.role.label:<8} {item.state:<7}{detail:<14} expires {when(invite.expires)}"
                f"  issued by {profile.name_of(invite.issuer)}"
            )
    return 0


# ---- members ---------------------------------------------------------------------------------------------------


def cmd_members(args: argparse.Namespace) -> int:
    with open_reader(args) as reader:
        members = sorted(
            reader.store.membership.members.values(),
            key=lambda m: (-(-1 if m.role is None else m.role), m.name),
        )
        if args.json:
            say_json([shapes.member(m) for m in members])
            return 0
        for member in members:
            role = member.role.label if member.role is not None else f"removed (up to #{member.removed_upto})"
            name = member.name or "-"
            callsign = f" [{member.callsign}]" if member.callsign else ""
            say(f"{member.key.hex()}  {role:<8} {name}{callsign}")
    return 0


def cmd_members_add(args: argparse.Namespace) -> int:
    try:
        key = bytes.fromhex(args.key)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ProfileError("a member's key is 64 hex digits ('meshchat id' prints it)")
    with Profile.open(args.home) as profile:
        member = profile.store.membership.members.get(key)
        if member is not None:
            state = member.role.label if member.role is not None else "removed (a removed key cannot come back)"
            raise ProfileError(f"{short(key, 16)} is a member already: {state}")
        profile.add_member(key, args.role, args.name)
        say(f"added {args.name or short(key, 16)} as {args.role}")
    return 0


def cmd_members_remove(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        key = profile.member_key(args.member)
        name = profile.name_of(key)
        entry = profile.remove_member(key)
        upto = str(entry.body().get("upto_seq"))
        say(f"removed {name} ({short(key, 16)}): entries after #{upto} are refused by every node")
        say("rotated the network key: the new key went to every remaining member, sealed to each")
    return 0


def cmd_members_role(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        key = profile.member_key(args.member)
        profile.change_role(key, args.role)
        say(f"{profile.name_of(key)} ({short(key, 16)}) is now {args.role}")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        me = profile.store.membership.members.get(profile.me)
        callsign = args.callsign if args.callsign is not None else (me.callsign if me else "")
        profile.set_profile(args.name, callsign)
        say(f"you are {args.name}" + (f" [{callsign}]" if callsign else ""))
    return 0
