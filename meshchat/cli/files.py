"""Attachment commands: files (list them, and this node's limits), save (a copy of a fetched file)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from meshchat.blobs.saving import save_copy
from meshchat.blobs.settings import BlobSettings, parse_size, request, requested
from meshchat.blobs.store import BlobStore, human_size
from meshchat.cli import shapes
from meshchat.cli.output import add_json_option, attachment_line, message_line, say, say_json
from meshchat.errors import excerpt
from meshchat.log.attachments import Attachment
from meshchat.log.views import Message
from meshchat.profile import Profile, ProfileError


def register(commands: Any) -> None:
    p = commands.add_parser(
        "files",
        help="attachments: list them with what is here, and set this node's limits",
        description="Lists the files attached to messages (of one room, or all) and whether this node holds "
        "them. --max-attach and --auto-fetch set this node's limits (e.g. 50MB, 512KB, 0).",
    )
    p.add_argument("room", nargs="?", default=None, help="only this room's files")
    p.add_argument("--max-attach", type=size_argument, default=None, metavar="SIZE", help="largest file you may attach")
    p.add_argument(
        "--auto-fetch",
        type=size_argument,
        default=None,
        metavar="SIZE",
        help="fetch files up to SIZE without being asked",
    )
    add_json_option(p)
    p.set_defaults(handler=cmd_files)

    p = commands.add_parser(
        "fetch",
        help="ask this home's running node to fetch a file (one over its auto-fetch limit)",
        description="The node fetches it from the peers that hold it, before the files it fetches unasked; "
        "'meshchat files' shows how far it got.",
    )
    p.add_argument("file", help="the file's blob id (prefix, as 'meshchat files' shows) or its message id")
    p.set_defaults(handler=cmd_fetch)

    p = commands.add_parser("save", help="save a copy of an attached file (one this node holds) where you say")
    p.add_argument("file", help="the file's blob id (prefix, as 'meshchat files' shows) or its message id")
    p.add_argument("path", type=Path, help="where to save it (a directory keeps the file's own name)")
    p.set_defaults(handler=cmd_save)


def size_argument(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_files(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        settings = BlobSettings.load(profile.store)
        if args.max_attach is not None or args.auto_fetch is not None:
            settings = BlobSettings(
                settings.max_attach if args.max_attach is None else args.max_attach,
                settings.auto_fetch if args.auto_fetch is None else args.auto_fetch,
            )
            settings.save(profile.store)
        blobs = BlobStore.of_home(profile.home)
        if args.json:
            messages = messages_with_files(profile, args.room)
            rooms = {r.room: r.name for r in profile.views.rooms()}
            held = {f.blob.hex(): blobs.fraction_held(f.blob, f.size) for m in messages for f in m.files}
            say_json(
                {
                    "max_attach": settings.max_attach,
                    "auto_fetch": settings.auto_fetch,
                    "messages": [shapes.message(m, profile.name_of, rooms.get(m.room, "")) for m in messages],
                    "held": held,
                }
            )
            return 0
        say(
            f"limits: attach up to {human_size(settings.max_attach)}; "
            f"fetch up to {human_size(settings.auto_fetch)} without being asked"
        )
        for msg in messages_with_files(profile, args.room):
            say(message_line(msg, profile.name_of(msg.author)))
            for file in msg.files:
                say(attachment_line(file, blobs.fraction_held(file.blob, file.size)))
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from meshchat.status import STATUS_KEY, NodeStatus

    with Profile.open(args.home) as profile:
        file = find_file(profile, args.file)
        blobs = BlobStore.of_home(profile.home)
        if blobs.has(file.blob):
            say(f"{file.name} is here already ('meshchat save' copies it out)")
            return 0
        request(profile.store, file.blob, drop=[b for b in requested(profile.store) if blobs.has(b)])
        raw = profile.store.get_local(STATUS_KEY)
    status = NodeStatus.decode(raw) if raw else None
    say(f"asked for {file.name} ({human_size(file.size)})")
    if status is None or not status.running(int(time.time() * 1000)):
        say("no node is running on this home: 'meshchat node' (or the UI) fetches it once it runs")
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        file = find_file(profile, args.file)
        blobs = BlobStore.of_home(profile.home)
        if not blobs.has(file.blob):
            raise ProfileError(f"{file.name} is not here yet: 'meshchat fetch {file.blob.hex()[:12]}' asks for it")
        path = save_copy(blobs, file, args.path)
        say(f"saved {file.name} ({human_size(file.size)}) to {path}")
    return 0


def messages_with_files(profile: Profile, room: str | None) -> list[Message]:
    rooms = [profile.room(room)] if room else profile.views.rooms()
    return [m for r in rooms for m in profile.views.messages(r.room, limit=100_000) if m.files and not m.retracted]


def find_file(profile: Profile, id_prefix: str) -> Attachment:
    """An attachment by its blob id prefix, or the one file of a message by the message's id."""
    prefix = id_prefix.lower().removeprefix("#")
    if len(prefix) < 6:
        raise ProfileError("give at least 6 hex digits of the file's blob id (or of its message's id)")
    found = {f.blob: f for m in messages_with_files(profile, None) for f in m.files if f.blob.hex().startswith(prefix)}
    if not found:
        message = profile.views.message(prefix)
        if message is not None and len(message.files) == 1:
            return message.files[0]
        if message is not None and message.files:
            raise ProfileError(f"that message has {len(message.files)} files: give the blob id of one")
        raise ProfileError(f"no file {excerpt(id_prefix)} ('meshchat files' lists them)")
    if len(found) > 1:
        raise ProfileError(f"{excerpt(id_prefix)} names {len(found)} files: give more digits")
    return next(iter(found.values()))
