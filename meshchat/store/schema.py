"""The SQLite schema, designed for the ingest hot path.

Measured on these machines (see docs/storage.md): a table with two UNIQUE 32-byte-blob indexes takes ~29k
rows/s; every index keyed by a random hash costs a random B-tree insert per row. So entries have exactly one
index, ``UNIQUE(author, seq)`` on a small integer author key, which a batch of one author's consecutive
entries fills in order. The rowid
is arrival order, which is what the node pushes to peers from. Entry ids are looked up only where needed
(marks by their target), never on the hot path.

Tables named ``v_*``, and the ``room`` and ``flags`` columns of ``entries``, are views of the entries:
:meth:`Store.rebuild_views` recomputes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from meshchat.log.entry import Entry
from meshchat.log.views import (
    CheckinReplyRow,
    CheckinRow,
    ControlRow,
    FileRow,
    HeldRow,
    MarkRow,
    MessageRow,
    ObjectRow,
    PositionRow,
    RegisterRow,
    RoomArchiveRow,
    RoomRow,
    Stamp,
    ViewRow,
    file_rows,
    post_columns,
    project,
)

SCHEMA_VERSION = 4

ENTRIES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
-- One row per author: a small integer key for the entries index, and the head of the author's log.
CREATE TABLE IF NOT EXISTS authors (
    ix INTEGER PRIMARY KEY,
    key BLOB NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    id BLOB NOT NULL,
    clock INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    author INTEGER NOT NULL,  -- authors.ix
    seq INTEGER NOT NULL,
    clock INTEGER NOT NULL,
    kind TEXT NOT NULL,
    id BLOB NOT NULL,
    raw BLOB NOT NULL,
    -- The message view, kept in the entry's own row: a separate table cost 4-6 us more per entry.
    room BLOB,  -- msg.post only: the room it was posted in
    flags INTEGER,  -- msg.post only: priority and ack_required (see meshchat.log.views.message_flags)
    -- When this node first stored the entry (its own: when it wrote it), by its own wall clock, in ms; NULL where
    -- unknown (entries stored before schema 2, an HQ archive). Local, never replicated: "claims 10:02, received
    -- 14:30", and the team's time as this node sees it (meshchat.log.clock).
    received INTEGER,
    UNIQUE (author, seq)
);
-- The second of two entries with one (author, seq): the proof of a fork. The first stays in entries.
CREATE TABLE IF NOT EXISTS forks (
    author BLOB NOT NULL,
    seq INTEGER NOT NULL,
    id BLOB NOT NULL,
    raw BLOB NOT NULL,
    seen_ms INTEGER NOT NULL,
    PRIMARY KEY (author, seq, id)
);
-- Signed, chain-checked entries of authors not (yet) known to be members; bounded.
CREATE TABLE IF NOT EXISTS quarantine (
    author BLOB NOT NULL,
    seq INTEGER NOT NULL,
    id BLOB NOT NULL,
    raw BLOB NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (author, seq, id)
);
-- This node's own state, never replicated: read markers, peer status, settings.
CREATE TABLE IF NOT EXISTS local (key TEXT PRIMARY KEY, value BLOB NOT NULL);
"""

# Added in schema 2 (see MIGRATIONS).
HELD_VIEW = (
    "CREATE TABLE IF NOT EXISTS v_held (held BLOB NOT NULL, upto INTEGER NOT NULL, held_id BLOB NOT NULL, "
    "author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_held_held ON v_held (held)",
)

# Added in schema 3 (see MIGRATIONS): positions, and where a roll-call answer was given.
POSITION_VIEWS = (
    "CREATE TABLE IF NOT EXISTS v_checkin_replies (checkin BLOB NOT NULL, status TEXT NOT NULL, "
    "note TEXT NOT NULL, location BLOB, author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_checkin_replies_checkin ON v_checkin_replies (checkin)",
    "CREATE TABLE IF NOT EXISTS v_positions (kind TEXT NOT NULL, net TEXT, uid TEXT, callsign TEXT, "
    "lat_e7 INTEGER, lon_e7 INTEGER, accuracy_m INTEGER, alt_m INTEGER, heading_deg INTEGER, speed_cms INTEGER, "
    "fix_ms INTEGER, source TEXT, author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_positions_author ON v_positions (author, seq)",
    "CREATE INDEX IF NOT EXISTS v_positions_relayed ON v_positions (net, uid, author, seq) WHERE net IS NOT NULL",
)

VIEWS = """
CREATE INDEX IF NOT EXISTS entries_room ON entries (room, clock) WHERE room IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_ack ON entries (clock) WHERE flags & 1;
CREATE TABLE IF NOT EXISTS v_marks (
    target BLOB NOT NULL, mark TEXT NOT NULL, author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS v_marks_target ON v_marks (target);
CREATE INDEX IF NOT EXISTS v_marks_pins ON v_marks (clock) WHERE mark = 'pin';
CREATE TABLE IF NOT EXISTS v_rooms (
    room BLOB NOT NULL, name TEXT NOT NULL, topic TEXT NOT NULL,
    author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS v_room_archives (
    room BLOB NOT NULL, author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS v_objects (
    obj BLOB NOT NULL, kind TEXT NOT NULL, parent BLOB,
    author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL, entry_id BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS v_registers (
    obj BLOB NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL,
    author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL, entry_id BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS v_registers_obj ON v_registers (obj);
CREATE TABLE IF NOT EXISTS v_checkins (
    checkin BLOB NOT NULL, room BLOB NOT NULL, question TEXT NOT NULL, deadline INTEGER,
    author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS v_control (
    kind TEXT NOT NULL, body BLOB NOT NULL, author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL
);
"""
# Added in schema 4 (see MIGRATIONS): the files attached to posts (meshchat.log.attachments).
FILES_VIEW = (
    "CREATE TABLE IF NOT EXISTS v_files (blob BLOB NOT NULL, size INTEGER NOT NULL, name TEXT NOT NULL, "
    "type TEXT NOT NULL, room BLOB NOT NULL, entry_id BLOB NOT NULL, "
    "author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS v_files_blob ON v_files (blob)",
)
VIEWS += "".join(f"{statement};\n" for statement in (*HELD_VIEW, *FILES_VIEW, *POSITION_VIEWS))


