"""``meshchat search TEXT``: messages, incidents and tasks that hold every word of TEXT (any case, anywhere in a
word), whole-word hits first, then the newest. The same search as the TUI's (``Views.search``); on a member's
home or, with ``--team``, one team of an HQ archive."""

from __future__ import annotations

import argparse
from typing import Any

from meshchat.cli import shapes
from meshchat.cli.output import add_json_option, message_line, say, say_json, short, value_text, when
from meshchat.cli.reading import add_team_option, open_reader
from meshchat.errors import excerpt
from meshchat.log.kinds import severity_label
from meshchat.profile import ProfileError
from meshchat.store import StoreError
from meshchat.store.queries import SearchHit


def register(commands: Any) -> None:
    p = commands.add_parser("search", help="find messages, incidents and tasks by their words (substrings, any case)")
    p.add_argument("text", nargs="+", help="words that must all occur (e.g. sandbag km 4)")
    p.add_argument("-n", "--limit", type=int, default=30, help="how many results at most (default 30)")
    add_team_option(p)
    add_json_option(p)
    p.set_defaults(handler=cmd_search)


def cmd_search(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise ProfileError("--limit must be at least 1")
    query = " ".join(args.text)
    with open_reader(args) as reader:
        try:
            while reader.store.index_search() > 0:  # catch the index up (a running node keeps it so)
                pass
        except StoreError:
            pass  # a read-only home, or SQLite without FTS5 trigrams: the search scans instead
        results = reader.views.search(query, limit=args.limit)
        rooms = {r.room: r.name for r in reader.views.rooms()}
        if args.json:
            hits = [shapes.search_hit(hit, reader.name_of, rooms) for hit in results.hits]
            say_json({"hits": hits, "unindexed": results.unindexed})
            return 0
        for hit in results.hits:
            say(hit_line(hit, reader.name_of, rooms))
        if not results.hits:
            say(f"nothing found for {excerpt(query)}")
        if results.unindexed:
            say(f"({results.unindexed} entries are not indexed yet and were not searched)")
    return 0


def hit_line(hit: SearchHit, name_of: Any, rooms: dict[bytes, str]) -> str:
    """One result: a message as ``meshchat log`` prints it (with its room), an incident or task by id."""
    if hit.message is not None:
        room = rooms.get(hit.message.room, short(hit.message.room))
        return f"#{room}  " + message_line(hit.message, name_of(hit.message.author))
    obj = hit.obj
    assert obj is not None
    status = value_text(obj.get("status"))
    if hit.kind == "incident":
        return (
            f"incident {short(obj.obj)}  {severity_label(obj.get('severity'))}  {status:<9}  {hit.text}  "
            f"(last change {when(obj.last_change.clock)})"
        )
    owner = obj.get("owner")
    who = name_of(owner) if isinstance(owner, bytes) else "nobody"
    return f"task {short(obj.obj)}  {status:<9}  {hit.text}  (owner: {who}; last change {when(obj.last_change.clock)})"
