"""HQ and sneakernet commands: export, verify, bundle (frontier / export / import), import, teams."""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshchat.cli import shapes
from meshchat.cli.files import size_argument
from meshchat.cli.output import add_json_option, say, say_json, short, when_zoned
from meshchat.errors import excerpt
from meshchat.export.errors import ExportError
from meshchat.export.problems import Severity, VerifyReport
from meshchat.export.progress import Progress
from meshchat.profile import STORE_FILE, Profile, ProfileError

if TYPE_CHECKING:
    from meshchat.export.archive import Verification
    from meshchat.export.bundlefiles import FilesRead

EXIT_FAILED = 1  # verification found errors, or an import rejected entries


def register(commands: Any) -> None:
    p = commands.add_parser("export", help="write the whole log, a signed manifest and reports for HQ")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="a new (or empty) directory")
    p.add_argument("--since", type=_since, default=None, metavar="T", help="reports from T on (e.g. 2026-11-25, 12h)")
    p.add_argument("--room", default=None, help="reports of this room only")
    p.add_argument("--team", default=None, help="in an HQ archive: the team (name or id prefix) to export")
    p.add_argument("--no-heads", action="store_true", help="do not sign a heads entry first")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=cmd_export)

    p = commands.add_parser("verify", help="check an export with nothing but the export (exit 0: intact)")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument(
        "--expect-team",
        type=_pin("team"),
        default=None,
        metavar="TEAM_ID",
        help="the team's id as 'meshchat export' printed it (at least 32 hex digits; spaces are ignored)",
    )
    p.add_argument(
        "--expect-signer",
        type=_pin("signer"),
        default=None,
        metavar="KEY",
        help="the exporting node's key as 'meshchat export' printed it (needed for an HQ archive's exports)",
    )
    p.add_argument("--json", action="store_true", help="the full report as JSON on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=cmd_verify)

    bundle = commands.add_parser("bundle", help="move entries on a USB stick between nodes that never meet")
    actions = bundle.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    p = actions.add_parser("frontier", help="write what this node holds, for another node's 'bundle export --for'")
    p.add_argument("file", type=Path, metavar="FILE")
    p.set_defaults(handler=cmd_bundle_frontier)
    p = actions.add_parser(
        "export", help="write a bundle (only what a peer lacks, with --for), and the files it lacks in FILE.files/"
    )
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--for", dest="peer", type=Path, default=None, metavar="FRONTIER", help="the peer's frontier file")
    p.add_argument(
        "--max-file-size",
        type=size_argument,
        default=None,
        metavar="SIZE",
        help="leave out attached files larger than this (e.g. 20MB; 0: no files at all)",
    )
    p.add_argument("--no-heads", action="store_true", help="do not sign a heads entry first")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(handler=cmd_bundle_export)
    p = actions.add_parser("import", help="take a bundle in, with the same checks as the network")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(handler=cmd_bundle_import)

    p = commands.add_parser("import", help="HQ archive: import exports or bundles of any teams, each kept apart")
    p.add_argument("paths", type=Path, nargs="+", metavar="PATH", help="export directories or bundle files")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(handler=cmd_import)

    p = commands.add_parser("teams", help="the teams whose logs this home holds")
    add_json_option(p)
    p.set_defaults(handler=cmd_teams)


def _pin(what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        from meshchat.export.pins import PinError, parse_pin

        try:
            return parse_pin(text, what)
        except PinError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _since(text: str) -> int:
    """``2026-11-25``, ``2026-11-25T07:00[:00]`` in local time (as the CLI prints times), or with an offset
    (``Z``, ``+02:00``), or ``90m``, ``12h``, ``3d`` before now; as ms since the epoch."""
    relative = re.fullmatch(r"(\d{1,6})([mhd])", text.strip())
    if relative:
        seconds = int(relative.group(1)) * {"m": 60, "h": 3600, "d": 86400}[relative.group(2)]
        return int(time.time() * 1000) - seconds * 1000
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{excerpt(text)} is not a time: give 2026-11-25, 2026-11-25T07:00 (local time), or 12h / 3d before now"
        ) from None
    return int(moment.timestamp() * 1000)  # a time without a zone is local time (datetime's own reading)


# ---- export ------------------------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from meshchat.blobs.store import BlobStore
    from meshchat.export.archive import Home
    from meshchat.export.heads import write_heads
    from meshchat.export.reports import ReportFilter
    from meshchat.export.writer import export_store
    from meshchat.store.queries import Views

    progress = Progress(quiet=args.quiet)
    home = Home(args.home)
    if args.team is None and (args.home / STORE_FILE).exists():
        with Profile.open(args.home) as profile:
            role = profile.my_role()
            pins = _Pins(profile.team_id, profile.team_name, profile.me, profile.name_of(profile.me), role)
            heads = [] if args.no_heads else write_heads(profile)
            room = _room(Views(profile.store), args.room)
            result = export_store(
                profile.store,
                profile.identity,
                args.out,
                report_filter=ReportFilter(args.since, room),
                heads_entry=heads[-1] if heads else None,
                progress=progress,
                blobs=BlobStore.of_home(args.home),
            )
    else:
        teams = home.teams()
        if args.team is None and len(teams) != 1:
            raise ExportError(f"{args.home} holds {len(teams)} teams: choose one with --team (see 'meshchat teams')")
        team = home.find_team(args.team) if args.team else teams[0]
        pins = _Pins(team.team_id, team.name, home.identity().public_key, "", None)
        with home.open_store(team.team_id) as store:
            room = _room(Views(store), args.room)
            result = export_store(
                store,
                home.identity(),
                args.out,
                report_filter=ReportFilter(args.since, room),
                progress=progress,
                blobs=home.blob_store(team.team_id),
            )
    say(f"exported {result.entries:,} entries ({result.fork_proofs} fork proofs) to {result.out}")
    reports = [f for f in result.files[2:] if f not in result.data_files]
    say(f"log.msgpack: {result.log_bytes:,} bytes; data: {', '.join(result.data_files)}")
    say(f"reports: {', '.join(reports[:5])}{', ...' if len(reports) > 5 else ''}")
    if result.attachment_files or result.attachments_missing:
        say(
            f"attachments: {len(result.attachment_files)} files copied; {result.attachments_missing} not fetched "
            "by this node (listed by id in the manifest: another node's export may hold them)"
        )
    pins.say(result.out)
    return 0


@dataclass(frozen=True)
class _Pins:
    """What HQ pins before it trusts this export, printed to be read over the radio (docs/hq.md)."""

    team: bytes
    team_name: str
    signer: bytes
    signer_name: str
    role: Any  # the signer's Role, None when it is no member (an HQ archive)

    def say(self, out: Path) -> None:
        from meshchat.export.pins import compact, radio_text

        if self.role is not None:
            who = f"{self.signer_name} ({self.role.label})"
        else:
            who = "this home: no member of the team, so HQ verifies with this key pinned"
        say("for HQ, to read over the radio:")
        say(f"  team    {radio_text(self.team)}   {self.team_name}")
        say(f"  signer  {radio_text(self.signer)}   {who}")
        say(
            f"check it anywhere with: meshchat verify --expect-team {compact(self.team)} "
            f"--expect-signer {compact(self.signer)} {out}"
        )


def _room(views: Any, name: str | None) -> bytes | None:
    if name is None:
        return None
    room = views.find_room(name)
    if room is None:
        raise ProfileError(f"no room {excerpt(name)}")
    return bytes(room.room)


# ---- verify ------------------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    from meshchat.export.fullverify import verify_all
    from meshchat.export.pins import Expected

    expected = Expected(team=args.expect_team, signer=args.expect_signer)
    report = verify_all(args.dir, expected=expected, progress=Progress(quiet=args.quiet or args.json))
    if args.json:
        say_json(report.to_json())
    else:
        print_report(report)
    return 0 if report.ok else EXIT_FAILED


def print_report(report: VerifyReport) -> None:
    names = report.names
    team = report.team_id.hex() if report.team_id else "?"
    say(f"export     {report.path}")
    say(f"team       {report.team_name or '?'} ({team})")
    if report.exported_by is not None:
        who = names.get(report.exported_by) or short(report.exported_by, 16)
        signer = f"{report.exported_by.hex()[:16]}, {report.signer_role or '?'}"
        say(f"exported   {when_zoned(report.exported_at or 0)} by {who} ({signer})")
    pinned = []
    if report.expected_team is not None:
        pinned.append("team " + ("NOT as expected" if report.has("unexpected-team") else "as expected"))
    if report.expected_signer is not None:
        pinned.append("signer " + ("NOT as expected" if report.has("unexpected-signer") else "as expected"))
    if pinned:
        say(f"pinned     {'; '.join(pinned)}")
    say(
        f"log        {report.entries:,} entries by {report.authors} author{'' if report.authors == 1 else 's'}; "
        f"{report.signatures_checked:,} signatures checked one by one"
    )
    roles = Counter(report.roles.values())
    say("authors    " + ", ".join(f"{count} {role}" for role, count in sorted(roles.items())))
    for key, role in sorted(report.roles.items(), key=lambda kv: kv[1]):
        if role in ("removed", "unknown"):
            say(f"           {role}: {names.get(key) or '?'} ({key.hex()})")
    say(f"heads      {report.heads_checked:,} entries named by signed heads entries, checked present")
    for name, count in sorted(report.data_checked.items()):
        say(f"data       {name}: {count:,} {'lines' if name.endswith('.jsonl') else 'rows'} compared with the log")
    if report.attachments_held or report.attachments_missing:
        say(
            f"files      {report.attachments_held} attached files checked against their ids; "
            f"{report.attachments_missing} carried by messages but not in the export (listed by id)"
        )
    say(f"forks      {report.fork_proofs} fork proofs")
    effective = [r for r in report.retractions if r.effective]
    say(f"retracted  {len(effective)} messages (kept in the log, marked retracted in the reports)")
    for r in effective:
        target = f"{names.get(r.target_author, '') if r.target_author else ''} #{r.target_seq}"
        say(f"           {names.get(r.author, short(r.author))} retracted {target.strip()} (id {r.target.hex()[:16]})")
    for problem in report.problems:
        if problem.severity is Severity.INFO:
            continue
        entry = problem.entry_text(names)
        where = f"  [{problem.where}]" if problem.where else ""
        say(f"{problem.severity.upper():<8} {problem.code}: {entry + ': ' if entry else ''}{problem.message}{where}")
    errors, warnings = len(report.errors), len(report.warnings)
    if report.ok:
        extra = f" ({warnings} warnings above)" if warnings else ""
        say(f"VERIFIED   every signature and every chain holds; nothing named by a heads entry is missing{extra}")
    else:
        say(f"FAILED     {errors} errors, {warnings} warnings")


# ---- bundles -----------------------------------------------------------------------------------------------


def cmd_bundle_frontier(args: argparse.Namespace) -> int:
    from meshchat.blobs.store import BlobStore
    from meshchat.export.bundle import write_frontier

    with Profile.open(args.home) as profile:
        frontier = write_frontier(profile.store, profile.me, args.file, blobs=BlobStore.of_home(args.home).held())
    total = sum(seq for seq, _ in frontier.heads.values())
    say(f"wrote the frontier of this node ({total:,} entries by {len(frontier.heads)} authors) to {args.file}")
    say(f"on the other node: meshchat bundle export BUNDLE --for {args.file.name}")
    return 0


def cmd_bundle_export(args: argparse.Namespace) -> int:
    from meshchat.blobs.store import BlobStore, human_size
    from meshchat.export.bundle import read_frontier, write_bundle
    from meshchat.export.bundlefiles import carried_files, files_dir, write_files
    from meshchat.export.heads import write_heads

    peer = read_frontier(args.peer) if args.peer else None
    progress = Progress(quiet=args.quiet)
    with Profile.open(args.home) as profile:
        if not args.no_heads:
            write_heads(profile)
        result = write_bundle(profile.store, profile.me, args.file, peer=peer, progress=progress)
        files = write_files(
            carried_files(profile.store),
            BlobStore.of_home(args.home),
            args.file,
            peer_holds=peer.blobs if peer else frozenset(),
            max_size=args.max_file_size,
            progress=progress,
        )
    lacking = f" that {short(peer.node)} lacks" if peer else ""
    say(f"wrote {result.entries:,} entries{lacking} and {result.fork_proofs} fork proofs to {args.file}")
    if files.count:
        say(f"and {files.count} attached files ({human_size(files.bytes)}) to {files_dir(args.file)}/: carry both")
    if files.left_out:
        say(
            f"left out {len(files.left_out)} files larger than {human_size(args.max_file_size or 0)} "
            f"({human_size(sum(f.size for f in files.left_out))}): the other node fetches them from a peer"
        )
    say(f"({result.bytes:,} bytes; on the other node: meshchat bundle import {args.file.name})")
    return 0


def cmd_bundle_import(args: argparse.Namespace) -> int:
    from meshchat.blobs.store import BlobStore
    from meshchat.export.bundle import import_bundle
    from meshchat.export.bundlefiles import files_dir, import_files

    progress = Progress(quiet=args.quiet)
    with Profile.open(args.home) as profile:
        result = import_bundle(profile.store, args.file, progress=progress)
        files = import_files(profile.store, BlobStore.of_home(args.home), args.file, progress=progress)
    code = _print_import(str(args.file), result)
    return max(code, _print_files(files_dir(args.file).name, files))


def _print_files(folder: str, files: FilesRead) -> int:
    """What became of the files beside imported entries (a ``FilesRead``); EXIT_FAILED if any was refused."""
    if files.taken or files.held or files.refused:
        say(
            f"{folder}/: {files.taken} files taken in (every chunk checked against the file's id), "
            f"{files.held} already here, {len(files.refused)} refused"
        )
    for why in files.refused:
        say(f"  refused {why}")
    return EXIT_FAILED if files.refused else 0


def _print_import(source: str, result: Any) -> int:
    counts = result.counts
    say(
        f"{source}: {counts['appended']:,} new, {counts['duplicate']:,} already held, {counts['fork']} fork proofs, "
        f"{result.quarantined} held until their authors are known, {counts['rejected']} rejected"
        + (f", {result.still_deferred} could not be placed (gaps)" if result.still_deferred else "")
    )
    for rejection in result.rejected:
        entry = rejection.entry
        name = f"{entry.author.hex()[:16]}#{entry.seq} id {entry.id.hex()}: " if entry else ""
        say(f"  rejected {name}{rejection.reason}")
    return EXIT_FAILED if counts["rejected"] else 0


def cmd_import(args: argparse.Namespace) -> int:
    from meshchat.export.archive import Home

    home = Home(args.home)
    status = 0
    for path in args.paths:
        result = home.import_path(path, progress=Progress(quiet=args.quiet))
        status = max(status, _print_import(f"{path} -> team {result.team.hex()[:16]}", result))
        report = result.verified
        if report is not None:
            signer = f"signed by {short(report.exported_by, 16) if report.exported_by else '?'} ({report.signer_role})"
            errors = len(report.errors)
            verdict = "verified" if report.ok else f"FAILED verification ({errors} error{'s' * (errors != 1)})"
            say(f"  {verdict}, {signer}; 'meshchat verify {path}' shows everything")
            if not report.ok:
                status = max(status, EXIT_FAILED)
        if result.files is not None:
            status = max(status, _print_files(f"  {path.name}", result.files))
    states = home.verification()
    for team in home.teams():
        state = states.get(team.team_id)
        say(f"  {team.team_id.hex()[:16]}  {team.name or '?':<24} {team.entries:>9,} entries  {_state(state)}")
    return status


def _state(state: Verification | None) -> str:
    """How a team of an archive was verified, in one line (``Verification.text``)."""
    from meshchat.export.archive import Verification

    return (state or Verification()).text


def cmd_teams(args: argparse.Namespace) -> int:
    from meshchat.export.archive import Home

    home = Home(args.home)
    teams, states = home.teams(), home.verification()
    if args.json:
        say_json([shapes.team(team, states.get(team.team_id)) for team in teams])
        return 0
    for team in teams:
        say(f"{team.team_id.hex()}  {team.name or '?':<24} {team.entries:>9,} entries  {team.path.name}")
        say(f"{'':<64}  {_state(states.get(team.team_id))}")
    if not teams:
        say(f"{args.home} holds no team logs")
    return 0
