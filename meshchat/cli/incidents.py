"""Incident board commands: incident open / update / list / show, task, checkin."""

from __future__ import annotations

import argparse
from typing import Any

from meshchat.cli import shapes
from meshchat.cli.output import add_json_option, incident_line, say, say_json, short, value_text, when
from meshchat.cli.positions import add_at_option, location_from
from meshchat.cli.reading import add_team_option, open_reader
from meshchat.errors import excerpt
from meshchat.log.codec import Value
from meshchat.log.kinds import CHECKIN_STATUSES, INCIDENT_STATUSES, TASK_STATUSES
from meshchat.log.views import time_doubt_text
from meshchat.profile import Profile, ProfileError


def _severity(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("severity is a number from 1 (most severe) to 5") from None
    if not 1 <= value <= 5:
        raise argparse.ArgumentTypeError("severity is a number from 1 (most severe) to 5")
    return value


def register(commands: Any) -> None:
    _register_incidents(commands)
    _register_tasks(commands)
    _register_checkins(commands)


def _register_incidents(commands: Any) -> None:
    incident = commands.add_parser("incident", help="the incident board")
    actions = incident.add_subparsers(dest="incident_command", metavar="ACTION", required=True)
    p = actions.add_parser("open", help="open an incident")
    p.add_argument("title")
    p.add_argument("--severity", type=_severity, required=True, help="1 (most severe) to 5")
    p.add_argument("--location", default=None, help="where, in words (the label of --at)")
    add_at_option(p)
    p.add_argument("--room", default=None, help="the room where it is discussed")
    p.set_defaults(handler=cmd_incident_open)
    p = actions.add_parser("update", help="change an incident's fields")
    p.add_argument("id", help="incident id (at least 4 hex digits)")
    p.add_argument("--status", choices=INCIDENT_STATUSES)
    p.add_argument("--severity", type=_severity)
    p.add_argument("--commander")
    p.add_argument("--location", help="where, in words")
    add_at_option(p)
    p.add_argument("--summary")
    p.add_argument("--title")
    p.set_defaults(handler=cmd_incident_update)
    p = actions.add_parser("list", help="the board: every incident, most severe first")
    add_team_option(p)
    add_json_option(p)
    p.set_defaults(handler=cmd_incident_list)
    p = actions.add_parser("show", help="one incident with its full history and tasks")
    p.add_argument("id")
    add_team_option(p)
    add_json_option(p)
    p.set_defaults(handler=cmd_incident_show)


def _register_tasks(commands: Any) -> None:
    task = commands.add_parser("task", help="tasks, usually of an incident")
    actions = task.add_subparsers(dest="task_command", metavar="ACTION", required=True)
    p = actions.add_parser("open", help="open a task")
    p.add_argument("title")
    p.add_argument("--incident", default=None)
    p.add_argument("--owner", default=None, metavar="MEMBER", help="who owns it: name, callsign or key")
    p.add_argument("--location", default=None, help="where, in words")
    add_at_option(p)
    p.set_defaults(handler=cmd_task_open)
    p = actions.add_parser("update", help="change a task")
    p.add_argument("id")
    p.add_argument("--status", choices=TASK_STATUSES)
    p.add_argument("--title")
    p.add_argument("--owner", default=None, metavar="MEMBER", help="give it to: name, callsign or key")
    p.add_argument("--location", default=None, help="where, in words")
    add_at_option(p)
    p.set_defaults(handler=cmd_task_update)
    p = actions.add_parser("list", help="tasks, open ones first (of one incident with --incident)")
    p.add_argument("--incident", default=None, metavar="ID")
    add_team_option(p)
    add_json_option(p)
    p.set_defaults(handler=cmd_task_list)


def _register_checkins(commands: Any) -> None:
    checkin = commands.add_parser("checkin", help="roll calls: ask, answer, list")
    actions = checkin.add_subparsers(dest="checkin_command", metavar="ACTION", required=True)
    p = actions.add_parser("request", help="ask everyone to check in (admins)")
    p.add_argument("room")
    p.add_argument("question", nargs="?", default="Check in: are you safe?")
    p.set_defaults(handler=cmd_checkin_request)
    p = actions.add_parser("reply", help="answer a roll call")
    p.add_argument("id")
    p.add_argument("status", choices=CHECKIN_STATUSES)
    p.add_argument("--note", default="")
    p.add_argument("--location", default=None, help="where you are, in words")
    add_at_option(p)
    p.set_defaults(handler=cmd_checkin_reply)
    p = actions.add_parser("list", help="roll calls with who answered what, and who has not")
    add_team_option(p)
    add_json_option(p)
    p.set_defaults(handler=cmd_checkin_list)


def cmd_incident_open(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        location = location_from(profile, args.location, args.at)
        incident = profile.open_incident(args.title, args.severity, location=location, room=args.room)
        say(f"opened incident {short(incident)}: {args.title}")
    return 0


def cmd_incident_update(args: argparse.Namespace) -> int:
    fields: dict[str, Value] = {
        name: getattr(args, name)
        for name in ("status", "severity", "commander", "summary", "title")
        if getattr(args, name) is not None
    }
    with Profile.open(args.home) as profile:
        location = location_from(profile, args.location, args.at)
        if location is not None:
            fields["location"] = location
        profile.update_incident(args.id, fields)
        say(f"updated incident {args.id}: {', '.join(fields)}")
    return 0


def cmd_incident_list(args: argparse.Namespace) -> int:
    with open_reader(args) as profile:
        names = {k: profile.name_of(k) for k in profile.store.membership.members}
        incidents = profile.views.incidents()
        if args.json:
            say_json([shapes.incident(obj, profile.name_of) for obj in incidents])
            return 0
        for obj in incidents:
            say(incident_line(obj, names))
        if not incidents:
            say("no incidents")
    return 0


def cmd_incident_show(args: argparse.Namespace) -> int:
    with open_reader(args) as profile:
        obj = profile.incident(args.id)
        if args.json:
            say_json(shapes.incident_detail(obj, profile.name_of, profile.views.tasks(obj.obj)))
            return 0
        say(f"incident {obj.obj.hex()}")
        for name in ("title", "severity", "status", "commander", "location", "summary"):
            change = obj.fields.get(name)
            if change is not None:
                who = f"{profile.name_of(change.author)}, {when(change.clock)}"
                say(f"  {name:<10} {value_text(change.value)}   ({who})")
        say("history:")
        for change in obj.history:
            who = profile.name_of(change.author)
            doubt = change.time_doubt  # its author's clock claimed another time than the team's evidence
            note = f"   [time doubtful: {time_doubt_text(doubt, when)}]" if doubt is not None else ""
            say(f"  {when(change.clock)}  {who:<12} {change.name} = {value_text(change.value)}{note}")
        tasks = profile.views.tasks(obj.obj)
        if tasks:
            say("tasks:")
            for task in tasks:
                owner = task.get("owner")
                who = profile.name_of(owner) if isinstance(owner, bytes) else "-"
                status, title = value_text(task.get("status")), value_text(task.get("title"))
                where = f" @ {value_text(task.get('location'))}" if task.get("location") else ""
                say(f"  {short(task.obj)}  {status:<9} {title}{where}  (owner: {who})")
    return 0


def cmd_task_open(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        owner = profile.member_key(args.owner) if args.owner else None
        location = location_from(profile, args.location, args.at)
        task = profile.open_task(args.title, owner=owner, incident=args.incident, location=location)
        say(f"opened task {short(task)}: {args.title}" + (f" (owner: {profile.name_of(owner)})" if owner else ""))
    return 0


def cmd_task_update(args: argparse.Namespace) -> int:
    fields: dict[str, Value] = {n: getattr(args, n) for n in ("status", "title") if getattr(args, n) is not None}
    with Profile.open(args.home) as profile:
        if args.owner is not None:
            fields["owner"] = profile.member_key(args.owner)
        location = location_from(profile, args.location, args.at)
        if location is not None:
            fields["location"] = location
        profile.update_task(args.id, fields)
        say(f"updated task {args.id}")
    return 0


def cmd_task_list(args: argparse.Namespace) -> int:
    with open_reader(args) as reader:
        parent = reader.incident(args.incident).obj if args.incident else None
        order = {status: i for i, status in enumerate(TASK_STATUSES)}
        tasks = sorted(reader.views.tasks(parent), key=lambda t: (order.get(str(t.get("status")), 9), t.opened_clock))
        if args.json:
            say_json([shapes.task(task, reader.name_of) for task in tasks])
            return 0
        for task in tasks:
            owner = task.get("owner")
            who = reader.name_of(owner) if isinstance(owner, bytes) else "-"
            status, title = value_text(task.get("status")), value_text(task.get("title"))
            of = f"  incident {short(task.parent)}" if task.parent else ""
            say(f"{short(task.obj)}  {status:<9} {title}  (owner: {who}){of}")
        if not tasks:
            say("no tasks")
    return 0


def cmd_checkin_request(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        checkin = profile.request_checkin(args.room, args.question)
        say(f"roll call {short(checkin)} opened in {args.room}")
    return 0


def cmd_checkin_reply(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        matches = [c for c in profile.views.checkins() if c.checkin.hex().startswith(args.id.lower())]
        if len(matches) != 1 or len(args.id) < 4:
            raise ProfileError(f"no single roll call {excerpt(args.id)} (give at least 4 hex digits)")
        location = location_from(profile, args.location, args.at)
        profile.reply_checkin(matches[0].checkin, args.status, args.note, location=location)
        say(f"answered {args.status}")
    return 0


def cmd_checkin_list(args: argparse.Namespace) -> int:
    with open_reader(args) as profile:
        checkins = profile.views.checkins()
        if args.json:
            say_json([shapes.checkin(c, profile.name_of) for c in checkins])
            return 0
        for c in checkins:
            say(f"{short(c.checkin)}  {when(c.clock)}  {c.question}  (by {profile.name_of(c.requested_by)})")
            for author, reply in sorted(c.replies.items()):
                note = f" - {reply.note}" if reply.note else ""
                where = f" @ {value_text(reply.location)}" if isinstance(reply.location, dict) else ""
                say(f"    {profile.name_of(author):<12} {reply.status}{note}{where}")
            for author in c.missing:
                say(f"    {profile.name_of(author):<12} (no answer)")
        if not checkins:
            say("no roll calls")
    return 0
