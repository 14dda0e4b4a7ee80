"""Reading one team's log out of a store in log-stream order, and within one consistent snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from meshchat.export.entries import Placed
from meshchat.export.summary import log_order_key
from meshchat.log.entry import decode_entry
from meshchat.store import Store

CHUNK = 5000


def log_order(store: Store) -> list[bytes]:
    """Every author the store holds, in log-stream order (clock of their first entry, then key)."""
    keys = []
    for author in store.heads():
        first = store.entry(author, 1)
        keys.append((log_order_key(first.clock if first else 0, author), author))
    return [author for _, author in sorted(keys)]


def author_entries(store: Store, author: bytes, after: int, upto: int) -> Iterator[bytes]:
    """Raw entries of ``author`` with seq in ``(after, upto]``, in seq order, read in chunks."""
    while after < upto:
        chunk = store.entries_after(author, after, limit=CHUNK, upto=upto)
        if not chunk:
            return
        yield from chunk
        after += len(chunk)


def author_rows(store: Store, author: bytes, after: int, upto: int) -> Iterator[tuple[str, bytes]]:
    """``(kind, raw)`` of ``author``'s entries with seq in ``(after, upto]``: the kind column lets a caller
    skip decoding the posts and acks that make up most of a log (the store decoded them when it took them)."""
    while after < upto:
        rows = store.connection.execute(
            "SELECT e.kind, e.raw FROM entries e JOIN authors a ON a.ix = e.author "
            "WHERE a.key = ? AND e.seq > ? AND e.seq <= ? ORDER BY e.seq LIMIT ?",
            (author, after, upto, CHUNK),
        ).fetchall()
        if not rows:
            return
        yield from rows
        after += len(rows)


def team_order(store: Store) -> Iterator[Placed]:
    """Every entry of the log in the team's one order ``(clock, author, seq)`` (``entries.jsonl``), placed."""
    timing = store.clocks.current()
    rows = store.connection.execute(
        "SELECT e.raw, e.received FROM entries e JOIN authors a ON a.ix = e.author ORDER BY e.clock, a.key, e.seq"
    )
    for raw, received in rows:
        entry = decode_entry(raw)
        yield Placed(entry, timing.effective(entry.author, entry.seq, entry.clock), received)


@contextmanager
def snapshot(store: Store) -> Iterator[None]:
    """One read transaction: a node may keep writing to the store (WAL), and every read here sees the same
    entries, so the log, the manifest and the reports agree with each other."""
    conn = store.connection
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT count(*) FROM meta").fetchone()  # the snapshot starts at the first read
        yield
    finally:
        conn.execute("ROLLBACK")
