"""Search over messages, incidents and tasks: an SQLite FTS5 index, kept off the ingest path.

What a person types is split into terms; a hit contains every term, anywhere, in any case (substring
matches: "sandbag" finds "Sandbags"), and hits where every term is a whole word come first, then the newest.
The index is FTS5 with the trigram tokenizer (one row per searchable entry, keyed by the entry's rowid), so a
substring search costs an index lookup, not a scan.

Indexing is not part of accepting entries (ingest is the hot path of a catch-up): :func:`index_pending` indexes
what arrived since its watermark, in batches, and the node runs it in its writer's thread after each burst
(``Node._keep_search_index``); ``meshchat search`` runs it before searching. Until the index has caught up,
:func:`search` also scans the entries not yet indexed (at most :data:`SCAN_LIMIT`) and says how many remain.
Terms shorter than three characters, which the trigram index cannot look up, are matched with ``LIKE`` on the
rows the other terms select (or on every row).

The index is derived, local state (like the ``v_*`` tables): the entries are the truth, so a home that cannot
be written (a read-only medium) searches by scanning, and :func:`reset` drops the index to be rebuilt.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from meshchat.log.codec import DecodeError
from meshchat.log.entry import EntryError, decode_entry
from meshchat.log.views import SEARCHED, searchable_text

TABLE = "search_index"
WATERMARK = "search.rowid"  # local state: every entry at or below this rowid is indexed
BATCH = 5000  # entries looked at per indexing transaction (~50 ms)
SCAN_LIMIT = 5000  # entries not yet indexed that a search scans itself (~0.1 s: the UI searches as one types)
MAX_TERMS = 8
_CREATE = f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(text, id UNINDEXED, tokenize='trigram')"
_KINDS = tuple(SEARCHED)


@dataclass(frozen=True, slots=True)
class Match:
    """An entry whose text holds every term: its rowid, id and the text searched."""

    rowid: int
    entry_id: bytes
    kind: str
    text: str


def terms_of(query: str) -> list[str]:
    """The terms of a query, case-folded, duplicates dropped (at most :data:`MAX_TERMS`)."""
    seen: list[str] = []
    for word in query.casefold().split():
        if word not in seen:
            seen.append(word)
    return seen[:MAX_TERMS]


def whole_words(text: str, terms: Sequence[str]) -> bool:
    """Whether every term occurs in ``text`` as a whole word (such hits are shown first)."""
    folded = text.casefold()
    return all(re.search(rf"(?<!\w){re.escape(t)}(?!\w)", folded) for t in terms)


# ---- keeping the index -------------------------------------------------------------------------------------


def available(conn: sqlite3.Connection) -> bool:
    """Whether this store has a search index (it is made by the first :func:`index_pending`)."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone()
    return row is not None


def watermark(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM local WHERE key = ?", (WATERMARK,)).fetchone()
    return int(bytes(row[0]).decode()) if row and available(conn) else 0


def pending(conn: sqlite3.Connection) -> int:
    """How many entries arrived after the index's watermark (not all of them are searchable)."""
    row = conn.execute("SELECT count(*) FROM entries WHERE rowid > ?", (watermark(conn),)).fetchone()
    return int(row[0])


def index_pending(conn: sqlite3.Connection, limit: int = BATCH) -> int:
    """Index up to ``limit`` entries past the watermark, inside the caller's write transaction. Returns how
    many entries it looked at (0: the index is up to date). Raises ``sqlite3.OperationalError`` where FTS5's
    trigram tokenizer is missing (SQLite before 3.34): searches then scan."""
    conn.execute(_CREATE)
    start = watermark(conn)
    rows = conn.execute(
        "SELECT rowid, kind, raw FROM entries WHERE rowid > ? ORDER BY rowid LIMIT ?", (start, limit)
    ).fetchall()
    if not rows:
        return 0
    conn.executemany(
        f"INSERT INTO {TABLE} (rowid, text, id) VALUES (?, ?, ?)",  # noqa: S608 (a constant)
        [(rowid, text, entry_id) for rowid, entry_id, _kind, text in _texts(rows)],
    )
    conn.execute("INSERT OR REPLACE INTO local VALUES (?, ?)", (WATERMARK, str(rows[-1][0]).encode()))
    return len(rows)


def _texts(rows: Sequence[tuple[int, str, bytes]]) -> list[tuple[int, bytes, str, str]]:
    """``(rowid, entry id, kind, text)`` of the searchable entries among ``rows`` (rowid, kind, raw)."""
    out = []
    for rowid, kind, raw in rows:
        if kind not in _KINDS:
            continue
        try:
            entry = decode_entry(bytes(raw))
            text = searchable_text(kind, entry.body())
        except (EntryError, DecodeError, ValueError):
            continue
        if text:
            out.append((rowid, entry.id, kind, text))
    return out


# ---- searching ---------------------------------------------------------------------------------------------


def find(conn: sqlite3.Connection, terms: Sequence[str], limit: int) -> list[Match]:
    """Up to ``limit`` entries whose text holds every term, newest first: from the index, and from a scan of
    the entries it does not hold yet."""
    if not terms:
        return []
    top = watermark(conn)
    matches = _scan(conn, terms, top, limit)
    if len(matches) < limit and available(conn):
        matches += _indexed(conn, terms, limit - len(matches))
    return matches


def _indexed(conn: sqlite3.Connection, terms: Sequence[str], limit: int) -> list[Match]:
    long_terms = [t for t in terms if len(t) >= 3]
    where, params = [], []
    if long_terms:
        where.append(f"{TABLE} MATCH ?")
        params.append(" AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms))
    for term in terms:
        if len(term) < 3:
            where.append("text LIKE ? ESCAPE '\\'")
            params.append("%" + re.sub(r"([\\%_])", r"\\\1", term) + "%")
    rows = conn.execute(
        f"SELECT s.rowid, s.id, e.kind, s.text FROM {TABLE} s JOIN entries e ON e.rowid = s.rowid "  # noqa: S608
        f"WHERE {' AND '.join(where)} ORDER BY s.rowid DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [Match(rowid, bytes(entry_id), kind, text) for rowid, entry_id, kind, text in rows]


def _scan(conn: sqlite3.Connection, terms: Sequence[str], after: int, limit: int) -> list[Match]:
    """The entries past the watermark, searched one by one (newest first, at most SCAN_LIMIT of them)."""
    placeholders = ",".join("?" * len(_KINDS))
    rows = conn.execute(
        f"SELECT rowid, kind, raw FROM entries WHERE rowid > ? AND kind IN ({placeholders}) "  # noqa: S608
        "ORDER BY rowid DESC LIMIT ?",
        (after, *_KINDS, SCAN_LIMIT),
    ).fetchall()
    found = []
    for rowid, entry_id, kind, text in _texts(rows):
        folded = text.casefold()
        if all(t in folded for t in terms):
            found.append(Match(rowid, entry_id, kind, text))
            if len(found) == limit:
                break
    return found
