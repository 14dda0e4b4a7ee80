"""Reading the views: rooms, messages, incidents, tasks, check-ins, members.

View rows record what entries say; whether an entry had effect (its author's role at the time, removals,
forks) is decided here, on read, by the pure :class:`~meshchat.log.rules.Membership`. So a membership entry
that arrives late changes what is shown without rewriting any table, and every node shows the same thing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from meshchat.log.attachments import attachments_of
from meshchat.log.codec import pack, unpack
from meshchat.log.effects import MarksOn, MarkStamp, marks_on, pin_counts
from meshchat.log.entry import MAX_ENTRY_SIZE, decode_entry
from meshchat.log.kinds import PRIORITIES, parse_body
from meshchat.log.rules import Membership
from meshchat.log.views import (
    FLAG_ACK_REQUIRED,
    PRIORITY_SHIFT,
    Checkin,
    CheckinReply,
    FieldChange,
    Message,
    Room,
    TrackedObject,
    latest_replies,
    resolve_registers,
)
from meshchat.store import search as text_search
from meshchat.store.store import Store

_MESSAGE_COLUMNS = "SELECT a.key, e.seq, e.clock, e.raw, e.flags FROM entries e JOIN authors a ON a.ix = e.author "
_MESSAGES_BEFORE = _MESSAGE_COLUMNS + "WHERE e.room = ? AND e.clock < ? ORDER BY e.clock DESC LIMIT ?"
_MESSAGES_AFTER = _MESSAGE_COLUMNS + "WHERE e.room = ? AND e.clock > ? ORDER BY e.clock ASC LIMIT ?"
_PINNED_IN_ROOM = _MESSAGE_COLUMNS + "WHERE e.room = ? AND e.id IN (SELECT target FROM v_marks WHERE mark = 'pin')"  # noqa: S608


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in a room's message order: messages strictly before it come next."""

    clock: int
    author: bytes
    seq: int


@dataclass(frozen=True, slots=True)
class _RoomIndex:
    """The evaluated rooms, and the lookups a post needs, with what they were evaluated from."""

    rooms: tuple[Room, ...]
    open: tuple[Room, ...]
    by_name: dict[str, Room]  # lower-cased name -> the first room created with it
    by_hex: list[tuple[str, Room]]  # (hex id, room), sorted: prefix lookups by bisection
    membership: Membership
    marks: tuple[int | None, int | None]

    @classmethod
    def build(cls, rooms: list[Room], membership: Membership, marks: tuple[int | None, int | None]) -> _RoomIndex:
        by_name: dict[str, Room] = {}
        for room in rooms:
            by_name.setdefault(room.name.lower(), room)
        by_hex = sorted((room.room.hex(), room) for room in rooms)
        opened = tuple(room for room in rooms if not room.archived)
        return cls(tuple(rooms), opened, by_name, by_hex, membership, marks)


