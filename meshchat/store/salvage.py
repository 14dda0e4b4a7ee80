"""Reading what is still readable from a damaged store, for ``meshchat repair``.

A damaged SQLite file usually has a few bad pages and many good ones. Entries are read in rowid order, a few
hundred at a time; where a read fails, the reader skips ahead (1, 2, 4, ... rowids) until reads work again,
then narrows down by halving to the first rowid it can read after the damage, so that little more than the
damaged pages is lost. Nothing read here is trusted: every entry goes through the store's one accept path
(signature and chain checks), so a damaged entry is refused there like any forged one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

READ_ROWS = 500
READ_AFTER = "SELECT rowid, raw FROM entries WHERE rowid > ? ORDER BY rowid LIMIT ?"
MAX_ROWID = 2**62


@dataclass
class Salvaged:
    """What could be read from a damaged store."""

    meta: dict[str, Any] = field(default_factory=dict)  # team_id, network_key, team_name, ...
    local: dict[str, bytes] = field(default_factory=dict)  # this node's own state (read marks, peers, ...)
    entries: int = 0  # entry rows read
    unreadable: int = 0  # places where reading failed (each skipped at least one rowid)
    own_head: int = 0  # the highest seq of our own log that the store said it held
    raws: list[bytes] = field(default_factory=list)  # entries, fork proofs and quarantined entries, as read


def salvage(path: Path, me: bytes, *, on_rows: Callable[[int], None] = lambda n: None) -> Salvaged:
    """Read whatever can be read from the store at ``path`` (a copy: it is opened for writing, which a
    write-ahead log needs). ``me`` is our own key; ``on_rows`` is told how many entry rows each read gave."""
    out = Salvaged()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        out.meta = dict(_rows(conn, "SELECT key, value FROM meta"))
        out.local = {key: bytes(value) for key, value in _rows(conn, "SELECT key, value FROM local")}
        for (seq,) in _rows(conn, "SELECT seq FROM authors WHERE key = ?", (me,)):
            out.own_head = max(out.own_head, int(seq))
        for rows in _entry_rows(conn, out):
            out.entries += len(rows)
            out.raws.extend(bytes(raw) for raw in rows)
            on_rows(len(rows))
        for table in ("forks", "quarantine"):
            out.raws.extend(bytes(raw) for (raw,) in _rows(conn, f"SELECT raw FROM {table}"))  # noqa: S608
    finally:
        conn.close()
    return out


def _rows(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
    """All rows of a small query, or none if the pages it needs are damaged."""
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.DatabaseError:
        return []


def _entry_rows(conn: sqlite3.Connection, out: Salvaged) -> Iterator[list[bytes]]:
    """Entry rows in rowid order, skipping the damaged parts of the table."""
    after = 0
    while after < MAX_ROWID:
        rows, damaged = _read_after(conn, after, READ_ROWS)
        if rows:
            after = rows[-1][0]
            yield [raw for _, raw in rows]
        elif damaged:
            out.unreadable += 1
            after = _first_readable_after(conn, after)
        else:
            return


def _read_after(conn: sqlite3.Connection, after: int, limit: int) -> tuple[list[tuple[int, bytes]], bool]:
    """Rows after ``after``, up to where a read failed; and whether one did."""
    rows: list[tuple[int, bytes]] = []
    try:
        for row in conn.execute(READ_AFTER, (after, limit)):
            rows.append(row)
    except sqlite3.DatabaseError:
        return rows, True
    return rows, False


def _readable_after(conn: sqlite3.Connection, after: int) -> bool:
    rows, damaged = _read_after(conn, after, 1)
    return bool(rows) or not damaged


def _first_readable_after(conn: sqlite3.Connection, after: int) -> int:
    """A rowid past the damage that follows ``after``: reads after it work (or it is past every row)."""
    step = 1
    bad = after
    while bad + step < MAX_ROWID and not _readable_after(conn, bad + step):
        bad += step
        step *= 2
    good = min(bad + step, MAX_ROWID)
    while good - bad > 1:  # reads after ``bad`` fail, reads after ``good`` work: halve the gap
        middle = (bad + good) // 2
        if _readable_after(conn, middle):
            good = middle
        else:
            bad = middle
    return good
