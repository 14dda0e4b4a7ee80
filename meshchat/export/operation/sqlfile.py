"""Writing ``operation.sqlite``, and opening one that came with an export (untrusted input)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from meshchat.export.operation import schema
from meshchat.export.operation.rows import ROWS, Source

APPLICATION_ID = 0x4D534843  # "MSHC": `file` and sqlite3 tell a meshchat operation file by it
BATCH = 5000


def write_operation(path: Path, source: Source, version: int = schema.SCHEMA_VERSION) -> int:
    """Write a new ``operation.sqlite`` at ``path`` (a single file: no WAL); return how many rows. ``version``:
    an older schema (verify makes a file again as the version it was written in: ``Column.since``)."""
    versioned = replace(source, version=version)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")  # a new file written once: nothing to roll back to
        conn.execute("PRAGMA synchronous = OFF")  # the export is renamed into place only when whole
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("BEGIN")
        for statement in schema.all_ddl(version):
            conn.execute(statement)
        rows = 0
        for table in (schema.README, *schema.TABLES):
            kept = [i for i, c in enumerate(table.columns) if c.since <= version]
            whole = len(kept) == len(table.columns)
            insert = f"INSERT INTO {table.name} VALUES ({', '.join('?' * len(kept))})"  # noqa: S608
            batch = []
            for row in ROWS[table.name](versioned):
                batch.append(row if whole else tuple(row[i] for i in kept))
                if len(batch) >= BATCH:
                    conn.executemany(insert, batch)
                    rows += len(batch)
                    batch = []
            conn.executemany(insert, batch)
            rows += len(batch)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return rows


def open_untrusted(path: Path) -> sqlite3.Connection:
    """Open an ``operation.sqlite`` from an export read-only, as SQLite advises for files from outside:
    no schema-defined functions run (``trusted_schema``), cell sizes checked, no memory mapping. The caller
    still compares the schema with the expected one before it reads any table (a view posing as a table
    could run any query)."""
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro&immutable=1", uri=True, isolation_level=None)
    conn.execute("PRAGMA trusted_schema = OFF")
    conn.execute("PRAGMA cell_size_check = ON")
    conn.execute("PRAGMA mmap_size = 0")
    conn.execute("PRAGMA query_only = ON")
    return conn
