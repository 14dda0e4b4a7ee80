"""Team commands: init, id, whoami, rooms. (``members`` is in ``meshchat.cli.admin``.)"""

from __future__ import annotations

import argparse
from typing import Any

from meshchat.cli import shapes
from meshchat.cli.output import add_json_option, say, say_json, short, when
from meshchat.cli.reading import add_team_option, open_reader
from meshchat.errors import excerpt
from meshchat.profile import Profile, ProfileError


def register(commands: Any) -> None:
    p = commands.add_parser("init", help="found a new team; you become its owner")
    p.add_argument("--team", required=True, help="the team's name, e.g. 'Flood response'")
    p.add_argument("--name", default="", help="your display name")
    p.add_argument("--callsign", default="", help="your radio callsign")
    p.set_defaults(handler=cmd_init)

    p = commands.add_parser("id", help="print this node's public key (64 hex digits)")
    p.set_defaults(handler=cmd_id)

    p = commands.add_parser("whoami", help="your name, role and team")
    add_json_option(p)
    p.set_defaults(handler=cmd_whoami)

    p = commands.add_parser("rooms", help="list rooms")
    add_team_option(p)
    add_json_option(p)
    p.set_defaults(handler=cmd_rooms)

    room = commands.add_parser("room", help="create or archive a room (admins)")
    room_commands = room.add_subparsers(dest="room_command", metavar="ACTION", required=True)
    p = room_commands.add_parser("create", help="create a room")
    p.add_argument("name")
    p.add_argument("--topic", default="")
    p.set_defaults(handler=cmd_room_create)
    p = room_commands.add_parser("archive", help="archive a room (its messages stay in the log)")
    p.add_argument("name")
    p.set_defaults(handler=cmd_room_archive)


def cmd_init(args: argparse.Namespace) -> int:
    with Profile.init(args.home, args.team, display_name=args.name, callsign=args.callsign) as profile:
        say(f"Founded team {profile.team_name!r} (id {short(profile.team_id, 16)}) in {args.home}")
        say(f"You are its owner; your key is {profile.me.hex()}")
        say("Next: 'meshchat invite' to add teammates, 'meshchat post general TEXT' to write.")
    return 0


def cmd_id(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        say(profile.me.hex())
    return 0


def cmd_whoami(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        role = profile.my_role()
        status = role.label if role is not None else _why_not_a_member(profile)
        if role is not None and profile.pending_invite() is not None:
            status += ", waiting for the node that invited you to admit you"
        refusal = profile.store.own_writes_refused(profile.me)
        if args.json:
            me = profile.store.membership.members.get(profile.me)
            say_json(
                {
                    "key": profile.me.hex(),
                    "name": me.name if me is not None else "",
                    "callsign": me.callsign if me is not None else "",
                    "role": role.label if role is not None else None,
                    "status": status,
                    "team": profile.team_id.hex(),
                    "team_name": profile.team_name,
                    "home": str(args.home),
                    "writing_paused": refusal,
                }
            )
            return 0
        say(f"{profile.name_of(profile.me)} ({status}) in {profile.team_name!r}")
        say(f"key  {profile.me.hex()}")
        say(f"team {profile.team_id.hex()}")
        say(f"home {args.home}")
        if refusal is not None:
            say(f"note {refusal}")
    return 0


def _why_not_a_member(profile: Profile) -> str:
    """What the team's rules say about us, in words: removed, or why our invite was refused."""
    membership = profile.store.membership
    if membership.removed_upto(profile.me) is not None:
        return "removed from the team"
    refusal = profile.invite_refusal()
    if refusal is not None:
        return f"not a member: the team refused your invite ({refusal}); ask an admin for a new invite"
    return "not a member"


def cmd_rooms(args: argparse.Namespace) -> int:
    with open_reader(args) as reader:
        rooms = [(room, reader.views.message_count(room.room)) for room in reader.views.rooms()]
        if args.json:
            say_json([shapes.room(room, reader.name_of, count) for room, count in rooms])
            return 0
        for room, count in rooms:
            state = " (archived)" if room.archived else ""
            say(f"{short(room.room)}  {room.name:<16} {count:>6} messages  since {when(room.clock)}{state}")
            if room.topic:
                say(f"          {room.topic}")
    return 0


def cmd_room_create(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        room = profile.create_room(args.name, args.topic)
        say(f"created room {args.name!r} ({short(room)})")
    return 0


def cmd_room_archive(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        if profile.room(args.name).archived:
            raise ProfileError(f"room {excerpt(args.name)} is archived already")
        profile.archive_room(args.name)
        say(f"archived room {args.name!r}")
    return 0
