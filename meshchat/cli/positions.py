"""Position commands: ``position`` (report, show or clear mine) and ``positions`` (everyone's, or a track); and
``--at``, the coordinates option of incidents, tasks and roll-call answers."""

from __future__ import annotations

import argparse
import math
from typing import Any

from meshchat.cli.output import say, say_json, short, when
from meshchat.geo.describe import accuracy_text, ago_text, relation_text
from meshchat.geo.location import HERE, location_of
from meshchat.geo.parse import CoordinateError, parse_position
from meshchat.geo.point import Point
from meshchat.log.clock import wall_ms
from meshchat.log.codec import Value
from meshchat.log.positions import Fix, Report, staleness
from meshchat.profile import Profile, ProfileError

AT_HELP = "coordinates: decimal degrees ('52.0907 5.1214'), MGRS ('31U FT 12345 67890'), or 'here' (your last position)"
STALE_WORDS = ("", "", "  (stale)", "  (lost)")


def register(commands: Any) -> None:
    p = commands.add_parser(
        "position",
        help="report where you are (decimal degrees or MGRS); with no coordinates, show your last report",
    )
    p.add_argument("coords", nargs="*", metavar="COORDS", help="'52.0907 5.1214' or '31U FT 12345 67890'")
    p.add_argument(
        "--accuracy", type=_metres, default=None, metavar="M", help="how sure, in metres (default: as precise as typed)"
    )
    p.add_argument("--alt", type=_metres_signed, default=None, metavar="M", help="altitude in metres")
    p.add_argument("--clear", action="store_true", help="stop showing your position (until your next report)")
    p.add_argument("--json", action="store_true", help="print what was reported as JSON")
    p.set_defaults(handler=cmd_position)

    p = commands.add_parser(
        "positions", help="where everyone is: each member's last position, its age, and yours to it"
    )
    p.add_argument("--track", metavar="MEMBER", default=None, help="every report of one member (name, callsign or key)")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(handler=cmd_positions)


def add_at_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--at", default=None, metavar="COORDS", help=AT_HELP)


def location_from(profile: Profile, text: str | None, at: str | None) -> dict[str, Value] | None:
    """The location of an incident, task or answer from ``--location TEXT`` and ``--at COORDS``: the words are
    the label, the coordinates where it is; either alone will do (meshchat.geo.location)."""
    mine = profile.my_position() if at and at.strip().lower() == HERE else None
    try:
        return location_of(text, at, Point(mine.lat_e7, mine.lon_e7) if mine is not None else None)
    except CoordinateError as exc:
        raise ProfileError(f"--at: {exc}") from None


def cmd_position(args: argparse.Namespace) -> int:
    with Profile.open(args.home) as profile:
        if args.clear:
            if args.coords:
                raise ProfileError("give coordinates or --clear, not both")
            profile.clear_position()
            say("your position is no longer shown (until you report one again)")
            return 0
        if not args.coords:
            mine = profile.my_position()
            if mine is None:
                say("you have not reported a position (meshchat position 52.0907 5.1214, or an MGRS reference)")
            else:
                _show(args, [mine], profile, wall_ms())
            return 0
        try:
            parsed = parse_position(" ".join(args.coords))
        except CoordinateError as exc:
            raise ProfileError(str(exc)) from None
        report = Report(
            parsed.point.lat_e7,
            parsed.point.lon_e7,
            args.accuracy if args.accuracy is not None else parsed.accuracy_m,
            fix_ms=profile.team_now(),  # our clock on the team's time: a laptop hours off dates it right
            source="manual",
            alt_m=args.alt,
        )
        entry = profile.report_position(report)
        point = parsed.point
        if args.json:
            say_json({"id": entry.id.hex(), **_point_doc(point), "accuracy_m": report.accuracy_m, "alt_m": args.alt})
        else:
            say(f"reported {point.decimal()} ({point.mgrs()}), {accuracy_text(report.accuracy_m)}  #{short(entry.id)}")
    return 0


