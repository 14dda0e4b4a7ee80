"""``operation.sqlite``: an analyst at HQ answers real questions with plain SQL and gets what the app's views
say; the file opens with no meshchat; ``verify`` names a changed row."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from export_support import HOSTILE, copy_export, export, found_team, resign, sync

from meshchat.export.fullverify import verify_all
from meshchat.export.operation import OPERATION_FILE, schema
from meshchat.export.problems import VerifyReport
from meshchat.identity import Identity
from meshchat.log.entry import Entry
from meshchat.profile import Profile


@dataclass
class Op:
    out: Path
    ana: Profile
    ben: Profile
    cy: Profile
    flash: Entry
    acks: list[Entry]
    incident: bytes
    rollcall: bytes
    retracted: Entry
    promoted: Entry


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Op]:
    root = tmp_path_factory.mktemp("op")
    ana, ben, cy = found_team(root)
    ana.create_room("levee", "north levee works")
    incident = ana.open_incident("Levee breach", 2, location="north dam", room="levee")
    for a, b in ((ana, ben), (ana, cy)):
        sync(a, b)
    ben.post("levee", "Water rising at the north levee")
    cy.post("levee", HOSTILE)
    retracted = cy.post("general", "Wrong sector, ignore")
    flash = ana.post("levee", "Evacuate sector 4", flash=True)
    for a, b in ((ana, ben), (ana, cy), (ben, ana), (cy, ana)):
        sync(a, b)
    acks = [cy.ack(flash.id), ben.ack(flash.id)]
    cy.retract(retracted.id)
    ben.pin(flash.id)
    ben.update_incident(incident.hex(), {"status": "active", "commander": "Ben"})
    for a, b in ((ben, ana), (cy, ana)):
        sync(a, b)
    promoted = ana.change_role(ben.me, "admin")
    ana.update_incident(incident.hex(), {"severity": 1})
    task = ana.open_task("Sandbags to the bridge", owner=cy.me, incident=incident.hex())
    rollcall = ana.request_checkin("levee", "Roll call: are you safe?")
    sync(ana, ben)
    sync(ana, cy)
    ben.reply_checkin(rollcall, "need_help", "stuck on the roof")
    ben.reply_checkin(rollcall, "safe", "picked up")
    cy.update_task(task.hex(), {"status": "done"})
    for a, b in ((ben, ana), (cy, ana)):
        sync(a, b)
    ana.update_incident(incident.hex(), {"status": "contained"})
    ana.update_incident(incident.hex(), {"status": "closed"})
    out = root / "export"
    export(ana, out)
    yield Op(out, ana, ben, cy, flash, acks, incident, rollcall, retracted, promoted)
    for p in (ana, ben, cy):
        p.close()


@pytest.fixture
def db(op: Op) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{op.out / OPERATION_FILE}?mode=ro", uri=True)
    yield conn
    conn.close()


# ---- five questions an analyst asks, in plain SQL, against the app's own views -----------------------------


def test_who_acknowledged_the_flash_and_when(op: Op, db: sqlite3.Connection) -> None:
    rows = db.execute(
        "SELECT m.label, a.member_seq, a.clock_ms FROM acks a JOIN members m ON m.key = a.member "
        "WHERE a.message = ? ORDER BY a.clock_ms, m.label",
        (op.flash.id.hex(),),
    ).fetchall()
    shown = op.ana.views.message(op.flash.id)
    assert shown is not None
    assert {op.ana.name_of(k) for k in shown.acked_by} == {label for label, _, _ in rows}
    # Two acks written in the same millisecond tie on the clock: both sides then order by name.
    expected = sorted((a.clock, op.ana.name_of(a.author), a.seq) for a in op.acks)
    assert rows == [(name, seq, clock) for clock, name, seq in expected]


def test_what_the_incidents_status_went_through(op: Op, db: sqlite3.Connection) -> None:
    rows = db.execute(
        "SELECT h.value, m.name, h.clock_ms FROM incident_history h JOIN members m ON m.key = h.author "
        "WHERE h.incident = ? AND h.field = 'status' ORDER BY h.clock_ms, h.author, h.author_seq",
        (op.incident.hex(),),
    ).fetchall()
    (board,) = op.ana.views.incidents()
    members = op.ana.store.membership.members
    expected = [(c.value, members[c.author].name, c.clock) for c in board.history if c.name == "status"]
    assert rows == expected
    assert [r[0] for r in rows] == ["open", "active", "contained", "closed"]


def test_who_needed_help_and_who_never_answered_the_roll_call(op: Op, db: sqlite3.Connection) -> None:
    asked_for_help = db.execute(
        "SELECT m.label, a.note FROM rollcall_answers a JOIN members m ON m.key = a.member "
        "WHERE a.rollcall = ? AND a.status = 'need_help' ORDER BY a.clock_ms",
        (op.rollcall.hex(),),
    ).fetchall()
    standing = dict(
        db.execute(
            "SELECT member, status FROM rollcall_answers WHERE rollcall = ? AND latest = 1", (op.rollcall.hex(),)
        ).fetchall()
    )
    missing = {k for (k,) in db.execute("SELECT member FROM rollcall_missing WHERE rollcall = ?", (op.rollcall.hex(),))}
    (roll,) = op.ana.views.checkins()
    assert standing == {k.hex(): r.status for k, r in roll.replies.items()}  # the latest answer counts
    assert missing == {k.hex() for k in roll.missing}
    assert asked_for_help == [("Ben", "stuck on the roof")]  # and the earlier cry for help is kept


def test_the_board_as_it_stands_most_severe_first(op: Op, db: sqlite3.Connection) -> None:
    rows = db.execute(
        "SELECT id, title, severity_label, status, commander FROM incidents ORDER BY severity, changed_clock_ms DESC"
    ).fetchall()
    board = op.ana.views.incidents()
    assert rows == [
        (o.obj.hex(), o.get("title"), f"S{o.get('severity')} critical", o.get("status"), o.get("commander"))
        for o in board
    ]
    tasks = db.execute("SELECT t.title, t.status, m.label FROM tasks t JOIN members m ON m.key = t.owner").fetchall()
    assert tasks == [(t.get("title"), t.get("status"), op.ana.name_of(t.get("owner"))) for t in op.ana.views.tasks()]  # type: ignore[arg-type]


def test_messages_per_room_retractions_and_role_history(op: Op, db: sqlite3.Connection) -> None:
    per_room = dict(
        db.execute("SELECT r.name, count(*) FROM messages m JOIN rooms r ON r.id = m.room GROUP BY r.name").fetchall()
    )
    views = op.ana.views
    assert per_room == {r.name: len(views.messages(r.room, limit=10**6)) for r in views.rooms()}
    retracted = db.execute(
        "SELECT m.text, who.label FROM messages m JOIN retractions r ON r.message = m.id "
        "JOIN members who ON who.key = r.author WHERE m.retracted = 1"
    ).fetchall()
    shown = [m for r in views.rooms() for m in views.messages(r.room) if m.retracted]
    assert retracted == [(m.text, "Cy") for m in shown] == [("Wrong sector, ignore", "Cy")]
    roles = db.execute(
        "SELECT role, author, author_seq FROM member_roles WHERE member = ? ORDER BY since_clock_ms",
        (op.ben.me.hex(),),
    ).fetchall()
    assert roles[-1] == ("admin", op.ana.me.hex(), op.promoted.seq) and roles[0][0] == "member"
    assert op.ana.store.membership.role_of(op.ben.me).label == "admin"  # type: ignore[union-attr]


# ---- the file itself ---------------------------------------------------------------------------------------


def test_every_value_has_its_declared_type_and_every_key_resolves(db: sqlite3.Connection) -> None:
    """What DuckDB's SQLite reader and Datasette need: honest column types, and foreign keys that hold."""
    for table in (schema.README, *schema.TABLES):
        for column in table.columns:
            types = {t for (t,) in db.execute(f"SELECT DISTINCT typeof({column.name}) FROM {table.name}")}  # noqa: S608
            allowed = {column.type.lower()} | (set() if column.not_null else {"null"})
            assert types <= allowed, (table.name, column.name, types)
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 4
    declared = {(t.name, fk[1]) for t in schema.TABLES for fk in t.references}
    actual = {(t.name, row[2]) for t in schema.TABLES for row in db.execute(f"PRAGMA foreign_key_list({t.name})")}
    assert declared == actual and len(actual) >= 15


