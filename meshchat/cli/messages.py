"""Message commands: post, log, ack, retract, pin."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from meshchat.blobs.settings import BlobSettings
from meshchat.blobs.store import BlobStore, human_size
from meshchat.cli.output import attachment_line, message_line, say, short
from meshchat.cli.reading import add_team_option, open_reader
from meshchat.log.kinds import PRIORITIES
from meshchat.profile import Profile, ProfileError


def register(commands: Any) -> None:
    p = commands.add_parser("post", help="post a message to a room")
    p.add_argument("room", help="room name (or id prefix)")
    p.add_argument("text")
    p.add_argument("--flash", action="store_true", help="FLASH priority: everyone must acknowledge")
    p.add_argument("--priority", choices=PRIORITIES, default=None)
    p.add_argument("--reply-to", default=None, metavar="MSG", help="id (prefix) of the message answered")
    p.add_argument(
        "--attach",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="attach a file (repeatable; photos get a thumbnail everyone sees at once)",
    )
    p.set_defaults(handler=cmd_post)

    p = commands.add_parser("log", help="print a room's timeline (all rooms if none given)")
    p.add_argument("room", nargs="?", default=None)
    p.add_argument("-n", "--limit", type=int, default=50, help="how many recent messages (default 50)")
    add_team_option(p)
    p.set_defaults(handler=cmd_log)

    for name, text in (
        ("ack", "acknowledge a message (FLASH messages ask for it)"),
        ("retract", "retract a message: hidden in the UI, kept in the log and the HQ export"),
        ("pin", "mark a message notable (the HQ activity log draws on pins)"),
    ):
        p = commands.add_parser(name, help=text)
        p.add_argument("message", help="message id (at least 6 hex digits)")
        p.set_defaults(handler=cmd_mark, mark=name)

    p = commands.add_parser("pending", help="FLASH messages you have not acknowledged")
    p.set_defaults(handler=cmd_pending)


def cmd_post(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        reply_to = profile.message(args.reply_to).id if args.reply_to else None
        files = []
        if args.attach:
            from meshchat.blobs.attach import AttachError, attach_files  # Pillow: only when attaching

            profile.room(args.room)  # a room that does not exist is said before any file is copied
            limit = BlobSettings.load(profile.store).max_attach
            try:
                files = attach_files(BlobStore.of_home(profile.home), args.attach, max_size=limit, text=args.text)
            except AttachError as exc:
                raise ProfileError(str(exc)) from None
        entry = profile.post(
            args.room, args.text, flash=args.flash, priority=args.priority, reply_to=reply_to, files=files
        )
        say(f"posted #{short(entry.id)} to {args.room}")
        warning = profile.store.team_clock(profile.me).warning()
        if warning is not None:  # said after writing: the entry already carries the team's time
            say(f"warning: {warning}", file=sys.stderr)
        for file in files:
            say(f"  attached {file.name} ({human_size(file.size)}, {file.type})")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise ProfileError("--limit must be at least 1")
    with open_reader(args) as profile:
        blobs = BlobStore.of_home(profile.home) if isinstance(profile, Profile) else None
        rooms = [profile.room(args.room)] if args.room else profile.views.rooms()
        for room in rooms:
            if not args.room:
                say(f"== {room.name}{' (archived)' if room.archived else ''}")
            for msg in profile.views.messages(room.room, limit=args.limit):
                say(message_line(msg, profile.name_of(msg.author)))
                for file in msg.files:
                    say(attachment_line(file, blobs.fraction_held(file.blob, file.size) if blobs else 0.0))
    return 0


def cmd_mark(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        action = {"ack": profile.ack, "retract": profile.retract, "pin": profile.pin}[args.mark]
        action(args.message)
        say(f"{args.mark}: done")
    return 0


def cmd_pending(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        pending = profile.views.unacknowledged(profile.me)
        for msg in pending:
            say(message_line(msg, profile.name_of(msg.author)))
        if not pending:
            say("nothing waits for your acknowledgement")
    return 0