# How a store of an older schema becomes the current one: from version N, these statements, then the view rows
# of the entries of these kinds (whose rows all go to tables the statements created).
MIGRATIONS: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {
    1: (("ALTER TABLE entries ADD COLUMN received INTEGER", *HELD_VIEW), ("heads",)),
    # Roll-call answers gained a location column: their table is made again, with every answer's rows.
    2: (
        ("DROP TABLE v_checkin_replies", *POSITION_VIEWS),
        ("checkin.reply", "position", "position.clear", "position.relay"),
    ),
    3: (("DROP TABLE IF EXISTS v_files", *FILES_VIEW), ("msg.post",)),
}

# The table each view row type goes to. Its columns are the row's fields in order, the Stamp flattened to
# (author, seq, clock): a new row type needs its CREATE TABLE above and one line here.
ROW_TABLES: dict[type[ViewRow], str] = {
    MarkRow: "v_marks",
    RoomRow: "v_rooms",
    RoomArchiveRow: "v_room_archives",
    ObjectRow: "v_objects",
    RegisterRow: "v_registers",
    CheckinRow: "v_checkins",
    CheckinReplyRow: "v_checkin_replies",
    HeldRow: "v_held",
    FileRow: "v_files",
    PositionRow: "v_positions",
    ControlRow: "v_control",
}
VIEW_TABLES = tuple(ROW_TABLES.values())


def _insert(row_type: type[ViewRow], table: str) -> str:
    columns = [c for name in row_type._fields for c in (("author", "seq", "clock") if name == "stamp" else (name,))]
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608


# How each view row type is inserted, by the type's name.
INSERTS = {row_type.__name__: _insert(row_type, table) for row_type, table in ROW_TABLES.items()}


# Blobs are bound as bytearray, not bytes: the sqlite3 module (CPython 3.11) binds int, float, str and
# bytearray directly but sends every other value, bytes and None included, through its adaptation protocol,
# which builds a key tuple, looks in the adapter registry and fails two attribute lookups (one of them by
# raising and clearing an AttributeError with a formatted message). That costs ~0.8 us per bytes value;
# copying 400 bytes into a bytearray costs ~0.1 us. SQLite stores the same BLOB either way.
_blob = bytearray


def flatten(row: ViewRow) -> tuple[Any, ...]:
    """A view row as the values of its INSERT: the Stamp becomes (author, seq, clock); blobs as bytearray."""
    out: list[Any] = []
    for value in row:
        if isinstance(value, Stamp):
            out.append(_blob(value.author))
            out.append(value.seq)
            out.append(value.clock)
        elif type(value) is bytes:
            out.append(_blob(value))
        else:
            out.append(value)
    return tuple(out)


INSERT_ENTRY = (
    "INSERT INTO entries (author, seq, clock, kind, id, raw, room, flags, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Many rows per statement: SQLite then runs one statement (and opens the table and its indexes once) per
# ENTRY_ROWS_PER_INSERT rows, and the sqlite3 module releases the GIL once, not per row. Measured: 26.7k
# -> 18.4k instructions per row. 100 rows take 900 parameters, below the 999 of SQLite before 3.32.
ENTRY_ROWS_PER_INSERT = 100
INSERT_ENTRIES = INSERT_ENTRY + ", (?, ?, ?, ?, ?, ?, ?, ?, ?)" * (ENTRY_ROWS_PER_INSERT - 1)


def entry_and_view_rows(
    author_ix: int, entries: Iterable[Entry], received: int | None = None
) -> tuple[list[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
    """The ``entries`` rows (with their message columns) and the other view rows, grouped per insert."""
    entry_rows: list[tuple[Any, ...]] = []
    view_rows: dict[str, list[tuple[Any, ...]]] = {}
    add_rows(author_ix, entries, entry_rows, view_rows, received)
    return entry_rows, view_rows


def add_rows(
    author_ix: int,
    entries: Iterable[Entry],
    entry_rows: list[tuple[Any, ...]],
    view_rows: dict[str, list[tuple[Any, ...]]],
    received: int | None,
) -> None:
    """Append what :func:`entry_and_view_rows` returns to ``entry_rows`` and ``view_rows``."""
    add_entry_row = entry_rows.append
    for entry in entries:
        raw, _, _, _, _, _, seq, _, clock, kind, id_, body = entry
        room = flags = None
        if kind == "msg.post":  # most of every log: its one view row is the two message columns
            columns = post_columns(body)
            if columns is not None:
                room, flags = columns
                if "files" in body:
                    for file_row in file_rows(entry, room):
                        view_rows.setdefault("FileRow", []).append(flatten(file_row))
        else:
            for row in project(entry):
                if type(row) is MessageRow:
                    room, flags = row
                else:
                    view_rows.setdefault(type(row).__name__, []).append(flatten(row))
        add_entry_row(
            (
                author_ix,
                seq,
                clock,
                kind,
                _blob(id_),
                _blob(raw),
                None if room is None else _blob(room),
                flags,
                received,
            )
        )
