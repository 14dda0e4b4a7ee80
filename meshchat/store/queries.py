"""Reading the views: rooms, messages, incidents, tasks, check-ins, members.

View rows record what entries say; whether an entry had effect (its author's role at the time, removals,
forks) is decided here, on read, by the pure :class:`~meshchat.log.rules.Membership`. So a membership entry
that arrives late changes what is shown without rewriting any table, and every node shows the same thing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from meshchat.log.attachments import Attachment, attachments_of
from meshchat.log.codec import pack, unpack
from meshchat.log.effects import MarksOn, MarkStamp, Opening, OpenStamp, marks_on, opening, pin_counts
from meshchat.log.entry import MAX_ENTRY_SIZE, decode_entry
from meshchat.log.kinds import PRIORITIES, parse_body
from meshchat.log.positions import Fix
from meshchat.log.rules import Membership
from meshchat.log.views import (
    DOUBT_MS,
    FLAG_ACK_REQUIRED,
    PRIORITY_SHIFT,
    Checkin,
    CheckinReply,
    FieldChange,
    Message,
    Outsider,
    Refused,
    Room,
    TrackedObject,
    arrived_late,
    latest_replies,
    resolve_registers,
)
from meshchat.store import search as text_search
from meshchat.store.clocks import is_moved
from meshchat.store.positions import PositionViews, Track
from meshchat.store.store import Store

_MESSAGE_COLUMNS = (
    "SELECT a.key, e.seq, e.clock, e.raw, e.flags, e.received FROM entries e JOIN authors a ON a.ix = e.author "
)
_MESSAGES_BEFORE = _MESSAGE_COLUMNS + "WHERE e.room = ? AND e.clock < ? ORDER BY e.clock DESC LIMIT ?"
_MESSAGES_AFTER = _MESSAGE_COLUMNS + "WHERE e.room = ? AND e.clock > ? ORDER BY e.clock ASC LIMIT ?"
_PINNED_IN_ROOM = _MESSAGE_COLUMNS + "WHERE e.room = ? AND e.id IN (SELECT target FROM v_marks WHERE mark = 'pin')"  # noqa: S608
_MESSAGES_AT = _MESSAGE_COLUMNS + "WHERE e.room = ? AND e.clock = ?"
_MOVED_MESSAGES = _MESSAGE_COLUMNS + "WHERE e.author = ? AND e.seq BETWEEN ? AND ? AND e.room = ?"
_WINDOW = 256  # rows read per step while paging through a room's index

# A message row as the queries pass it on: (effective clock, author, seq, raw, flags, received).
Row = tuple[int, bytes, int, bytes, int, "int | None"]


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
        self._positions = PositionViews(self.conn, store.clocks.current)

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
        given), or, with ``after``, the oldest ones strictly after it. The order is the team's, by effective
        clock (``meshchat.log.timing``), and cursors are in it. Reads only what it returns, plus the few messages
        whose effective clock is not their claim, so a room of 100,000 messages opens as fast as one of ten, at
        its end, its start or anywhere between."""
        if before is not None and after is not None:
            raise ValueError("give before or after, not both")
        m = self.membership
        clocks = self.store.clocks
        moved = clocks.moved_runs()
        timing = clocks.current()

        def fits(place: tuple[int, bytes, int]) -> bool:
            if before is not None and place >= (before.clock, before.author, before.seq):
                return False
            return after is None or place > (after.clock, after.author, after.seq)

        def keep(key: bytes, seq: int, clock: int) -> bool:
            return not is_moved(moved.get(key), seq) and fits((clock, key, seq)) and m.may(key, seq, clock, "msg.post")

        picked = self._claimed_order(room, after or before, backwards=after is None, keep=keep, need=limit)
        for author, runs in moved.items():  # the few that sit elsewhere than their claim
            for first, last in runs:
                for key, seq, clock, raw, flags, received in self.conn.execute(
                    _MOVED_MESSAGES, (self.store.author_ix[author], first, last, room)
                ):
                    place = (timing.effective(key, seq, clock), key, seq)
                    if fits(place) and m.may(key, seq, clock, "msg.post"):
                        picked.append((*place, raw, flags, received))
        picked.sort(key=lambda r: r[:3])
        chosen = picked[:limit] if after is not None else picked[-limit:]
        return self._messages_from_rows(chosen, m)

    def _claimed_order(
        self, room: bytes, cursor: Cursor | None, *, backwards: bool, keep: Callable[[bytes, int, int], bool], need: int
    ) -> list[Row]:
        """Rows of ``room`` that ``keep`` keeps, from the cursor on (backwards, or forwards), read from the index
        a window at a time until ``need`` are found. A window always ends with every row of its last
        millisecond, so the rows found are exactly the next ones in the team's order."""
        rows = self.conn.execute(_MESSAGES_AT, (room, cursor.clock)).fetchall() if cursor is not None else []
        out: list[Row] = [(c, k, s, r, f, rc) for k, s, c, r, f, rc in rows if keep(k, s, c)]
        bound = cursor.clock if cursor is not None else (2**62 if backwards else -(2**62))
        while len(out) < need:
            rows = self.conn.execute(
                _MESSAGES_BEFORE if backwards else _MESSAGES_AFTER, (room, bound, _WINDOW)
            ).fetchall()
            full = len(rows) == _WINDOW
            if full:
                bound = rows[-1][2]
                rows = [r for r in rows if r[2] != bound] + self.conn.execute(_MESSAGES_AT, (room, bound)).fetchall()
            out += [(c, k, s, r, f, rc) for k, s, c, r, f, rc in rows if keep(k, s, c)]
            if not full:
                break
        return out

    def message_count(self, room: bytes, *, after_clock: int = -1) -> int:
        """How many posts the room holds after ``after_clock`` in the team's order (for unread counts; not
        filtered by role). The index counts claims; the few messages placed elsewhere are counted where they sit."""
        row = self.conn.execute("SELECT count(*) FROM entries WHERE room = ? AND clock > ?", (room, after_clock))
        count = int(row.fetchone()[0])
        clocks = self.store.clocks
        timing = clocks.current()
        for author, runs in clocks.moved_runs().items():
            for first, last in runs:
                for key, seq, clock, *_ in self.conn.execute(
                    _MOVED_MESSAGES, (self.store.author_ix[author], first, last, room)
                ):
                    count += (timing.effective(key, seq, clock) > after_clock) - (clock > after_clock)
        return count

    def message(self, id_prefix: str | bytes) -> Message | None:
        """One message by id or unique hex prefix of at least 6 digits."""
        for entry_raw, received in self._entries_by_id(id_prefix, kind="msg.post"):
            entry = decode_entry(entry_raw)
            flags = parse_body("msg.post", entry.body())
            if flags is None:
                return None
            m = self.membership
            if not m.may(entry.author, entry.seq, entry.clock, "msg.post"):
                return None
            clock = self.store.clocks.effective(entry.author, entry.seq, entry.clock)
            row = (clock, entry.author, entry.seq, entry.raw, _flags_of(flags), received)
            return self._messages_from_rows([row], m)[0]
        return None

    def files_since(self, rowid: int) -> tuple[int, list[Attachment]]:
        """Files attached to posts that take effect, among the ``v_files`` rows after ``rowid`` (each blob
        once); returns the last rowid read too, to ask again from there."""
        m = self.membership
        rows = self.conn.execute(
            "SELECT rowid, blob, size, name, type, author, seq, clock FROM v_files WHERE rowid > ? ORDER BY rowid",
            (rowid,),
        ).fetchall()
        files: dict[bytes, Attachment] = {}
        for _, blob, size, name, mime, author, seq, clock in rows:
            if blob not in files and m.may(author, seq, clock, "msg.post"):
                files[blob] = Attachment(blob, size, name, mime)
        return (rows[-1][0] if rows else rowid), list(files.values())

    def files_of(self, blobs: Sequence[bytes]) -> list[Attachment]:
        """The files with these blob ids, as posts that take effect describe them."""
        m = self.membership
        found: dict[bytes, Attachment] = {}
        for start in range(0, len(blobs), 500):
            chunk = blobs[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for blob, size, name, mime, author, seq, clock in self.conn.execute(
                f"SELECT blob, size, name, type, author, seq, clock FROM v_files WHERE blob IN ({marks})",  # noqa: S608
                chunk,
            ):
                if blob not in found and m.may(author, seq, clock, "msg.post"):
                    found[blob] = Attachment(blob, size, name, mime)
        return list(found.values())

    def unacknowledged(self, member: bytes) -> list[Message]:
        """Messages that require acknowledgement and that ``member`` has not acknowledged (nor sent)."""
        m = self.membership
        rows = self.conn.execute(_MESSAGE_COLUMNS + "WHERE e.flags & 1").fetchall()
        picked = self._placed(r for r in rows if r[0] != member and m.may(r[0], r[1], r[2], "msg.post"))
        messages = self._messages_from_rows(picked, m)
        return [msg for msg in messages if member not in msg.acked_by and not msg.retracted]

    def flashes_by(self, author: bytes) -> list[Message]:
        """The FLASH messages (those that require acknowledgement) ``author`` wrote, oldest first, retracted
        ones left out: what a sender follows until everyone has acknowledged."""
        m = self.membership
        rows = self.conn.execute(_MESSAGE_COLUMNS + "WHERE e.flags & 1 AND a.key = ?", (author,)).fetchall()
        picked = self._placed(r for r in rows if m.may(r[0], r[1], r[2], "msg.post"))
        return [msg for msg in self._messages_from_rows(picked, m) if not msg.retracted]

    def flashes(self, *, after_clock: int = -1) -> list[Message]:
        """Every FLASH message placed after ``after_clock`` in the team's order (its effective clock, so a
        backdated or far-future clock does not decide it), by anyone, oldest first, retracted ones left out
        (what the TAK bridge sends out as GeoChat). FLASH messages are few: all are read and placed."""
        m = self.membership
        rows = self.conn.execute(_MESSAGE_COLUMNS + "WHERE e.flags & 1").fetchall()
        picked = [r for r in self._placed(r for r in rows if m.may(r[0], r[1], r[2], "msg.post")) if r[0] > after_clock]
        messages = self._messages_from_rows(picked, m)
        return [msg for msg in messages if msg.is_flash and not msg.retracted]

    def pinned_in(self, room: bytes) -> list[Message]:
        """The pinned messages of ``room``, in pin order (retracted ones left out). One pass over the room's
        messages (entries are not indexed by id: looking each pin up would scan the whole log once per pin)."""
        order = {target: i for i, target in enumerate(self.pinned())}
        if not order:
            return []
        m = self.membership
        rows = self.conn.execute(_PINNED_IN_ROOM, (room,)).fetchall()
        picked = self._placed(r for r in rows if m.may(r[0], r[1], r[2], "msg.post"))
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
            picked = self._placed(r for r in rows if m.may(r[0], r[1], r[2], "msg.post"))
            found.update((message.id, message) for message in self._messages_from_rows(picked, m))
        return found

    def messages_at(self, rowids: Sequence[int]) -> dict[int, Message]:
        """The messages stored at ``rowids`` (search hits) that have effect, by rowid: one read, in chunks."""
        m = self.membership
        timing = self.store.clocks.current()
        found: dict[int, Message] = {}
        for start in range(0, len(rowids), 500):
            chunk = list(rowids[start : start + 500])
            placeholders = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                "SELECT e.rowid, a.key, e.seq, e.clock, e.raw, e.flags, e.received FROM entries e JOIN authors a "  # noqa: S608
                f"ON a.ix = e.author WHERE e.rowid IN ({placeholders}) AND e.flags IS NOT NULL",
                chunk,
            ).fetchall()
            picked: list[tuple[int, Row]] = [
                (r, (timing.effective(k, s, c), k, s, raw, f, rc))
                for r, k, s, c, raw, f, rc in rows
                if m.may(k, s, c, "msg.post")
            ]
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

    def _placed(self, rows: Iterable[tuple[bytes, int, int, bytes, int, int | None]]) -> list[Row]:
        """Message rows as read, placed at their effective clock and sorted in the team's order."""
        timing = self.store.clocks.current()
        placed = [(timing.effective(k, s, c), k, s, r, f, rc) for k, s, c, r, f, rc in rows]
        return sorted(placed, key=lambda r: r[:3])

    def pinned(self) -> list[bytes]:
        """Ids of entries pinned by a member, in pin order (the curated timeline of the HQ export)."""
        m = self.membership
        timing = self.store.clocks.current()
        rows = self.conn.execute("SELECT target, author, seq, clock FROM v_marks WHERE mark = 'pin'")
        placed = sorted((timing.effective(a, s, c), a, s, c, t) for t, a, s, c in rows)
        out: list[bytes] = []
        for _, author, seq, clock, target in placed:
            if target not in out and pin_counts(m, author, seq, clock):
                out.append(target)
        return out

    def _messages_from_rows(self, rows: Sequence[Row], m: Membership) -> list[Message]:
        entries = [decode_entry(raw) for _, _, _, raw, _, _ in rows]
        marks = self._marks([e.id for e in entries], {e.id: e.author for e in entries}, m)
        out = []
        receipts = self.store.receipts
        for entry, (clock, _, _, _, flags, received) in zip(entries, rows, strict=True):
            newest_then = None if received is None else receipts.newest_before(received - DOUBT_MS)
            body = entry.body()
            reply_to = body.get("reply_to")
            on = marks.get(entry.id, NO_MARKS)
            out.append(
                Message(
                    id=entry.id,
                    room=_bytes(body["room"]),
                    author=entry.author,
                    seq=entry.seq,
                    clock=clock,
                    text=str(body["text"]),
                    priority=PRIORITIES[(flags >> PRIORITY_SHIFT) & 3],
                    ack_required=bool(flags & FLAG_ACK_REQUIRED),
                    reply_to=reply_to if isinstance(reply_to, bytes) else None,
                    location=body.get("location"),
                    retracted=on.retracted,
                    pinned=on.pinned,
                    acked_by=on.acked_by,
                    files=attachments_of(body),
                    claimed=entry.clock,
                    received=received,
                    via=Outsider.of(body.get("via")),
                    late=arrived_late(entry.clock, received, newest_then),
                )
            )
        return out

    def _marks(self, ids: list[bytes], authors: dict[bytes, bytes], m: Membership) -> dict[bytes, MarksOn]:
        """The retractions, pins and acknowledgements that took effect on the given messages (``authors``: each
        message's author), as :func:`meshchat.log.effects.marks_on` judges them."""
        if not ids:
            return {}
        grouped: dict[bytes, list[MarkStamp]] = {}
        timing = self.store.clocks.current()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            placeholders = ",".join("?" * len(chunk))
            marks = self.conn.execute(
                f"SELECT target, mark, author, seq, clock FROM v_marks WHERE target IN ({placeholders})",  # noqa: S608
                chunk,
            )
            for target, mark, author, seq, clock in marks:
                placed = timing.effective(author, seq, clock)
                grouped.setdefault(target, []).append(MarkStamp(mark, author, seq, clock, placed))
        return {target: marks_on(m, marks, authors.get(target)) for target, marks in grouped.items()}

    def _entries_by_id(self, id_prefix: str | bytes, *, kind: str) -> list[tuple[bytes, int | None]]:
        """``(raw, received)`` of the entries of ``kind`` whose id is ``id_prefix`` (bytes) or starts with it
        (hex, 6+ digits, unique)."""
        if isinstance(id_prefix, bytes):
            rows = self.conn.execute("SELECT raw, received FROM entries WHERE id = ? AND kind = ?", (id_prefix, kind))
            return list(rows)
        prefix = id_prefix.lower()
        if len(prefix) < 6 or any(c not in "0123456789abcdef" for c in prefix):
            return []
        found = self.conn.execute(
            "SELECT raw, received FROM entries WHERE hex(id) LIKE ? AND kind = ? LIMIT 2", (prefix.upper() + "%", kind)
        ).fetchall()
        return found if len(found) == 1 else []

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
        """Incidents or tasks: who opened each (``effects.opening``) and their registers, last writer wins in
        the team's order by effective clock (a clock far ahead wins nothing)."""
        m = self.membership
        timing = self.store.clocks.current()
        opens: dict[bytes, list[OpenStamp]] = {}
        parents: dict[tuple[bytes, bytes, int], bytes | None] = {}
        for obj, parent, author, seq, clock in self.conn.execute(
            "SELECT obj, parent, author, seq, clock FROM v_objects WHERE kind = ?", (kind,)
        ):
            if m.may(author, seq, clock, f"{kind}.open"):
                opens.setdefault(obj, []).append(OpenStamp(timing.effective(author, seq, clock), author, seq))
                parents[obj, author, seq] = parent
        openings = {obj: found for obj, stamps in opens.items() if (found := opening(obj, stamps)) is not None}
        if not openings:
            return []
        changes: dict[bytes, list[FieldChange]] = {obj: [] for obj in openings}
        for obj, name, value, author, seq, clock, entry_id in self.conn.execute(
            "SELECT r.obj, r.name, r.value, r.author, r.seq, r.clock, r.entry_id FROM v_registers r "
            "JOIN v_objects o ON o.obj = r.obj AND o.kind = ?",
            (kind,),
        ):
            found = openings.get(obj)
            if found is None:
                continue
            opener = found.opener
            if (author, seq) == (opener.author, opener.seq):
                counts = True  # the opening itself (its role was checked above)
            else:
                counts = not _is_open_entry(found, author, seq) and m.may(author, seq, clock, f"{kind}.update")
            if counts:
                placed = timing.effective(author, seq, clock)
                changes[obj].append(
                    FieldChange(name, unpack(value, max_len=MAX_ENTRY_SIZE), author, placed, seq, entry_id, clock)
                )
        out = []
        for obj, found in openings.items():
            fields, history = resolve_registers(changes[obj])
            opener = found.opener
            parent = parents[obj, opener.author, opener.seq]
            refused = tuple(Refused(o.author, o.seq, reason) for o, reason in found.refused)
            out.append(TrackedObject(obj, kind, parent, opener.author, opener.placed, fields, history, refused))
        return out

    # ---- positions -----------------------------------------------------------------------------------------

    def positions(self) -> list[Fix]:
        """Each member's latest position (its latest report in its own order, unless that cleared it)."""
        return self._positions.latest(self.membership)

    def track(self, member: bytes) -> Track:
        """Everything ``member`` reported, in its own order, in segments split where it stopped sharing."""
        return self._positions.track(member, self.membership)

    def tracks(self) -> list[Track]:
        return self._positions.tracks(self.membership)

    def relayed(self) -> list[Fix]:
        """Every position a bridge relayed, by bridge and its order: what HQ sees of outsiders."""
        return self._positions.relayed(self.membership)

    def outsiders(self) -> list[Fix]:
        """The latest position of each outsider a bridge relayed (TAK users), marked with who they are."""
        return self._positions.outsiders(self.membership)

    # ---- check-ins -----------------------------------------------------------------------------------------

    def checkins(self) -> list[Checkin]:
        """Roll calls, newest first, each with every member's latest answer and who has not answered."""
        m = self.membership
        timing = self.store.clocks.current()
        replies: dict[bytes, list[CheckinReply]] = {}
        for checkin, status, note, location, author, seq, clock in self.conn.execute(
            "SELECT checkin, status, note, location, author, seq, clock FROM v_checkin_replies"
        ):
            if m.may(author, seq, clock, "checkin.reply"):
                placed = timing.effective(author, seq, clock)
                where = unpack(location, max_len=MAX_ENTRY_SIZE) if location is not None else None
                replies.setdefault(checkin, []).append(CheckinReply(author, status, note, placed, where))
        current = sorted(k for k, member in m.members.items() if member.role is not None)
        seen: set[bytes] = set()
        out = []
        requests = sorted(
            (timing.effective(author, seq, clock), author, seq, clock, checkin, room, question, deadline)
            for checkin, room, question, deadline, author, seq, clock in self.conn.execute(
                "SELECT checkin, room, question, deadline, author, seq, clock FROM v_checkins"
            )
        )
        for placed, author, seq, clock, checkin, room, question, deadline in requests:
            if checkin in seen or not m.may(author, seq, clock, "checkin.request"):
                continue
            seen.add(checkin)
            latest = latest_replies(replies.get(checkin, []))
            missing = tuple(k for k in current if k not in latest and k != author)
            out.append(Checkin(checkin, room, question, deadline, author, placed, latest, missing))
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
            # What the log says, not when this node received it (local): fixes by author and seq.
            "positions": [[f.author, f.seq, f.lat_e7, f.lon_e7, f.fix_ms] for f in self.positions()],
            "tracks": [[t.member, [[f.seq for f in s] for s in t.segments]] for t in self.tracks()],
            "outsiders": [[f.author, f.seq, f.via and f.via.uid] for f in self.outsiders()],
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


def _is_open_entry(found: Opening, author: bytes, seq: int) -> bool:
    """Whether ``(author, seq)`` is one of the refused opens (whose fields count for nothing)."""
    return any((o.author, o.seq) == (author, seq) for o, _ in found.refused)


def _flags_of(body: dict[str, Any]) -> int:
    return (PRIORITIES.index(str(body["priority"])) << PRIORITY_SHIFT) | (
        FLAG_ACK_REQUIRED if body["ack_required"] else 0
    )


def _bytes(value: object) -> bytes:
    assert isinstance(value, bytes)
    return value


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
