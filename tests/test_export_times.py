"""Issue 16 leftover: an export says, beside the clock each author claims, when each entry counts (its effective
clock, ``meshchat.log.timing``) and when the exporting node received it, in ``entries.jsonl`` and in
``operation.sqlite``'s ``entries`` table, so an analyst can sort a timeline honestly.

The export is made by a real node: three nodes linked in memory, Bo's laptop three hours ahead; Ana's and Cy's
nodes witness his post as it arrives (signed heads entries), which places it at the team's time. Verify
recomputes the effective clock from the log (a changed one is named); the receipt time is the exporting node's
own word, checked for its form only. A version 1 export (before these fields) still verifies.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
from clock_helpers import HOUR, wall_clock_off
from export_support import copy_export, export, resign

from meshchat.export import manifest
from meshchat.export.entries import ENTRIES_FILE, TIMES, iso_utc
from meshchat.export.fullverify import verify_all
from meshchat.export.operation import OPERATION_FILE
from meshchat.export.operation.rows import sql_time
from meshchat.export.operation.source import operation_source
from meshchat.export.operation.sqlfile import write_operation
from meshchat.export.problems import VerifyReport
from meshchat.identity import Identity
from meshchat.log.clock import wall_ms
from meshchat.log.entry import Entry
from meshchat.profile import Profile
from meshchat.testing import link_nodes, running_nodes, team_homes, wait_until


@dataclass(frozen=True)
class Made:
    out: Path  # Ana's export
    ana: Path  # her home
    ahead: Entry  # Bo's post, claiming a clock three hours ahead
    placed: int  # where Ana's node placed it (its effective clock)
    received: int  # when Ana's node stored it


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Made]:
    root = tmp_path_factory.mktemp("times")
    ana_home, bo_home, cy_home = team_homes(root, 3)
    with pytest.MonkeyPatch.context() as patch, wall_clock_off(patch, 3 * HOUR), Profile.open(bo_home) as bo:
        ahead = bo.post("general", "pump 3 is down")  # written on a laptop three hours ahead
    placed, received = trio.run(_witnessed, ana_home, bo_home, cy_home, ahead)
    out = root / "export"
    with Profile.open(ana_home) as ana:
        export(ana, out)
    yield Made(out, ana_home, ahead, placed, received)


async def _witnessed(ana_home: Path, bo_home: Path, cy_home: Path, ahead: Entry) -> tuple[int, int]:
    """Run the three nodes until Ana's places Bo's post (hers and Cy's heads entries witnessed it)."""
    async with running_nodes([ana_home, bo_home, cy_home]) as (nursery, (ana, bo, cy)):
        link_nodes(nursery, ana, bo)
        link_nodes(nursery, ana, cy)

        def placed() -> int | None:
            shown = [m for m in ana.views.messages(ana.profile.room("general").room) if m.id == ahead.id]
            return shown[0].clock if shown and shown[0].clock < ahead.clock - HOUR else None

        await wait_until(placed, 10, "Ana's node placing Bo's post by its witnesses")
        (received,) = ana.profile.store.connection.execute(
            "SELECT received FROM entries WHERE id = ?", (ahead.id,)
        ).fetchone()
        at = placed()
        assert at is not None
        return at, received


def lines(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / ENTRIES_FILE).read_text(encoding="utf-8").splitlines()]


def test_each_line_says_when_the_entry_counts_and_when_the_node_received_it(made: Made) -> None:
    docs = lines(made.out)
    assert all(set(TIMES) <= set(d) for d in docs)
    doc = next(d for d in docs if d["id"] == made.ahead.id.hex())
    assert doc["clock_ms"] == made.ahead.clock  # the author's claim, three hours ahead
    assert doc["effective_clock_ms"] == made.placed and abs(made.placed - wall_ms()) < 10 * 60_000
    assert doc["effective_time_utc"] == iso_utc(made.placed)
    assert doc["received_ms"] == made.received and doc["received_utc"] == iso_utc(made.received)
    assert abs(made.received - wall_ms()) < 10 * 60_000
    with Profile.open(made.ana) as ana:
        held = dict(ana.store.connection.execute("SELECT id, received FROM entries").fetchall())
    assert {d["id"]: d["received_ms"] for d in docs} == {key.hex(): value for key, value in held.items()}
    others = [d for d in docs if d["author"] != made.ahead.author.hex()]  # Bo's later entries follow his post
    assert all(d["effective_clock_ms"] == d["clock_ms"] for d in others)  # an honest clock is never moved


def test_the_entries_table_holds_them_too_and_sorts_the_timeline_honestly(made: Made) -> None:
    db = sqlite3.connect(made.out / OPERATION_FILE)
    try:
        row = db.execute(
            "SELECT clock_ms, effective_clock_ms, effective_time_utc, received_ms, received_utc FROM entries "
            "WHERE id = ?",
            (made.ahead.id.hex(),),
        ).fetchone()
        assert row == (made.ahead.clock, made.placed, sql_time(made.placed), made.received, sql_time(made.received))
        by_claim = [i for (i,) in db.execute("SELECT id FROM entries ORDER BY clock_ms, author, seq")]
        by_effect = [i for (i,) in db.execute("SELECT id FROM entries ORDER BY effective_clock_ms, author, seq")]
        (ana,) = db.execute("SELECT author FROM entries WHERE seq = 1 AND kind = 'team.create'").fetchone()
        (last,) = db.execute("SELECT id FROM entries WHERE author = ? ORDER BY seq DESC LIMIT 1", (ana,)).fetchone()
        post = made.ahead.id.hex()  # after Ana's export heads entry by its claim, before it where it counts
        assert by_claim.index(post) > by_claim.index(last) and by_effect.index(post) < by_effect.index(last)
        assert db.execute("PRAGMA user_version").fetchone() == (4,)
    finally:
        db.close()


