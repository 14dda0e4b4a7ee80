"""Message commands: post, log (and log --follow), ack, retract, pin, pending."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from meshchat.blobs.settings import BlobSettings
from meshchat.blobs.store import BlobStore, human_size
from meshchat.cli import shapes
from meshchat.cli.output import add_json_option, attachment_line, message_line, say, say_json, short
from meshchat.cli.reading import add_team_option, open_reader
from meshchat.log.kinds import MAX_TEXT, PRIORITIES
from meshchat.log.views import Message, Room
from meshchat.profile import Profile, ProfileError, TeamReader

FOLLOW_POLL_S = 0.5  # how often ``log --follow`` looks for new messages
MAX_STDIN = 4 * MAX_TEXT  # bytes: the most a message of MAX_TEXT characters takes in UTF-8


def register(commands: Any) -> None:
    p = commands.add_parser("post", help="post a message to a room")
    p.add_argument("room", help="room name (or id prefix)")
    p.add_argument("text", help="the message; - reads it from stdin (meshchat post general - < report.txt)")
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
    p.add_argument("-f", "--follow", action="store_true", help="then print new messages as they arrive (Ctrl-C ends)")
    add_team_option(p)
    add_json_option(p)
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
    add_json_option(p)
    p.set_defaults(handler=cmd_pending)


def cmd_post(args: argparse.Namespace) -> int:
    text = read_stdin() if args.text == "-" else args.text
    with Profile.open(args.home) as profile:
        reply_to = profile.message(args.reply_to).id if args.reply_to else None
        files = []
        if args.attach:
            from meshchat.blobs.attach import AttachError, attach_files  # Pillow: only when attaching

            profile.room(args.room)  # a room that does not exist is said before any file is copied
            limit = BlobSettings.load(profile.store).max_attach
            try:
                files = attach_files(BlobStore.of_home(profile.home), args.attach, max_size=limit, text=text)
            except AttachError as exc:
                raise ProfileError(str(exc)) from None
        entry = profile.post(args.room, text, flash=args.flash, priority=args.priority, reply_to=reply_to, files=files)
        say(f"posted #{short(entry.id)} to {args.room}")
        warning = profile.store.team_clock(profile.me).warning()
        if warning is not None:  # said after writing: the entry already carries the team's time
            say(f"warning: {warning}", file=sys.stderr)
        for file in files:
            say(f"  attached {file.name} ({human_size(file.size)}, {file.type})")
    return 0


def read_stdin() -> str:
    """The message piped in (``meshchat post general - < report.txt``), without the newline that ends it."""
    if sys.stdin is None:
        raise ProfileError("'-' reads the message from stdin, and there is none")
    if sys.stdin.isatty():
        say("(type the message; Ctrl-D on a line of its own posts it)", file=sys.stderr)
    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read(MAX_STDIN + 1) if stream is not None else sys.stdin.read(MAX_STDIN + 1).encode()
    if len(data) > MAX_STDIN:
        raise ProfileError(
            f"the message on stdin is over {MAX_STDIN:,} bytes: a message is at most {MAX_TEXT:,} characters"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProfileError("the message on stdin is not UTF-8 text") from None
    return text.rstrip("\r\n")


def cmd_log(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise ProfileError("--limit must be at least 1")
    with open_reader(args) as reader:
        blobs = BlobStore.of_home(reader.home) if isinstance(reader, Profile) else None
        rooms = [reader.room(args.room)] if args.room else reader.views.rooms()
        names = {room.room: room.name for room in rooms}
        shown: list[Message] = []
        for room in rooms:
            messages = reader.views.messages(room.room, limit=args.limit)
            shown += messages
            if args.json:
                continue
            if not args.room:
                say(f"== {room.name}{' (archived)' if room.archived else ''}")
            for msg in messages:
                say(message_line(msg, reader.name_of(msg.author)))
                for file in msg.files:
                    say(attachment_line(file, blobs.fraction_held(file.blob, file.size) if blobs else 0.0))
        if args.json and not args.follow:
            say_json([shapes.message(m, reader.name_of, names[m.room]) for m in shown])
        elif args.json:
            for msg in shown:
                _json_line(shapes.message(msg, reader.name_of, names[msg.room]))
        if args.follow:
            _follow(reader, rooms, json_lines=args.json, with_room=not args.room)
    return 0


def _follow(reader: TeamReader, rooms: list[Room], *, json_lines: bool, with_room: bool) -> None:
    """Print each message of ``rooms`` as it is stored, in the order it arrives (a teammate's message written
    an hour ago and synced now shows now, as ``tail -f`` shows lines), until interrupted."""
    names = {room.room: room.name for room in rooms}
    store = reader.store
    seen = store.last_rowid()
    sys.stdout.flush()
    try:
        while True:
            time.sleep(FOLLOW_POLL_S)
            for new in store.new_since(seen):
                seen = new.rowid
                if new.kind != "msg.post" or new.room not in names:
                    continue
                entry = store.entry(new.author, new.seq)
                msg = reader.views.message(entry.id) if entry is not None else None
                if msg is None:
                    continue  # not (yet) a message the team's rules let stand
                if json_lines:
                    _json_line(shapes.message(msg, reader.name_of, names[msg.room]))
                else:
                    where = f"[{names[msg.room]}] " if with_room else ""
                    say(where + message_line(msg, reader.name_of(msg.author)))
            sys.stdout.flush()
    except KeyboardInterrupt:
        return  # the way a person ends it: not an error


def _json_line(document: dict[str, Any]) -> None:
    """One JSON object on one line (JSON Lines): what ``log --follow --json`` prints per message."""
    say(json.dumps(document, sort_keys=True, ensure_ascii=True))


def cmd_mark(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        action = {"ack": profile.ack, "retract": profile.retract, "pin": profile.pin}[args.mark]
        action(args.message)
        say(f"{args.mark}: done")
    return 0


def cmd_pending(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        pending = profile.views.unacknowledged(profile.me)
        if args.json:
            rooms = {room.room: room.name for room in profile.views.rooms()}
            say_json([shapes.message(m, profile.name_of, rooms.get(m.room, "")) for m in pending])
            return 0
        for msg in pending:
            say(message_line(msg, profile.name_of(msg.author)))
        if not pending:
            say("nothing waits for your acknowledgement")
    return 0