def test_readme_says_what_every_table_and_column_holds(db: sqlite3.Connection) -> None:
    about = dict(db.execute("SELECT name, about FROM README").fetchall())
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        assert about.get(table), table
        for (column,) in db.execute("SELECT name FROM pragma_table_info(?)", (table,)):
            assert about.get(f"{table}.{column}"), (table, column)


def test_text_is_safe_to_select_in_a_terminal(db: sqlite3.Connection) -> None:
    texts = [t for (t,) in db.execute("SELECT text FROM messages")]
    assert not any("\x1b" in t or "\u202e" in t or "\x00" in t for t in texts)
    assert any("[U+202E]" in t for t in texts)


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 shell is installed by .ci/run")
def test_it_opens_with_no_meshchat_installed(op: Op, tmp_path: Path) -> None:
    """The sqlite3 shell, and a Python that cannot import meshchat (no site-packages, another directory)."""
    shell = subprocess.run(
        ["sqlite3", "-readonly", str(op.out / OPERATION_FILE), "SELECT name FROM rooms ORDER BY name;"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.split() == ["general", "levee"]
    script = (
        "import sqlite3, sys\n"
        "try:\n    import meshchat\nexcept ImportError:\n    pass\nelse:\n    sys.exit('meshchat importable')\n"
        "c = sqlite3.connect(sys.argv[1])\n"
        "print(c.execute('SELECT count(*) FROM entries').fetchone()[0])\n"
    )
    plain = subprocess.run(  # -S: no site-packages at all, so nothing but the standard library
        [sys.executable, "-I", "-S", "-c", script, str(op.out / OPERATION_FILE)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert plain.returncode == 0, plain.stderr
    assert int(plain.stdout) == op.ana.store.count()


# ---- verify ------------------------------------------------------------------------------------------------


def test_untouched_operation_file_is_compared_with_the_log(op: Op) -> None:
    report = verify_all(op.out)
    assert report.ok, report.errors
    rows = report.data_checked[OPERATION_FILE]
    with sqlite3.connect(op.out / OPERATION_FILE) as conn:
        total = sum(
            conn.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]  # noqa: S608
            for t in (schema.README, *schema.TABLES)
        )
    assert rows == total


def _tamper(op: Op, tmp_path: Path, *statements: str) -> VerifyReport:
    """A copy whose operation.sqlite was changed with SQL, re-signed by a forger's key so that only the
    content check can tell what is wrong in it."""
    out = copy_export(op.out, tmp_path / "forged")
    conn = sqlite3.connect(out / OPERATION_FILE)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    resign(out, Identity.generate())
    return verify_all(out)


def _changes(report: VerifyReport) -> list[str]:
    return [p.message for p in report.errors if p.code.startswith("operation")]


def test_a_changed_row_is_named_with_table_key_and_column(op: Op, tmp_path: Path) -> None:
    flash = op.flash.id.hex()
    report = _tamper(op, tmp_path, f"UPDATE messages SET text = 'Stay in sector 4' WHERE id = '{flash}'")  # noqa: S608
    (message,) = _changes(report)
    assert f"table messages, row id='{flash}'" in message
    assert "text (it says 'Stay in sector 4', the log gives 'Evacuate sector 4')" in message


def test_a_deleted_or_added_row_is_named(op: Op, tmp_path: Path) -> None:
    cy_ack = op.acks[0]
    report = _tamper(
        op,
        tmp_path,
        f"DELETE FROM acks WHERE member = '{op.cy.me.hex()}'",  # noqa: S608
        f"INSERT INTO acks VALUES ('{op.flash.id.hex()}', '{op.ana.me.hex()}', 99, 1, 'x')",  # noqa: S608
    )
    messages = _changes(report)
    assert any("table acks" in m and op.cy.me.hex() in m and "is missing" in m for m in messages), messages
    assert any("table acks" in m and op.ana.me.hex() in m and "is not in what the log gives" in m for m in messages)
    assert cy_ack.seq > 0


def test_a_view_posing_as_a_table_is_refused_before_it_is_read(op: Op, tmp_path: Path) -> None:
    report = _tamper(
        op,
        tmp_path,
        "DROP TABLE rollcall_missing",
        "CREATE VIEW rollcall_missing AS SELECT id AS rollcall, asked_by AS member FROM rollcalls",
    )
    (message,) = _changes(report)
    assert "rollcall_missing" in message and "not read" in message


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00" + b"\xff" * 200, b"not a database at all" * 50])
def test_a_garbage_operation_file_is_a_clear_finding(op: Op, tmp_path: Path, content: bytes) -> None:
    out = copy_export(op.out, tmp_path / "garbage")
    (out / OPERATION_FILE).write_bytes(content)
    resign(out, Identity.generate())
    report = verify_all(out)
    (problem,) = [p for p in report.errors if p.code.startswith("operation")]
    assert problem.code in ("operation", "operation-schema") and OPERATION_FILE in problem.message
