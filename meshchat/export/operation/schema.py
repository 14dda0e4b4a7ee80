"""The tables of ``operation.sqlite``: one declaration per table, from which the DDL, the ``README`` table and
the verifier's comparison are all made.

Rules every table keeps, so that ``sqlite3``, Datasette, DuckDB and pandas read it alike with no meshchat:

- Declared types are honest: every value of a column is of its declared type or NULL (DuckDB's SQLite reader
  refuses a column of mixed types; ``tests/test_export_operation.py`` checks ``typeof`` of every cell).
- Keys, ids and hashes are lower-case hex TEXT: readable, joinable, and the same spelling as every report.
- Times are ``clock_ms`` (INTEGER, ms since the epoch) with ``time_utc`` TEXT ``YYYY-MM-DD HH:MM:SS.SSS``
  beside it, a form SQLite's date functions, DuckDB's ``CAST(... AS TIMESTAMP)`` and spreadsheets read.
- Text a member wrote is passed through the reports' ``clean`` (``safe_text`` with line breaks kept), so a
  ``SELECT`` in a terminal cannot be made to act on it; the exact bytes are in ``entries.body`` (JSON with
  ``\\u`` escapes) and in ``log.msgpack``.

Adding a table (positions, attachments, ...): declare it here with :class:`Table` (columns with a sentence
each, its primary key, its foreign keys and the indexes of the questions it answers), add it to
:data:`TABLES`, and give :mod:`meshchat.export.operation.rows` a function that yields its rows from the
views. The writer, the ``README`` table, verify's comparison and the type test pick it up from there.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 4  # 2: positions; tasks and roll-call answers have a location. 3: attachments. 4: entries' times
READABLE_VERSIONS = (3, 4)  # the versions verify can make again to compare a file with (see ``Column.since``)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # TEXT or INTEGER
    about: str
    not_null: bool = True
    since: int = 3  # the schema version that added it: a file of an older version is made without it
    local: bool = False  # the exporting node's own record, not a function of the log: verify checks its form only


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    about: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # the primary key: also the order in which verify compares rows
    references: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = ()  # (columns, table, their columns)
    indexes: tuple[tuple[str, ...], ...] = ()  # one per common question
    unique: tuple[tuple[str, ...], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def columns_at(self, version: int) -> tuple[Column, ...]:
        """The columns a file of schema ``version`` has (``version`` in :data:`READABLE_VERSIONS`)."""
        return tuple(c for c in self.columns if c.since <= version)

    def ddl(self, version: int = SCHEMA_VERSION) -> list[str]:
        parts = [f"{c.name} {c.type}{' NOT NULL' if c.not_null else ''}" for c in self.columns_at(version)]
        parts.append(f"PRIMARY KEY ({', '.join(self.key)})")
        parts += [f"UNIQUE ({', '.join(u)})" for u in self.unique]
        parts += [
            f"FOREIGN KEY ({', '.join(cols)}) REFERENCES {table} ({', '.join(theirs)})"
            for cols, table, theirs in self.references
        ]
        body = ",\n  ".join(parts)
        out = [f"CREATE TABLE {self.name} (\n  {body}\n)"]
        out += [
            f"CREATE INDEX {self.name}_by_{'_'.join(cols)} ON {self.name} ({', '.join(cols)})" for cols in self.indexes
        ]
        return out


def _time(prefix: str = "", what: str = "the entry's clock") -> tuple[Column, Column]:
    return (
        Column(f"{prefix}clock_ms", "INTEGER", f"{what}, ms since 1970-01-01 UTC"),
        Column(f"{prefix}time_utc", "TEXT", f"{what} as YYYY-MM-DD HH:MM:SS.SSS, UTC"),
    )


def _by(role: str = "author") -> tuple[Column, Column]:
    return (
        Column(role, "TEXT", f"the {role}'s key (members.key)"),
        Column(f"{role}_seq", "INTEGER", f"the seq of the {role}'s entry: their own number for it (entries.seq)"),
    )


_ENTRY_OF = (("author", "author_seq"), "entries", ("author", "seq"))

TEAM = Table(
    "team",
    "The team: one row.",
    (
        Column("id", "TEXT", "the team id (the id of its genesis entry)"),
        Column("name", "TEXT", "the team's name, from its genesis entry"),
        Column("founder", "TEXT", "the founder's key (the owner)"),
        *_time("created_", "the genesis entry's clock"),
        Column("entries", "INTEGER", "how many entries the log holds"),
        Column("schema_version", "INTEGER", "the version of this file's tables"),
    ),
    ("id",),
)
MEMBERS = Table(
    "members",
    "Everyone who ever held a role in the team, and every author of the log.",
    (
        Column("key", "TEXT", "the member's public key, hex"),
        Column("name", "TEXT", "their name now (member.profile or member.add)"),
        Column("callsign", "TEXT", "their callsign now"),
        Column("label", "TEXT", "how every report names them: callsign (name)"),
        Column("role", "TEXT", "owner, admin, member or observer; removed; unknown (never a member)"),
        Column("added_by", "TEXT", "who added or invited them (members.key); NULL for the founder", not_null=False),
        *_time("since_", "when they got their first role"),
        Column("removed_by", "TEXT", "who removed them, or NULL", not_null=False),
        Column("removed_upto_seq", "INTEGER", "their entries after this seq have no effect; NULL", not_null=False),
        Column("entries", "INTEGER", "how many entries of theirs the log holds"),
    ),
    ("key",),
)
MEMBER_ROLES = Table(
    "member_roles",
    "Role history: every change of a member's role, in the team's order.",
    (
        Column("member", "TEXT", "whose role changed (members.key)"),
        Column("role", "TEXT", "the role from then on: owner, admin, member, observer, or removed"),
        *_time("since_", "the clock of the entry that set it"),
        *_by("author"),
    ),
    ("member", "since_clock_ms", "author", "author_seq"),
    ((("member",), "members", ("key",)), _ENTRY_OF),
)
ROOMS = Table(
    "rooms",
    "Rooms, as the app shows them (the first valid room.create of an id wins).",
    (
        Column("id", "TEXT", "the room id"),
        Column("name", "TEXT", "the room's name"),
        Column("topic", "TEXT", "its topic"),
        Column("archived", "INTEGER", "1 if an admin archived it"),
        Column("created_by", "TEXT", "who created it (members.key)"),
        *_time("created_", "when"),
    ),
    ("id",),
    ((("created_by",), "members", ("key",)),),
)
MESSAGES = Table(
    "messages",
    "Every message the app shows, retracted ones included (marked), with their marks counted.",
    (
        Column("id", "TEXT", "the message's entry id (entries.id)"),
        Column("room", "TEXT", "rooms.id"),
        Column("author", "TEXT", "members.key"),
        Column("author_seq", "INTEGER", "the author's own number for it (the entry's seq)"),
        *_time(),
        Column("priority", "TEXT", "routine, priority, immediate or flash"),
        Column("ack_required", "INTEGER", "1 if everyone must acknowledge it (FLASH)"),
        Column("acks", "INTEGER", "how many members acknowledged it (see acks)"),
        Column("retracted", "INTEGER", "1 if retracted by its author or an admin (see retractions)"),
        Column("pinned", "INTEGER", "1 if a member pinned it (see pins)"),
        Column("reply_to", "TEXT", "the id of the message it answers, or NULL", not_null=False),
        Column("location", "TEXT", "where it was sent from, as text and coordinates, or NULL", not_null=False),
        Column("text", "TEXT", "the message (invisible characters shown as [U+XXXX])"),
    ),
    ("id",),
    (
        (("id",), "entries", ("id",)),
        (("room",), "rooms", ("id",)),
        (("author",), "members", ("key",)),
    ),
    (("room", "clock_ms"), ("author", "clock_ms"), ("priority", "clock_ms")),
)
ACKS = Table(
    "acks",
    "Acknowledgements that had effect: who acknowledged which message, when, under which of their numbers.",
    (
        Column("message", "TEXT", "messages.id"),
        *_by("member"),
        *_time(what="the clock of the msg.ack entry"),
    ),
    ("message", "member"),
    (
        (("message",), "messages", ("id",)),
        (("member",), "members", ("key",)),
        (("member", "member_seq"), "entries", ("author", "seq")),
    ),
    (("member", "clock_ms"),),
)
RETRACTIONS = Table(
    "retractions",
    "Retractions that had effect (by the message's author, or an admin). The message stays in messages.",
    (
        Column("message", "TEXT", "messages.id"),
        *_by("author"),
        *_time(what="the clock of the msg.retract entry"),
    ),
    ("message", "author", "author_seq"),
    ((("message",), "messages", ("id",)), _ENTRY_OF),
)
PINS = Table(
    "pins",
    "Pinned entries (notable: the ICS-214 activity log draws on them), the first pin of each.",
    (
        Column("target", "TEXT", "the pinned entry (entries.id): a message, or an incident or task entry"),
        Column("target_kind", "TEXT", "the pinned entry's kind"),
        *_by("author"),
        *_time(what="the clock of the msg.pin entry"),
    ),
    ("target",),
    ((("target",), "entries", ("id",)), _ENTRY_OF),
)
INCIDENTS = Table(
    "incidents",
    "The incident board: every incident with its fields as the board shows them now (last writer wins).",
    (
        Column("id", "TEXT", "the incident id"),
        Column("title", "TEXT", "its title"),
        Column("severity", "INTEGER", "1 (most severe) to 5", not_null=False),
        Column("severity_label", "TEXT", "as the board says it: S1 critical ... S5 info"),
        Column("status", "TEXT", "open, active, contained or closed"),
        Column("commander", "TEXT", "the incident commander, as written, or NULL", not_null=False),
        Column("location", "TEXT", "where, as text and coordinates, or NULL", not_null=False),
        Column("summary", "TEXT", "the latest summary, or NULL", not_null=False),
        Column("room", "TEXT", "the room where it is discussed (rooms.id), or NULL", not_null=False),
        Column("opened_by", "TEXT", "members.key"),
        *_time("opened_", "when it was opened"),
        *_time("changed_", "its last change"),
    ),
    ("id",),
    ((("opened_by",), "members", ("key",)),),
    (("status",), ("severity",)),
)
_HISTORY_COLUMNS = (
    Column("field", "TEXT", "title, severity, status, commander, owner, location or summary"),
    Column("value", "TEXT", "the value written (numbers in decimal, members by key, locations as text)"),
    *_by("author"),
    *_time(),
    Column("entry", "TEXT", "the entry that wrote it (entries.id)"),
)
INCIDENT_HISTORY = Table(
    "incident_history",
    "Every field change of every incident that had effect, in the team's order: the board's full history.",
    (Column("incident", "TEXT", "incidents.id"), *_HISTORY_COLUMNS),
    ("entry", "field"),
    ((("incident",), "incidents", ("id",)), (("entry",), "entries", ("id",)), _ENTRY_OF),
    (("incident", "field", "clock_ms"),),
)
TASKS = Table(
    "tasks",
    "Tasks with their fields now (last writer wins).",
    (
        Column("id", "TEXT", "the task id"),
        Column("incident", "TEXT", "the incident it belongs to (incidents.id), or NULL", not_null=False),
        Column("title", "TEXT", "its title"),
        Column("status", "TEXT", "open, done or cancelled"),
        Column("owner", "TEXT", "who owns it (a member's key), or NULL", not_null=False),
        Column("location", "TEXT", "where, as text and coordinates, or NULL", not_null=False),
        Column("opened_by", "TEXT", "members.key"),
        *_time("opened_", "when it was opened"),
        *_time("changed_", "its last change"),
    ),
    ("id",),
    ((("opened_by",), "members", ("key",)),),
    (("incident",), ("owner",)),
)
TASK_HISTORY = Table(
    "task_history",
    "Every field change of every task that had effect, in the team's order.",
    (Column("task", "TEXT", "tasks.id"), *_HISTORY_COLUMNS),
    ("entry", "field"),
    ((("task",), "tasks", ("id",)), (("entry",), "entries", ("id",)), _ENTRY_OF),
    (("task", "field", "clock_ms"),),
)
ROLLCALLS = Table(
    "rollcalls",
    "Roll calls (check-in requests) with how they stand: answers counted by each member's latest answer.",
    (
        Column("id", "TEXT", "the roll call id"),
        Column("room", "TEXT", "rooms.id"),
        Column("question", "TEXT", "what was asked"),
        Column("deadline_ms", "INTEGER", "the deadline, ms since the epoch, or NULL", not_null=False),
        Column("asked_by", "TEXT", "who asked (members.key)"),
        *_time(),
        Column("safe", "INTEGER", "members whose latest answer is safe"),
        Column("need_help", "INTEGER", "members whose latest answer is need_help"),
        Column("missing", "INTEGER", "members who have not answered (see rollcall_missing)"),
    ),
    ("id",),
    ((("asked_by",), "members", ("key",)),),
)
ROLLCALL_ANSWERS = Table(
    "rollcall_answers",
    "Every answer to a roll call that had effect (a member may answer twice: need help, then safe).",
    (
        Column("rollcall", "TEXT", "rollcalls.id"),
        *_by("member"),
        *_time(),
        Column("status", "TEXT", "safe or need_help"),
        Column("note", "TEXT", "what they added"),
        Column("location", "TEXT", "where they said they were, as text and coordinates, or NULL", not_null=False),
        Column("latest", "INTEGER", "1 for the member's latest answer: the one the roll call counts"),
    ),
    ("member", "member_seq"),
    (
        (("rollcall",), "rollcalls", ("id",)),
        (("member",), "members", ("key",)),
        (("member", "member_seq"), "entries", ("author", "seq")),
    ),
    (("rollcall", "status"),),
)
ROLLCALL_MISSING = Table(
    "rollcall_missing",
    "Who has not answered each roll call (current members, the one who asked excepted).",
    (Column("rollcall", "TEXT", "rollcalls.id"), Column("member", "TEXT", "members.key")),
    ("rollcall", "member"),
    ((("rollcall",), "rollcalls", ("id",)), (("member",), "members", ("key",))),
)
POSITIONS = Table(
    "positions",
    "Every position report that had effect, by author and their order: a member's own (kind fix), the end of "
    "its sharing (cleared: no coordinates) and an outsider's a bridge relayed (relayed, with the outsider). "
    "fix_ms is the time the fix claims (its author's word); clock_ms its entry's place in the team's order "
    "(its effective clock). Latest is by author_seq.",
    (
        *_by("author"),
        *_time(),
        Column("kind", "TEXT", "fix, cleared or relayed"),
        Column("lat", "REAL", "latitude, degrees WGS 84 (NULL when cleared)", not_null=False),
        Column("lon", "REAL", "longitude, degrees WGS 84 (NULL when cleared)", not_null=False),
        Column("lat_e7", "INTEGER", "latitude in 1e-7 degree, exactly as the entry says", not_null=False),
        Column("lon_e7", "INTEGER", "longitude in 1e-7 degree, exactly as the entry says", not_null=False),
        Column("mgrs", "TEXT", "the MGRS reference, to the metre", not_null=False),
        Column("accuracy_m", "INTEGER", "how far the place may be from the point, metres", not_null=False),
        Column("alt_m", "INTEGER", "altitude above the WGS 84 ellipsoid, metres, or NULL", not_null=False),
        Column("heading_deg", "INTEGER", "course over ground, degrees from true north, or NULL", not_null=False),
        Column("speed_cms", "INTEGER", "speed over ground, cm/s, or NULL", not_null=False),
        Column("source", "TEXT", "gps or manual (fix), relay (relayed)", not_null=False),
        Column("fix_ms", "INTEGER", "when the fix claims it was taken, ms since the epoch", not_null=False),
        Column("fix_utc", "TEXT", "fix_ms as YYYY-MM-DD HH:MM:SS.SSS, UTC", not_null=False),
        Column("time_doubtful", "INTEGER", "1 when the fix claims a time over 5 minutes after clock_ms"),
        Column("outsider_net", "TEXT", "relayed: the outsider's network (tak)", not_null=False),
        Column("outsider_uid", "TEXT", "relayed: the outsider's uid on that network", not_null=False),
        Column("outsider_callsign", "TEXT", "relayed: the outsider's callsign there", not_null=False),
    ),
    ("author", "author_seq"),
    ((("author",), "members", ("key",)), _ENTRY_OF),
    (("kind", "clock_ms"), ("outsider_uid",)),
)
ATTACHMENTS = Table(
    "attachments",
    "The files messages carry, one row per file of each message, as the signed entry describes it. The file "
    "itself is in the export as attachments/<blob> if the exporting node had fetched it (the manifest's "
    "attachment_files; a file it never fetched is listed there by id only).",
    (
        Column("message", "TEXT", "messages.id"),
        Column("position", "INTEGER", "the file's place among the message's files, from 1"),
        Column("blob", "TEXT", "the file's id: BLAKE2b-256 over its size and its chunks' hashes (docs/formats.md)"),
        Column("size", "INTEGER", "its size in bytes"),
        Column("name", "TEXT", "its name as the sender gave it (invisible characters shown as [U+XXXX])"),
        Column("type", "TEXT", "its MIME type as the sender's node read it"),
        Column("width", "INTEGER", "an image's width in pixels, or NULL", not_null=False),
        Column("height", "INTEGER", "an image's height in pixels, or NULL", not_null=False),
    ),
    ("message", "position"),
    ((("message",), "messages", ("id",)),),
    (("blob",),),
)
ENTRIES = Table(
    "entries",
    "The raw log: every entry, decoded, as in entries.jsonl. Everything above is derived from these.",
    (
        Column("id", "TEXT", "the entry id: BLAKE2b-256 of header and signature"),
        Column("author", "TEXT", "members.key"),
        Column("seq", "INTEGER", "its place in the author's chain, from 1"),
        *_time(what="the clock the author wrote"),
        Column("kind", "TEXT", "msg.post, msg.ack, incident.update, member.add, ..."),
        Column("prev", "TEXT", "the id of the author's entry before, or NULL for seq 1", not_null=False),
        Column("body", "TEXT", "the body as JSON, bytes as hex, text exact (JSON escapes for invisible characters)"),
        Column("sig", "TEXT", "the author's Ed25519 signature, hex"),
        Column(
            "effective_clock_ms",
            "INTEGER",
            "when the entry counts, ms since 1970-01-01 UTC: its effective clock, worked out from the whole log "
            "(the team's heads entries bound a clock that is off); every view above orders by it",
            since=4,
        ),
        Column("effective_time_utc", "TEXT", "effective_clock_ms as YYYY-MM-DD HH:MM:SS.SSS, UTC", since=4),
        Column(
            "received_ms",
            "INTEGER",
            "when the exporting node first stored the entry, by its own clock, ms since 1970-01-01 UTC; NULL where it "
            "recorded none (an HQ archive). Its word only: nothing in the log confirms it",
            not_null=False,
            since=4,
            local=True,
        ),
        Column(
            "received_utc",
            "TEXT",
            "received_ms as YYYY-MM-DD HH:MM:SS.SSS, UTC, or NULL",
            not_null=False,
            since=4,
            local=True,
        ),
    ),
    ("id",),
    ((("author",), "members", ("key",)),),
    (("kind", "clock_ms"), ("clock_ms",)),
    (("author", "seq"),),
)

TABLES: tuple[Table, ...] = (
    TEAM,
    MEMBERS,
    MEMBER_ROLES,
    ROOMS,
    MESSAGES,
    ATTACHMENTS,
    ACKS,
    RETRACTIONS,
    PINS,
    INCIDENTS,
    INCIDENT_HISTORY,
    TASKS,
    TASK_HISTORY,
    ROLLCALLS,
    ROLLCALL_ANSWERS,
    ROLLCALL_MISSING,
    POSITIONS,
    ENTRIES,
)

README = Table(
    "README",
    "What each table and column holds. Start here: SELECT * FROM README;",
    (
        Column("name", "TEXT", "a table, or table.column"),
        Column("about", "TEXT", "what it holds"),
    ),
    ("name",),
)


def readme_rows(version: int = SCHEMA_VERSION) -> list[tuple[str, str]]:
    rows = [(README.name, README.about)] + [(f"{README.name}.{c.name}", c.about) for c in README.columns]
    for table in TABLES:
        rows.append((table.name, table.about))
        rows += [(f"{table.name}.{c.name}", c.about) for c in table.columns_at(version)]
    return rows


def all_ddl(version: int = SCHEMA_VERSION) -> list[str]:
    """Every statement that creates the file's tables and indexes, in order."""
    out = README.ddl(version)
    for table in TABLES:
        out += table.ddl(version)
    return out
