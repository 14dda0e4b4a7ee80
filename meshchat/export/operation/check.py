"""Verify's side of ``operation.sqlite``: is the file what the export's log gives?

The verifier cannot trust the file's own word, and SQLite files are not byte-for-byte reproducible, so it
compares content: it rebuilds the log in a temporary store (through the one accept path, as ``import``
does), makes the tables from it with the very functions the exporter used, and compares the export's file
with that, first its schema (exactly: a view posing as a table is caught before anything is read from it),
then every table row by row in primary-key order. A changed, missing or extra row is a named problem:
table, key and column, and what the log gives instead.

This is the one part of ``verify`` that needs a store and SQLite; the checks of the evidence itself
(``meshchat.export.verify``) do not (an import-linter contract keeps it so).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from meshchat.export.chains import Add
from meshchat.export.entries import MAX_MS
from meshchat.export.errors import ExportError
from meshchat.export.operation import OPERATION_FILE, schema
from meshchat.export.operation.rows import sql_time
from meshchat.export.operation.source import operation_source
from meshchat.export.operation.sqlfile import open_untrusted, write_operation
from meshchat.export.problems import Severity
from meshchat.export.rebuild import Rebuilds
from meshchat.files import is_regular_file
from meshchat.log.rules import Membership
from meshchat.store import StoreError

E = Severity.ERROR
MAX_NAMED = 20


def check_operation(
    export: Path, membership: Membership, team: bytes, add: Add, rebuilds: Rebuilds | None = None
) -> int:
    """Compare the export's ``operation.sqlite`` with the one its log gives; return the rows compared.
    ``rebuilds``: the log stored again, shared with the run's other checks (else stored here)."""
    del membership  # the rebuilt store evaluates it again, as the exporter's store did
    found_path = export / OPERATION_FILE
    if not is_regular_file(found_path):
        return 0
    try:
        found = open_untrusted(found_path)
    except sqlite3.DatabaseError as exc:
        add(E, "operation", f"{OPERATION_FILE} cannot be read as SQLite: {exc}", where=OPERATION_FILE)
        return 0
    try:
        with ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="meshchat-verify-")))
            rebuilt = rebuilds or stack.enter_context(Rebuilds())
            return _check(export, team, found, tmp, add, rebuilt)
    except sqlite3.DatabaseError as exc:
        add(E, "operation", f"{OPERATION_FILE} cannot be read as SQLite: {exc}", where=OPERATION_FILE)
        return 0
    finally:
        found.close()


def _check(export: Path, team: bytes, found: sqlite3.Connection, tmp: Path, add: Add, rebuilds: Rebuilds) -> int:
    (version,) = found.execute("PRAGMA user_version").fetchone()
    if version not in schema.READABLE_VERSIONS:
        readable = ", ".join(map(str, schema.READABLE_VERSIONS))
        add(
            E,
            "operation-schema",
            f"{OPERATION_FILE} is of schema version {version}; this meshchat compares versions {readable}",
            where=OPERATION_FILE,
        )
        return 0
    expected_path = tmp / OPERATION_FILE
    try:
        store = rebuilds.store(export, team)  # read in one snapshot, as the exporter read its store
        write_operation(expected_path, operation_source(store), version)
    except (ExportError, StoreError) as exc:
        add(Severity.WARNING, "operation", f"{OPERATION_FILE} not checked: {exc}", where=OPERATION_FILE)
        return 0
    expected = sqlite3.connect(expected_path)
    try:
        return _compare(expected, found, add, version)
    finally:
        expected.close()