NO_MARKS = MarksOn()


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: a message, or an incident or task as it stands now."""

    kind: str  # "message", "incident" or "task"
    clock: int  # the message's, or the object's last change
    author: bytes  # who wrote the message, or opened the object
    text: str  # the message's text, or the object's title
    whole_words: bool  # every term is a whole word of what matched
    message: Message | None = None
    obj: TrackedObject | None = None


@dataclass(frozen=True, slots=True)
class SearchResults:
    hits: list[SearchHit]
    unindexed: int  # entries neither indexed yet nor scanned by this search (they may hold more hits)


class Views:
    """Queries over one store. Cheap to create; keeps nothing but the store and the evaluated rooms."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.connection
        self._rooms: _RoomIndex | None = None

    @property
    def membership(self) -> Membership:
        return self.store.membership

    # ---- rooms ---------------------------------------------------------------------------------------------

    def rooms(self, *, include_archived: bool = True) -> list[Room]:
        """Rooms in the order they were created. The first valid ``room.create`` of a room id wins."""
        index = self._room_index()
        return list(index.rooms if include_archived else index.open)

    def find_room(self, name_or_id: str) -> Room | None:
        """A room by exact name (case-insensitive), else by unique hex prefix of its id (4+ digits)."""
        index = self._room_index()
        by_name = index.by_name.get(name_or_id.lower())
        if by_name is not None:
            return by_name
        prefix = name_or_id.lower()
        if len(prefix) < 4:
            return None
        at = bisect_left(index.by_hex, (prefix,))
        matches = index.by_hex[at : at + 2]
        if len(matches) == 1 or (len(matches) == 2 and not matches[1][0].startswith(prefix)):
            hex_id, room = matches[0]
            return room if hex_id.startswith(prefix) else None
        return None

    def _room_index(self) -> _RoomIndex:
        """The rooms, evaluated once for what they were evaluated from: the membership (a new object whenever
        it is evaluated again) and the room rows (only ever added, so their highest rowids say whether any
        were). Every post names its room, so this keeps a post's cost apart from the number of rooms."""
        m = self.membership
        marks = self.conn.execute(
            "SELECT (SELECT max(rowid) FROM v_rooms), (SELECT max(rowid) FROM v_room_archives)"
        ).fetchone()
        index = self._rooms
        if index is None or index.membership is not m or index.marks != marks:
            index = self._rooms = _RoomIndex.build(self._evaluate_rooms(m), m, marks)
        return index

    def _evaluate_rooms(self, m: Membership) -> list[Room]:
        rooms: dict[bytes, tuple[str, str, bytes, int]] = {}
        for room, name, topic, author, seq, clock in self.conn.execute(
            "SELECT room, name, topic, author, seq, clock FROM v_rooms ORDER BY clock, author, seq"
        ):
            if room not in rooms and m.may(author, seq, clock, "room.create"):
                rooms[room] = (name, topic, author, clock)
        archived = {
            room
            for room, author, seq, clock in self.conn.execute("SELECT room, author, seq, clock FROM v_room_archives")
            if m.may(author, seq, clock, "room.archive")
        }
        return [Room(r, n, t, r in archived, a, c) for r, (n, t, a, c) in rooms.items()]

    # ---- messages ------------------------------------------------------------------------------------------

    def messages(
        self, room: bytes, *, before: Cursor | None = None, after: Cursor | None = None, limit: int = 100
    ) -> list[Message]:
        """Up to ``limit`` messages of ``room``, oldest first: the newest ones (strictly before ``before``, if
        given), or, with ``after``, the oldest ones strictly after it. Reads only what it returns, so a room of
        100,000 messages opens as fast as one of ten, at its end, its start or anywhere between."""
        if before is not None and after is not None:
            raise ValueError("give before or after, not both")
        m = self.membership
        cursor = after or before
        if after is not None:
            rows = self.conn.execute(_MESSAGES_AFTER, (room, after.clock, limit * 2 + 16)).fetchall()
        else:
            bound = before.clock if before else 2**62
            rows = self.conn.execute(_MESSAGES_BEFORE, (room, bound, limit * 2 + 16)).fetchall()
        if cursor is not None:  # messages sharing the cursor's millisecond, ordered by author and seq
            rows += self.conn.execute(
                "SELECT a.key, e.seq, e.clock, e.raw, e.flags FROM entries e JOIN authors a ON a.ix = e.author "
                "WHERE e.room = ? AND e.clock = ?",
                (room, cursor.clock),
            ).fetchall()
        picked = []
        for key, seq, clock, raw, flags in rows:
            if before is not None and (clock, key, seq) >= (before.clock, before.author, before.seq):
                continue
            if after is not None and (clock, key, seq) <= (after.clock, after.author, after.seq):
                continue
            if m.may(key, seq, clock, "msg.post"):
                picked.append((clock, key, seq, raw, flags))
        picked.sort(key=lambda r: r[:3])
        chosen = picked[:limit] if after is not None else picked[-limit:]
        return self._messages_from_rows(chosen, m)

    def message_count(self, room: bytes, *, after_clock: int = -1) -> int:
        """How many posts the room holds after ``after_clock`` (for unread counts; not filtered by role)."""
        row = self.conn.execute("SELECT count(*) FROM entries WHERE room = ? AND clock > ?", (room, after_clock))
        return int(row.fetchone()[0])

    def message(self, id_prefix: str | bytes) -> Message | None:
        """One message by id or unique hex prefix of at least 6 digits."""
        for entry_raw in self._entries_by_id(id_prefix, kind="msg.post"):
            entry = decode_entry(entry_raw)
            flags = parse_body("msg.post", entry.body())
            if flags is None:
                return None
            m = self.membership
            if not m.may(entry.author, entry.seq, entry.clock, "msg.post"):
                return None
            row = (entry.clock, entry.author, entry.seq, entry.raw, _flags_of(flags))
            return self._messages_from_rows([row], m)[0]
        return None

    def unacknowledged(self, member: bytes) -> list[Message]:
        """Messages that require acknowledgement and that ``member`` has not acknowledged (nor sent)."""
        m = self.membership
        rows = self.conn.execute(
            "SELECT a.key, e.seq, e.clock, e.raw, e.flags FROM entries e JOIN authors a ON a.ix = e.author "
            "WHERE e.flags & 1 ORDER BY e.clock"
        ).fetchall()
        picked = [(c, k, s, r, f) for k, s, c, r, f in rows if k != member and m.may(k, s, c, "msg.post")]
        messages = self._messages_from_rows(sorted(picked, key=lambda r: r[:3]), m)
        return [msg for msg in messages if member not in msg.acked_by and not msg.retracted]

    def flashes_by(self, author: bytes) -> list[Message]:
        """The FLASH messages (those that require acknowledgement) ``author`` wrote, oldest first, retracted
        ones left out: what a sender follows until everyone has acknowledged."""
        m = self.membership
        rows = self.conn.execute(
            "SELECT a.key, e.seq, e.clock, e.raw, e.flags FROM entries e JOIN authors a ON a.ix = e.author "
            "WHERE e.flags & 1 AND a.key = ? ORDER BY e.clock",
            (author,),
        ).fetchall()
        picked = [(c, k, s, r, f) for k, s, c, r, f in rows if m.may(k, s, c, "msg.post")]
        return [msg for msg in self._messages_from_rows(picked, m) if not msg.retracted]

    def pinned_in(self, room: bytes) -> list[Message]:
        """The pinned messages of ``room``, in pin order (retracted ones left out). One pass over the room's
        messages (entries are not indexed by id: looking each pin up would scan the whole log once per pin)."""
        order = {target: i for i, target in enumerate(self.pinned())}
        if not order:
            return []
        m = self.membership
        rows = self.conn.execute(_PINNED_IN_ROOM, (room,)).fetchall()
        picked = [(c, k, s, r, f) for k, s, c, r, f in rows if m.may(k, s, c, "msg.post")]
        messages = self._messages_from_rows(picked, m)
        return sorted((msg for msg in messages if msg.id in order and not msg.retracted), key=lambda msg: order[msg.id])

    def messages_by_id(self, room: bytes, ids: Sequence[bytes]) -> dict[bytes, Message]:
        """The messages of ``room`` with these ids (the ones replies answer), by id: one pass over the room, not a
        scan of the whole log per id (entries are not indexed by id)."""
        m = self.membership
        found: dict[bytes, Message] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            placeholders = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                _MESSAGE_COLUMNS + f"WHERE e.room = ? AND e.id IN ({placeholders})",
                (room, *chunk),
            ).fetchall()
            picked = [(c, k, s, r, f) for k, s, c, r, f in rows if m.may(k, s, c, "msg.post")]
            found.update((message.id, message) for message in self._messages_from_rows(picked, m))
        return found

    def messages_at(self, rowids: Sequence[int]) -> dict[int, Message]:
        """The messages stored at ``rowids`` (search hits) that have effect, by rowid: one read, in chunks."""
        m = self.membership
        found: dict[int, Message] = {}
        for start in range(0, len(rowids), 500):
            chunk = list(rowids[start : start + 500])
            placeholders = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                "SELECT e.rowid, a.key, e.seq, e.clock, e.raw, e.flags FROM entries e JOIN authors a "  # noqa: S608
                f"ON a.ix = e.author WHERE e.rowid IN ({placeholders}) AND e.flags IS NOT NULL",
                chunk,
            ).fetchall()
            picked = [(r, (c, k, s, raw, f)) for r, k, s, c, raw, f in rows if m.may(k, s, c, "msg.post")]
            made = self._messages_from_rows([row for _, row in picked], m)
            found.update((rowid, message) for (rowid, _), message in zip(picked, made, strict=True))
        return found

    def search(self, query: str, *, limit: int = 50) -> SearchResults:
        """Messages, incidents and tasks whose text holds every term of ``query`` (any case, anywhere in a word;
        whole-word hits first, then the newest). Retracted messages and entries without effect are left out;
        an incident or task is one hit, shown as it stands now. See ``meshchat.store.search``."""
        terms = text_search.terms_of(query)
        hits: list[SearchHit] = []
        objects: dict[str, dict[bytes, TrackedObject]] = {}
        seen: set[bytes] = set()
        matches = text_search.find(self.conn, terms, limit * 4)
        messages = self.messages_at([match.rowid for match in matches if match.kind == "msg.post"])
        for match in matches:
            hit = self._hit(match, terms, messages, objects, seen)
            if hit is not None:
                hits.append(hit)
        hits.sort(key=lambda h: (not h.whole_words, -h.clock))
        unindexed = text_search.pending(self.conn)
        return SearchResults(hits[:limit], max(0, unindexed - text_search.SCAN_LIMIT))

    def _hit(
        self,
        match: text_search.Match,
        terms: list[str],
        messages: dict[int, Message],
        objects: dict[str, dict[bytes, TrackedObject]],
        seen: set[bytes],
    ) -> SearchHit | None:
        words = text_search.whole_words(match.text, terms)
        if match.kind == "msg.post":
            message = messages.get(match.rowid)
            if message is None or message.retracted:
                return None
            return SearchHit("message", message.clock, message.author, message.text, words, message=message)
        kind = match.kind.split(".")[0]  # incident or task
        row = self.conn.execute("SELECT raw FROM entries WHERE rowid = ?", (match.rowid,)).fetchone()
        target = decode_entry(bytes(row[0])).body().get(kind) if row else None
        if kind not in objects:
            objects[kind] = {o.obj: o for o in self._objects(kind)}
        obj = objects[kind].get(target) if isinstance(target, bytes) else None
        if obj is None or obj.obj in seen:
            return None
        seen.add(obj.obj)
        title = str(obj.get("title") or "")
        return SearchHit(kind, obj.last_change.clock, obj.opened_by, title, words, obj=obj)

    def pinned(self) -> list[bytes]:
        """Ids of entries pinned by a member, in pin order (the curated timeline of the HQ export)."""
        m = self.membership
        rows = self.conn.execute(
            "SELECT target, author, seq, clock FROM v_marks WHERE mark = 'pin' ORDER BY clock, author, seq"
        )
        out: list[bytes] = []
        for target, author, seq, clock in rows:
            if target not in out and pin_counts(m, author, seq, clock):
                out.append(target)
        return out

    def _messages_from_rows(self, rows: Sequence[tuple[int, bytes, int, bytes, int]], m: Membership) -> list[Message]:
        entries = [decode_entry(raw) for _, _, _, raw, _ in rows]
        marks = self._marks([e.id for e in entries], {e.id: e.author for e in entries}, m)
        out = []
        for entry, (_, _, _, _, flags) in zip(entries, rows, strict=True):
            body = entry.body()
            reply_to = body.get("reply_to")
            on = marks.get(entry.id, NO_MARKS)
            out.append(
                Message(
                    id=entry.id,
                    room=_bytes(body["room"]),
                    author=entry.author,
                    seq=entry.seq,
                    clock=entry.clock,
                    text=str(body["text"]),
                    priority=PRIORITIES[(flags >> PRIORITY_SHIFT) & 3],
                    ack_required=bool(flags & FLAG_ACK_REQUIRED),
                    reply_to=reply_to if isinstance(reply_to, bytes) else None,
                    location=body.get("location"),
                    retracted=on.retracted,
                    pinned=on.pinned,
                    acked_by=on.acked_by,
                    files=attachments_of(body),
                )
            )
        return out

    def _marks(self, ids: list[bytes], authors: dict[bytes, bytes], m: Membership) -> dict[bytes, MarksOn]:
        """The retractions, pins and acknowledgements that took effect on the given messages (``authors``: each
        message's author), as :func:`meshchat.log.effects.marks_on` judges them."""
        if not ids:
            return {}
        grouped: dict[bytes, list[MarkStamp]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            placeholders = ",".join("?" * len(chunk))
            marks = self.conn.execute(
                f"SELECT target, mark, author, seq, clock FROM v_marks WHERE target IN ({placeholders}) "  # noqa: S608
                "ORDER BY clock, author, seq",
                chunk,
            )
            for target, mark, author, seq, clock in marks:
                grouped.setdefault(target, []).append(MarkStamp(mark, author, seq, clock))
        return {target: marks_on(m, marks, authors.get(target)) for target, marks in grouped.items()}

    def _entries_by_id(self, id_prefix: str | bytes, *, kind: str) -> list[bytes]:
        """Raw entries of ``kind`` whose id is ``id_prefix`` (bytes) or starts with it (hex, 6+ digits, unique)."""
        if isinstance(id_prefix, bytes):
            rows = self.conn.execute("SELECT raw FROM entries WHERE id = ? AND kind = ?", (id_prefix, kind))
            return [raw for (raw,) in rows]
        prefix = id_prefix.lower()
        if len(prefix) < 6 or any(c not in "0123456789abcdef" for c in prefix):
            return []
        found = self.conn.execute(
            "SELECT raw FROM entries WHERE hex(id) LIKE ? AND kind = ? LIMIT 2", (prefix.upper() + "%", kind)
        ).fetchall()
        return [raw for (raw,) in found] if len(found) == 1 else []

    # ---- incidents and tasks -------------------------------------------------------------------------------

    def incidents(self) -> list[TrackedObject]:
        """Every incident, most severe first, then most recently changed."""
        objects = self._objects("incident")
        return sorted(objects, key=lambda o: (_int(o.get("severity"), 5), -o.last_change.clock))

    def tasks(self, incident: bytes | None = None) -> list[TrackedObject]:
        tasks = self._objects("task")
        if incident is not None:
            tasks = [t for t in tasks if t.parent == incident]
        return sorted(tasks, key=lambda t: t.opened_clock)

    def find_object(self, kind: str, prefix: str) -> TrackedObject | None:
        """An incident or task by unique hex prefix of its id (at least 4 digits)."""
        prefix = prefix.lower()
        matches = [o for o in self._objects(kind) if o.obj.hex().startswith(prefix)]
        return matches[0] if len(matches) == 1 and len(prefix) >= 4 else None

    def _objects(self, kind: str) -> list[TrackedObject]:
        m = self.membership
        opened: dict[bytes, tuple[bytes | None, bytes, int]] = {}
        for obj, parent, author, seq, clock in self.conn.execute(
            "SELECT obj, parent, author, seq, clock FROM v_objects WHERE kind = ? ORDER BY clock, author, seq",
            (kind,),
        ):
            if obj not in opened and m.may(author, seq, clock, f"{kind}.open"):
                opened[obj] = (parent, author, clock)
        if not opened:
            return []
        changes: dict[bytes, list[FieldChange]] = {obj: [] for obj in opened}
        for obj, name, value, author, seq, clock, entry_id in self.conn.execute(
            "SELECT r.obj, r.name, r.value, r.author, r.seq, r.clock, r.entry_id FROM v_registers r "
            "JOIN v_objects o ON o.obj = r.obj AND o.kind = ?",
            (kind,),
        ):
            if obj not in changes:
                continue
            parent, opener, opened_clock = opened[obj]
            is_open = author == opener and clock == opened_clock
            if m.may(author, seq, clock, f"{kind}.open" if is_open else f"{kind}.update"):
                changes[obj].append(
                    FieldChange(name, unpack(value, max_len=MAX_ENTRY_SIZE), author, clock, seq, entry_id)
                )
        out = []
        for obj, (parent, opener, clock) in opened.items():
            fields, history = resolve_registers(changes[obj])
            if history:
                out.append(TrackedObject(obj, kind, parent, opener, clock, fields, history))
        return out

    # ---- check-ins -----------------------------------------------------------------------------------------

    def checkins(self) -> list[Checkin]:
        """Roll calls, newest first, each with every member's latest answer and who has not answered."""
        m = self.membership
        replies: dict[bytes, list[CheckinReply]] = {}
        for checkin, status, note, author, seq, clock in self.conn.execute(
            "SELECT checkin, status, note, author, seq, clock FROM v_checkin_replies"
        ):
            if m.may(author, seq, clock, "checkin.reply"):
                replies.setdefault(checkin, []).append(CheckinReply(author, status, note, clock))
        current = sorted(k for k, member in m.members.items() if member.role is not None)
        seen: set[bytes] = set()
        out = []
        for checkin, room, question, deadline, author, seq, clock in self.conn.execute(
            "SELECT checkin, room, question, deadline, author, seq, clock FROM v_checkins ORDER BY clock, author, seq"
        ):
            if checkin in seen or not m.may(author, seq, clock, "checkin.request"):
                continue
            seen.add(checkin)
            latest = latest_replies(replies.get(checkin, []))
            missing = tuple(k for k in current if k not in latest and k != author)
            out.append(Checkin(checkin, room, question, deadline, author, clock, latest, missing))
        return sorted(out, key=lambda c: -c.clock)

    # ---- everything, for tests and exports -----------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Every view, canonically encoded: two nodes that hold the same entries return identical bytes."""
        m = self.membership
        rooms = self.rooms()
        doc: dict[str, Any] = {
            "members": [
                [
                    k,
                    member.role.label if member.role is not None else None,
                    member.name,
                    member.callsign,
                    member.removed_upto,
                ]
                for k, member in sorted(m.members.items())
            ],
            "rooms": [[r.room, r.name, r.topic, r.archived, r.created_by] for r in rooms],
            "messages": [
                [
                    [
                        msg.id,
                        msg.author,
                        msg.seq,
                        msg.clock,
                        msg.text,
                        msg.priority,
                        msg.retracted,
                        msg.pinned,
                        sorted(msg.acked_by),
                    ]
                    for msg in self.messages(r.room, limit=10**9)
                ]
                for r in rooms
            ],
            "incidents": [_object_doc(o) for o in sorted(self.incidents(), key=lambda o: o.obj)],
            "tasks": [_object_doc(o) for o in self.tasks()],
            "checkins": [
                [
                    c.checkin,
                    c.question,
                    sorted([a, r.status, r.note] for a, r in c.replies.items()),
                    list(c.missing),
                ]
                for c in self.checkins()
            ],
            "forks": sorted([k, s] for k, s in self.store.forked_authors().items()),
            "pins": list(self.pinned()),
        }
        return pack(doc)


def _object_doc(obj: TrackedObject) -> list[Any]:
    return [
        obj.obj,
        obj.kind,
        obj.parent,
        obj.opened_by,
        sorted([name, change.value, change.author, change.clock] for name, change in obj.fields.items()),
        [[c.name, c.author, c.clock] for c in obj.history],
    ]


def _flags_of(body: dict[str, Any]) -> int:
    return (PRIORITIES.index(str(body["priority"])) << PRIORITY_SHIFT) | (
        FLAG_ACK_REQUIRED if body["ack_required"] else 0
    )


def _bytes(value: object) -> bytes:
    assert isinstance(value, bytes)
    return value


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