def test_verify_works_out_the_effective_clocks_and_takes_receipts_as_the_nodes_word(made: Made) -> None:
    report = verify_all(made.out)
    assert report.ok, report.errors
    assert not [p for p in report.problems if p.code == "effective-unchecked"]  # worked out, not only read
    with Profile.open(made.ana) as ana:
        assert report.data_checked[ENTRIES_FILE] == ana.store.count()


def _line_of(out: Path, entry: Entry) -> int:
    return next(i for i, d in enumerate(lines(out)) if d["id"] == entry.id.hex())


def _forged_line(made: Made, tmp_path: Path, **fields: object) -> tuple[VerifyReport, int]:
    out = copy_export(made.out, tmp_path / "forged")
    text = (out / ENTRIES_FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    i = _line_of(out, made.ahead)
    doc = json.loads(text[i])
    doc.update(fields)
    text[i] = json.dumps(doc, separators=(",", ":")) + "\n"
    (out / ENTRIES_FILE).write_text("".join(text), encoding="utf-8")
    resign(out, Identity.generate())
    return verify_all(out), i


def test_a_changed_effective_clock_is_named(made: Made, tmp_path: Path) -> None:
    claimed = made.ahead.clock  # "it counts when its author said": hiding that the team placed it
    report, i = _forged_line(made, tmp_path, effective_clock_ms=claimed, effective_time_utc=iso_utc(claimed))
    (problem,) = [p for p in report.errors if p.code == "entries-changed"]
    assert problem.where == f"{ENTRIES_FILE} line {i + 1}" and problem.id == made.ahead.id
    assert problem.message.endswith("in: effective_clock_ms")


def test_a_receipt_time_is_the_nodes_word_checked_for_its_form(made: Made, tmp_path: Path) -> None:
    later = made.received + 60_000
    report, _ = _forged_line(made, tmp_path, received_ms=later, received_utc=iso_utc(later))
    assert not [p for p in report.errors if p.code.startswith("entries")]  # nothing in the log can refute it
    report, i = _forged_line(made, tmp_path / "2", received_ms=later, received_utc="yesterday")
    (problem,) = [p for p in report.errors if p.code == "entries-changed"]
    assert problem.where == f"{ENTRIES_FILE} line {i + 1}" and "received_utc" in problem.message


def test_the_entries_table_is_compared_the_same_way(made: Made, tmp_path: Path) -> None:
    out = copy_export(made.out, tmp_path / "forged")
    db = sqlite3.connect(out / OPERATION_FILE)
    key = made.ahead.id.hex()
    later = made.received + 60_000
    db.execute("UPDATE entries SET received_ms = ?, received_utc = ? WHERE id = ?", (later, sql_time(later), key))
    db.commit()
    db.close()
    resign(out, Identity.generate())
    assert not [p for p in verify_all(out).errors if p.code.startswith("operation")]
    db = sqlite3.connect(out / OPERATION_FILE)
    db.execute("UPDATE entries SET effective_clock_ms = clock_ms WHERE id = ?", (key,))
    db.commit()
    db.close()
    resign(out, Identity.generate())
    (problem,) = [p for p in verify_all(out).errors if p.code == "operation-changed"]
    assert key in problem.message
    assert "effective_clock_ms" in problem.message


def test_an_export_of_version_1_still_verifies(made: Made, tmp_path: Path) -> None:
    """Lines without the times and ``operation.sqlite`` of schema 3, as meshchat wrote them before (checked
    once by hand against an export made by the code of that time: docs/formats.md)."""
    out = copy_export(made.out, tmp_path / "v1")
    text = (out / ENTRIES_FILE).read_text(encoding="utf-8").splitlines()
    old = [json.dumps({k: v for k, v in json.loads(t).items() if k not in TIMES}, separators=(",", ":")) for t in text]
    (out / ENTRIES_FILE).write_text("".join(line + "\n" for line in old), encoding="utf-8")
    (out / OPERATION_FILE).unlink()
    with Profile.open(made.ana) as ana:
        write_operation(out / OPERATION_FILE, operation_source(ana.store), version=3)
        resign(out, ana.identity, v=1)
    report = verify_all(out)
    assert report.ok, report.errors
    assert report.data_checked[OPERATION_FILE] > 0 and report.data_checked[ENTRIES_FILE] == len(old)
    db = sqlite3.connect(out / OPERATION_FILE)
    columns = [c[1] for c in db.execute("PRAGMA table_info(entries)")]
    db.close()
    assert "effective_clock_ms" not in columns
    doc = json.loads((out / manifest.MANIFEST_FILE).read_text(encoding="utf-8"))
    assert doc["v"] == 1
