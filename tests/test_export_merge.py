"""Exports from nodes that synced partially: each verifies, and merged at HQ they give exactly the union."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from export_support import export, found_team, frames

from meshchat.export import manifest
from meshchat.export.archive import Home
from meshchat.export.bundle import import_bundle, read_frontier, write_bundle, write_frontier
from meshchat.export.entries import ENTRIES_FILE, RECEIVED
from meshchat.export.operation import OPERATION_FILE, schema
from meshchat.export.pins import Expected
from meshchat.export.verify import verify_export
from meshchat.export.writer import export_store
from meshchat.profile import Profile
from meshchat.store import Outcome
from meshchat.store.queries import Views


def carry(source: Profile, target: Profile, stick: Path) -> None:
    """Sneakernet from source to target: the target's frontier goes over, the bundle comes back."""
    write_frontier(target.store, target.me, stick / "frontier.json")
    write_bundle(source.store, source.me, stick / "bundle", peer=read_frontier(stick / "frontier.json"))
    result = import_bundle(target.store, stick / "bundle")
    assert not result.counts[Outcome.REJECTED]


def log_raws(out: Path) -> list[bytes]:
    return [f.data for f in frames(out / manifest.LOG_FILE)[1]]


def message_ids(out: Path) -> set[str]:
    rows = csv.DictReader(io.StringIO((out / "messages.csv").read_text(encoding="utf-8"), newline=""))
    return {row["id"] for row in rows}


def test_three_partial_exports_verify_and_merge_to_the_union(tmp_path: Path) -> None:
    nodes = found_team(tmp_path / "nodes")
    ana, ben, cy = nodes
    stick = tmp_path / "stick"
    stick.mkdir()
    try:
        for i in range(4):
            for node in nodes:
                node.post("general", f"{node.name_of(node.me)} report {i}")
        carry(ana, ben, stick)  # ben now holds ana's posts
        ben.post("general", "ben saw ana's reports")
        carry(ben, cy, stick)  # cy holds everything ben had; nothing went back to ana
        cy.post("general", "cy, last word")
        exports = {}
        for node in nodes:
            out = tmp_path / f"export-{node.name_of(node.me)}"
            export(node, out)
            report = verify_export(out)
            assert report.ok and not report.warnings, report.problems
            exports[node.me] = out
        logs = {me: set(log_raws(out)) for me, out in exports.items()}
        assert len({frozenset(raws) for raws in logs.values()}) == 3  # three different partial views
        union = set().union(*logs.values())

        hq = Home(tmp_path / "hq")
        for out in exports.values():
            result = hq.import_path(out)
            assert not result.counts[Outcome.REJECTED] and not result.still_deferred
        (team,) = hq.teams()
        assert team.entries == len(union)
        with hq.open_store(team.team_id) as store:
            merged_out = tmp_path / "merged"
            export_store(store, hq.identity(), merged_out)
            merged_snapshot = Views(store).snapshot()
        assert not verify_export(merged_out).ok  # signed by the archive, no member: HQ pins the archive's key
        report = verify_export(merged_out, expected=Expected(signer=hq.identity().public_key.hex()))
        assert report.ok and not report.warnings, report.problems
        merged = log_raws(merged_out)
        assert len(merged) == len(set(merged)) and set(merged) == union
        assert message_ids(merged_out) == set().union(*(message_ids(out) for out in exports.values()))
        assert report.heads_checked > 0  # every node's heads entry is in the union, and checked

        # The same merge through a member's own store: bundles of exports merge, and both agree.
        for out in exports.values():
            import_bundle(ana.store, out / manifest.LOG_FILE)
        assert Views(ana.store).snapshot() == merged_snapshot
    finally:
        for node in nodes:
            node.close()


def test_archive_keeps_teams_apart_and_imports_are_idempotent(tmp_path: Path) -> None:
    teams = [found_team(tmp_path / name, ("ana", "ben")) for name in ("one", "two")]
    hq = Home(tmp_path / "hq")
    try:
        outs = []
        for i, (founder, member) in enumerate(teams):
            member.post("general", f"message of team {i}")
            founder.store.accept_batch(list(member.store.iter_raw()))
            outs.append(tmp_path / f"export-{i}")
            export(founder, outs[-1])
        for out in outs:
            hq.import_path(out)
        again = hq.import_path(outs[0])
        assert again.counts[Outcome.APPENDED] == 0 and again.counts[Outcome.DUPLICATE] > 0
        founder, member = teams[1]
        late = member.post("general", "after the export")
        write_bundle(member.store, member.me, tmp_path / "late.bundle")  # a sneakernet bundle imports too
        assert hq.import_path(tmp_path / "late.bundle").counts[Outcome.APPENDED] >= 1
        with hq.open_store(founder.team_id) as store:
            assert store.entry(member.me, late.seq) == late
        founder.store.accept_batch(list(member.store.iter_raw()))
        outs[1] = tmp_path / "export-1b"
        export(founder, outs[1])
        hq.import_path(outs[1])
        held = {t.team_id: t for t in hq.teams()}
        assert set(held) == {founder.team_id for founder, _ in teams}
        for (founder, _), out in zip(teams, outs, strict=True):
            team = held[founder.team_id]
            assert team.path == tmp_path / "hq" / "teams" / f"{founder.team_id.hex()}.db"
            assert team.entries == len(log_raws(out)) and team.name == "Flood response"
            with hq.open_store(founder.team_id) as store:
                assert {r for r in store.iter_raw()} == set(log_raws(out))  # nothing of the other team
        assert (tmp_path / "hq" / "imports.jsonl").read_text().count("\n") == 5
    finally:
        for founder, member in teams:
            founder.close()
            member.close()


def test_reports_are_a_function_of_the_log(tmp_path: Path) -> None:
    """The archive's export of a node's log renders the same reports, byte for byte, as the node's own:
    HQ can regenerate and compare them from the verified log alone."""
    ana, ben = found_team(tmp_path / "nodes", ("ana", "ben"))
    try:
        incident = ana.open_incident("Levee breach", 2)
        ben.store.accept_batch(list(ana.store.iter_raw()))
        ben.post("general", "on my way")
        ana.store.accept_batch(list(ben.store.iter_raw()))
        ana.update_incident(incident.hex(), {"status": "active"})
        first = export_store(ana.store, ana.identity, tmp_path / "node", now=1_800_000_000_000)
        hq = Home(tmp_path / "hq")
        hq.import_path(tmp_path / "node")
        with hq.open_store(ana.team_id) as store:
            export_store(store, ana.identity, tmp_path / "again", now=1_800_000_000_000)
        for name in first.files:
            node, again = tmp_path / "node" / name, tmp_path / "again" / name
            if name == ENTRIES_FILE:  # but for when the node received each entry: the archive records none
                assert _without_receipts(node) == _without_receipts(again)
                assert {d["received_ms"] for d in _lines(again)} == {None}
            elif name == OPERATION_FILE:
                assert _rows_without_receipts(node) == _rows_without_receipts(again)
            else:
                assert node.read_bytes() == again.read_bytes(), name
    finally:
        ana.close()
        ben.close()


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _without_receipts(path: Path) -> list[dict[str, object]]:
    return [{k: v for k, v in d.items() if k not in RECEIVED} for d in _lines(path)]


def _rows_without_receipts(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, the entries' receipt times (the exporting node's own record) left out."""
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table in (schema.README, *schema.TABLES):
            names = [c.name for c in table.columns if not c.local]
            out[table.name] = conn.execute(f"SELECT {', '.join(names)} FROM {table.name} ORDER BY rowid").fetchall()  # noqa: S608
        return out
    finally:
        conn.close()