def _schema(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()


def _compare(expected: sqlite3.Connection, found: sqlite3.Connection, add: Add, version: int) -> int:
    want, have = _schema(expected), _schema(found)
    if want != have:
        names = sorted({row[1] for row in set(want) ^ set(have)})
        add(
            E,
            "operation-schema",
            f"{OPERATION_FILE}'s tables are not the ones meshchat writes (differ: {', '.join(names)}); "
            "its rows were not read",
            where=OPERATION_FILE,
        )
        return 0
    named = [0]
    total = 0
    for table in (schema.README, *schema.TABLES):
        total += _compare_table(table, expected, found, add, named, version)
    if named[0] > MAX_NAMED:
        add(E, "operation-changed", f"{named[0] - MAX_NAMED} more rows differ from the log", where=OPERATION_FILE)
    return total


def _rows(conn: sqlite3.Connection, table: schema.Table, names: list[str]) -> Iterator[tuple[Any, ...]]:
    order = ", ".join(table.key)
    yield from conn.execute(f"SELECT {', '.join(names)} FROM {table.name} ORDER BY {order}")  # noqa: S608


def _compare_table(
    table: schema.Table,
    expected: sqlite3.Connection,
    found: sqlite3.Connection,
    add: Add,
    named: list[int],
    version: int,
) -> int:
    columns = table.columns_at(version)
    names = [c.name for c in columns]
    key_at = [names.index(k) for k in table.key]
    local = [i for i, c in enumerate(columns) if c.local]
    want_rows, have_rows = _rows(expected, table, names), _rows(found, table, names)
    want, have = next(want_rows, None), next(have_rows, None)
    count = 0
    while want is not None or have is not None:
        count += 1
        want_key = tuple(want[i] for i in key_at) if want is not None else None
        have_key = tuple(have[i] for i in key_at) if have is not None else None
        if want is not None and have is not None and want_key == have_key:
            if local:
                want = _with_local(want, have, local, names)
            if want != have:
                changed = [
                    f"{name} (it says {_short(h)}, the log gives {_short(w)})"
                    for name, w, h in zip(names, want, have, strict=True)
                    if w != h or type(w) is not type(h)
                ]
                _name(add, named, table, want_key, f"differs from the log in {'; '.join(changed)}")
            want, have = next(want_rows, None), next(have_rows, None)
        elif have is None or (want is not None and _before(want_key, have_key)):
            _name(add, named, table, want_key, "is missing: the log gives this row")
            want = next(want_rows, None)
        else:
            _name(add, named, table, have_key, "is not in what the log gives (added, or its key changed)")
            have = next(have_rows, None)
    return count


def _with_local(want: tuple[Any, ...], have: tuple[Any, ...], local: list[int], names: list[str]) -> tuple[Any, ...]:
    """``want`` with the file's own values in its local columns (the exporting node's receipt times: nothing in
    the log says what they should be) where those are well formed: a time in ms, and its text beside it."""
    values = dict(zip(names, have, strict=True))
    ms, text = values.get("received_ms"), values.get("received_utc")
    well_formed = (ms is None and text is None) or (
        isinstance(ms, int) and 0 <= ms <= MAX_MS and isinstance(text, str) and text == sql_time(ms)
    )
    if not well_formed:
        return want
    out = list(want)
    for i in local:
        out[i] = have[i]
    return tuple(out)


def _before(a: tuple[Any, ...] | None, b: tuple[Any, ...] | None) -> bool:
    """SQLite's order of keys (NULL first, numbers before text), as ``ORDER BY`` returned them."""
    return _sort_key(a) < _sort_key(b)


def _sort_key(key: tuple[Any, ...] | None) -> tuple[tuple[int, Any], ...]:
    assert key is not None
    rank = {type(None): 0, int: 1, float: 1, str: 2, bytes: 3}
    return tuple((rank.get(type(v), 4), v if v is not None else 0) for v in key)


def _name(add: Add, named: list[int], table: schema.Table, key: tuple[Any, ...] | None, what: str) -> None:
    named[0] += 1
    if named[0] > MAX_NAMED:
        return
    where = ", ".join(f"{k}={_short(v)}" for k, v in zip(table.key, key or (), strict=False))
    add(E, "operation-changed", f"table {table.name}, row {where}: {what}", where=f"{OPERATION_FILE} {table.name}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