def cmd_positions(args: argparse.Namespace) -> int:
    now = wall_ms()
    with Profile.open(args.home) as profile:
        if args.track:
            member = profile.member_key(args.track)
            track = profile.views.track(member)
            if args.json:
                say_json([[_fix_doc(f, profile, None, now) for f in segment] for segment in track.segments])
                return 0
            parts = len(track.segments)
            say(
                f"track of {profile.name_of(member)}: {len(track.fixes)} reports"
                + (f" in {parts} segments" if parts > 1 else "")
            )
            for number, segment in enumerate(track.segments, 1):
                if len(track.segments) > 1:
                    say(f"segment {number}")
                for fix in segment:
                    say(_track_line(fix))
            return 0
        fixes = profile.views.positions()
        outsiders = profile.views.outsiders()
        if args.json:
            mine = profile.my_position()
            origin = Point(mine.lat_e7, mine.lon_e7) if mine else None
            say_json(
                {
                    "members": [_fix_doc(f, profile, origin, now) for f in fixes],
                    "outsiders": [_fix_doc(f, profile, origin, now) for f in outsiders],
                }
            )
            return 0
        if not fixes and not outsiders:
            say("no positions yet (meshchat position 52.0907 5.1214, or meshchat node --gps)")
            return 0
        _show(args, fixes, profile, now)
        if outsiders:
            say("outside the team (relayed by a bridge):")
            _show(args, outsiders, profile, now)
    return 0


def _show(args: argparse.Namespace, fixes: list[Fix], profile: Profile, now: int) -> None:
    mine = profile.my_position()
    origin = Point(mine.lat_e7, mine.lon_e7) if mine is not None else None
    if args.json:
        say_json([_fix_doc(f, profile, origin, now) for f in fixes])
        return
    for fix in fixes:
        point = Point(fix.lat_e7, fix.lon_e7)
        who = _who(fix, profile)
        if fix.author == profile.me and fix.via is None:
            where = "you"
        elif origin is not None:
            where = relation_text(origin, point)
        else:
            where = "-"
        doubt = f"  (claims {when(fix.fix_ms)}: doubtful)" if fix.doubtful else ""
        say(
            f"{who:<24} {point.decimal()}  {point.mgrs():<19} {accuracy_text(fix.accuracy_m):<8} {fix.source:<6} "
            f"{ago_text(fix.age_ms(now))}{STALE_WORDS[staleness(fix.age_ms(now))]}  {where}{doubt}"
        )


def _track_line(fix: Fix) -> str:
    point = Point(fix.lat_e7, fix.lon_e7)
    extra = []
    if fix.alt_m is not None:
        extra.append(f"alt {fix.alt_m} m")
    if fix.speed_cms is not None:
        extra.append(f"{fix.speed_cms / 100:.1f} m/s")
    if fix.heading_deg is not None:
        extra.append(f"heading {fix.heading_deg}°")
    doubt = "  (time doubtful)" if fix.doubtful else ""
    details = f"  {', '.join(extra)}" if extra else ""
    return (
        f"  {when(fix.time)}  {point.decimal()}  {point.mgrs()}  {accuracy_text(fix.accuracy_m)}  "
        f"{fix.source}{details}  #{fix.seq}{doubt}"
    )


def _who(fix: Fix, profile: Profile) -> str:
    if fix.via is not None:
        return f"{fix.via.label} via {profile.name_of(fix.author)}"
    member = profile.store.membership.members.get(fix.author)
    shown = profile.name_of(fix.author)  # the callsign, where there is one
    name = f" ({member.name})" if member is not None and member.name and member.name != shown else ""
    return f"{shown}{name}"


def _point_doc(point: Point) -> dict[str, Any]:
    return {
        "lat_e7": point.lat_e7,
        "lon_e7": point.lon_e7,
        "lat": point.lat,
        "lon": point.lon,
        "mgrs": point.mgrs(),
        "geo": point.geo_uri(),
    }


def _fix_doc(fix: Fix, profile: Profile, origin: Point | None, now: int) -> dict[str, Any]:
    from meshchat.geo.measure import bearing_deg, distance_m

    point = Point(fix.lat_e7, fix.lon_e7)
    doc: dict[str, Any] = {
        "author": fix.author.hex(),
        "name": profile.name_of(fix.author),
        "seq": fix.seq,
        **_point_doc(point),
        "accuracy_m": fix.accuracy_m,
        "alt_m": fix.alt_m,
        "heading_deg": fix.heading_deg,
        "speed_cms": fix.speed_cms,
        "source": fix.source,
        "fix_ms": fix.fix_ms,
        "believed_ms": fix.time,
        "age_s": fix.age_ms(now) // 1000,
        "doubtful": fix.doubtful,
        "via": None if fix.via is None else {"net": fix.via.net, "uid": fix.via.uid, "callsign": fix.via.callsign},
    }
    if origin is not None:
        doc["distance_m"] = round(distance_m(origin, point))
        doc["bearing_deg"] = round(bearing_deg(origin, point)) % 360
    return doc


def _metres(text: str) -> int:
    value = _metres_signed(text)
    if value < 0:
        raise argparse.ArgumentTypeError("a distance in metres is not negative")
    return value


def _metres_signed(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > 10**9:
        raise argparse.ArgumentTypeError("a number of metres, e.g. 10")
    return round(value)
