"""Views as functions of entries: what each entry contributes, and the records the UI reads.

:func:`project` maps one entry to the view rows it adds. Rows never depend on arrival order and never change
once written, so the store can keep them in tables and rebuild them from the entries at any time. Who was
allowed to write what is decided when reading (see ``meshchat.log.rules``), because a late membership entry
can change it. Incidents and tasks are sets of last-writer-wins registers, ordered by ``(clock, author,
seq)``: every node picks the same winner, and the board can say who changed what and when.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from meshchat.log.attachments import Attachment, attachments_of
from meshchat.log.clock import MAX_DRIFT_MS
from meshchat.log.codec import Value, pack
from meshchat.log.entry import Entry
from meshchat.log.kinds import MAX_TEXT, MEMBERSHIP_KINDS, PRIORITIES, SHORT_ID, parse_body

FLAG_ACK_REQUIRED = 1
POSITION_KINDS = frozenset({"position", "position.clear", "position.relay"})
PRIORITY_SHIFT = 1  # bits 1-2 hold the index of the priority in PRIORITIES


class Stamp(NamedTuple):
    """Who wrote a row and where it sits in the team's one order."""

    author: bytes
    seq: int
    clock: int


class MessageRow(NamedTuple):
    """A post: the store keeps these two fields in the entry's own row (the hot path)."""

    room: bytes
    flags: int


class MarkRow(NamedTuple):
    """An ack, pin or retraction pointing at another entry by id."""

    target: bytes
    mark: str
    stamp: Stamp


class RoomRow(NamedTuple):
    room: bytes
    name: str
    topic: str
    stamp: Stamp


class RoomArchiveRow(NamedTuple):
    room: bytes
    stamp: Stamp


class ObjectRow(NamedTuple):
    """The opening of an incident or a task (``kind`` says which); its fields are registers."""

    obj: bytes
    kind: str
    parent: bytes | None  # the incident a task belongs to; the room an incident is discussed in
    stamp: Stamp
    entry_id: bytes


class RegisterRow(NamedTuple):
    obj: bytes
    name: str
    value: bytes  # canonical msgpack of the value
    stamp: Stamp
    entry_id: bytes


class CheckinRow(NamedTuple):
    checkin: bytes
    room: bytes
    question: str
    deadline: int | None
    stamp: Stamp


class CheckinReplyRow(NamedTuple):
    checkin: bytes
    status: str
    note: str
    location: bytes | None  # canonical msgpack of the answer's location, if it gave one
    stamp: Stamp


class PositionRow(NamedTuple):
    """A position report: its author's own fix (``position``), the end of its sharing (``position.clear``, no
    coordinates), or the fix of someone outside the team, relayed (``position.relay``: ``net``, ``uid`` and
    ``callsign`` say whose). Whether it counts, and which is latest, is decided on read (``log.positions``)."""

    kind: str
    net: str | None
    uid: str | None
    callsign: str | None
    lat_e7: int | None
    lon_e7: int | None
    accuracy_m: int | None
    alt_m: int | None
    heading_deg: int | None
    speed_cms: int | None
    fix_ms: int | None
    source: str | None  # "gps" or "manual" (position), "relay" (position.relay), None (position.clear)
    stamp: Stamp


class HeldRow(NamedTuple):
    """What a signed ``heads`` entry states, one author at a time: its writer (the stamp) held ``held``'s log up to
    ``upto`` (whose id is ``held_id``) when it wrote it. The evidence for removal floors and clock witnesses."""

    held: bytes
    upto: int
    held_id: bytes
    stamp: Stamp


class FileRow(NamedTuple):
    """A file attached to a post (``meshchat.log.attachments``): what the node fetches, and what HQ lists."""

    blob: bytes
    size: int
    name: str
    type: str
    room: bytes
    entry_id: bytes
    stamp: Stamp


class ControlRow(NamedTuple):
    """A membership entry, kept apart so the rules can be evaluated without reading the whole log."""

    kind: str
    body: bytes
    stamp: Stamp


ViewRow = (
    MessageRow
    | MarkRow
    | RoomRow
    | RoomArchiveRow
    | ObjectRow
    | RegisterRow
    | CheckinRow
    | CheckinReplyRow
    | HeldRow
    | FileRow
    | PositionRow
    | ControlRow
)


def message_flags(priority: str, ack_required: bool) -> int:
    return (PRIORITIES.index(priority) << PRIORITY_SHIFT) | (FLAG_ACK_REQUIRED if ack_required else 0)


_POST_FLAGS = {(p, ack): message_flags(p, ack) for p in PRIORITIES for ack in (False, True)}
_ROUTINE_FLAGS = message_flags("routine", False)


def project(entry: Entry) -> list[ViewRow]:
    """The view rows ``entry`` adds. Entries whose body does not fit their kind add nothing."""
    kind = entry.kind
    if kind == "msg.post":
        return _project_post(entry)
    if kind in MEMBERSHIP_KINDS:
        return [ControlRow(kind, entry.body_raw, Stamp(entry.author, entry.seq, entry.clock))]
    body = parse_body(kind, entry.body())
    if body is None:
        return []
    stamp = Stamp(entry.author, entry.seq, entry.clock)
    if kind in ("msg.ack", "msg.pin", "msg.retract"):
        return [MarkRow(_b(body["target"]), kind.removeprefix("msg."), stamp)]
    if kind == "room.create":
        return [RoomRow(_b(body["room"]), str(body["name"]), str(body["topic"]), stamp)]
    if kind == "room.archive":
        return [RoomArchiveRow(_b(body["room"]), stamp)]
    if kind == "incident.open":
        incident = _b(body["incident"])
        fields = {"title": body["title"], "severity": body["severity"], "status": "open"}
        if body["location"] is not None:
            fields["location"] = body["location"]
        room = body["room"]
        return [
            ObjectRow(incident, "incident", room if isinstance(room, bytes) else None, stamp, entry.id),
            *_registers(incident, fields, stamp, entry.id),
        ]
    if kind == "task.open":
        task = _b(body["task"])
        parent = body["incident"]
        task_fields: dict[str, Value] = {"title": body["title"], "owner": body["owner"], "status": "open"}
        if body["location"] is not None:
            task_fields["location"] = body["location"]
        return [
            ObjectRow(task, "task", parent if isinstance(parent, bytes) else None, stamp, entry.id),
            *_registers(task, task_fields, stamp, entry.id),
        ]
    if kind in ("incident.update", "task.update"):
        obj = _b(body[kind.split(".")[0]])
        changes = body["fields"]
        assert isinstance(changes, dict)
        return list(_registers(obj, changes, stamp, entry.id))
    if kind == "checkin.request":
        deadline = body["deadline"]
        return [
            CheckinRow(
                _b(body["checkin"]),
                _b(body["room"]),
                str(body["question"]),
                deadline if isinstance(deadline, int) else None,
                stamp,
            )
        ]
    if kind == "checkin.reply":
        where = body["location"]
        packed = pack(where) if where is not None else None
        return [CheckinReplyRow(_b(body["checkin"]), str(body["status"]), str(body["note"]), packed, stamp)]
    if kind == "heads":
        named = body["heads"]
        assert isinstance(named, dict)
        return [HeldRow(_b(author), *_held(value), stamp) for author, value in sorted(named.items())]
    if kind in POSITION_KINDS:
        return [_position_row(kind, body, stamp)]
    return []


def _position_row(kind: str, body: dict[str, Value], stamp: Stamp) -> PositionRow:
    via = body.get("via")
    net, uid, callsign = (via["net"], via["uid"], via["callsign"]) if isinstance(via, dict) else (None, None, None)
    source = "relay" if kind == "position.relay" else body.get("source")
    return PositionRow(
        kind,
        _s(net),
        _s(uid),
        _s(callsign),
        _i(body.get("lat_e7")),
        _i(body.get("lon_e7")),
        _i(body.get("accuracy_m")),
        _i(body.get("alt_m")),
        _i(body.get("heading_deg")),
        _i(body.get("speed_cms")),
        _i(body.get("fix_ms")),
        _s(source),
        stamp,
    )


def _s(value: Value) -> str | None:
    return value if isinstance(value, str) else None


def _i(value: Value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _held(value: Value) -> tuple[int, bytes]:
    assert isinstance(value, list)  # [seq, id], shapes checked by parse_body
    seq, entry_id = value
    assert isinstance(seq, int) and isinstance(entry_id, bytes)
    return seq, entry_id


def _project_post(entry: Entry) -> list[ViewRow]:
    columns = post_columns(entry.decoded_body)
    if columns is None:
        return []
    return [MessageRow(*columns), *file_rows(entry, columns[0])]


def file_rows(entry: Entry, room: bytes) -> list[FileRow]:
    """The files of a post that fits its kind (the store calls this beside :func:`post_columns`)."""
    stamp = Stamp(entry.author, entry.seq, entry.clock)
    return [FileRow(f.blob, f.size, f.name, f.type, room, entry.id, stamp) for f in attachments_of(entry.decoded_body)]


def post_columns(body: dict[str, Value]) -> tuple[bytes, int] | None:
    """The ``MessageRow`` fields ``(room, flags)`` of a ``msg.post`` body, or ``None`` if it does not fit.

    ``msg.post`` is most of every log, so its body is checked here directly: the same rules as the generic
    ``parse_body``, about four times faster. The store calls this for posts instead of :func:`project`,
    which saves building the row and the list around it.
    """
    room = body.get("room")
    text = body.get("text")
    if len(body) == 2:  # the common post: room and text only (or else one of them is missing)
        if (
            type(room) is not bytes
            or len(room) != SHORT_ID
            or type(text) is not str
            or not 0 < len(text) <= MAX_TEXT
            or not text.strip()
        ):
            return None
        return room, _ROUTINE_FLAGS
    priority = body.get("priority", "routine")
    ack = body.get("ack_required", False)
    if (
        type(room) is not bytes
        or len(room) != SHORT_ID
        or type(text) is not str
        or not 0 < len(text) <= MAX_TEXT
        or priority not in PRIORITIES
        or type(ack) is not bool
        or not text.strip()
    ):
        return None
    if ("reply_to" in body or "location" in body or "files" in body or "via" in body) and parse_body(
        "msg.post", body
    ) is None:
        return None
    return room, _POST_FLAGS[priority, ack]


SEARCHED = {  # what a search finds, per kind: the fields a person would look for
    "msg.post": ("text",),
    "incident.open": ("title", "location"),
    "incident.update": ("title", "summary", "commander", "location"),
    "task.open": ("title",),
    "task.update": ("title",),
}


def searchable_text(kind: str, body: Mapping[str, Value]) -> str | None:
    """The text an entry adds to the search index (messages, incidents, tasks), or ``None``. Updates carry
    their fields in ``fields``; locations count by their text."""
    names = SEARCHED.get(kind)
    parsed = parse_body(kind, body) if names else None
    if names is None or parsed is None:
        return None
    values = parsed["fields"] if kind.endswith(".update") else parsed
    assert isinstance(values, dict)
    parts = []
    for name in names:
        value = values.get(name)
        if isinstance(value, dict):
            value = location_text(value)
        if isinstance(value, str) and value.strip():
            parts.append(value)
    return "\n".join(parts) or None


def _registers(obj: bytes, fields: dict[str, Value], stamp: Stamp, entry_id: bytes) -> Iterable[RegisterRow]:
    for name in sorted(fields):
        yield RegisterRow(obj, name, pack(fields[name]), stamp, entry_id)


def _b(value: Value) -> bytes:
    assert isinstance(value, bytes)
    return value


# ---- records the UI and the reports read -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outsider:
    """Someone outside the team whose words or position a member's bridge relayed into the log (docs/tak.md):
    named as their own network names them, never as a member."""

    net: str  # "tak"
    uid: str
    callsign: str

    @classmethod
    def of(cls, via: Value) -> Outsider | None:
        """The ``via`` field of a body (checked by its kind) as an Outsider; ``None`` if there is none."""
        if not isinstance(via, dict):
            return None
        net, uid, callsign = via.get("net"), via.get("uid"), via.get("callsign")
        if isinstance(net, str) and isinstance(uid, str) and isinstance(callsign, str):
            return cls(net, uid, callsign)
        return None

    @property
    def label(self) -> str:
        """``ALPHA-1 (TAK)``: how every reader names the outsider (made safe where it is shown)."""
        return f"{self.callsign or self.uid} ({self.net.upper()})"


@dataclass(frozen=True, slots=True)
class Message:
    id: bytes
    room: bytes
    author: bytes
    seq: int
    clock: int
    text: str
    priority: str
    ack_required: bool
    reply_to: bytes | None
    location: Value
    retracted: bool = False
    pinned: bool = False
    acked_by: tuple[bytes, ...] = ()
    files: tuple[Attachment, ...] = ()  # attachments (meshchat.log.attachments)
    claimed: int | None = None  # the clock its author signed, where ``clock`` (its place in the order) differs
    received: int | None = None  # when this node first stored it, by its own clock (None: unknown)
    via: Outsider | None = None  # relayed from outside the team by its author's bridge: not the author's words
    late: bool = False  # it reached this node long after later entries had (see :func:`arrived_late`)

    @property
    def is_flash(self) -> bool:
        return self.priority == "flash"

    @property
    def claimed_clock(self) -> int:
        return self.clock if self.claimed is None else self.claimed

    @property
    def time_doubt(self) -> TimeDoubt | None:
        """Why its time deserves a second look (claims another time than where it sits, or reached this node
        much later than it claims), or None."""
        return time_doubt(self.claimed_clock, self.clock, self.received, late=self.late)


@dataclass(frozen=True, slots=True)
class Room:
    room: bytes
    name: str
    topic: str
    archived: bool
    created_by: bytes
    clock: int


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One register write: the board shows who changed what, and the incident timeline lists them all."""

    name: str
    value: Value
    author: bytes
    clock: int  # where it sits in the team's order (its effective clock: see meshchat.log.timing)
    seq: int
    entry_id: bytes
    claimed: int | None = None  # the clock its author signed

    @property
    def time_doubt(self) -> TimeDoubt | None:
        return time_doubt(self.clock if self.claimed is None else self.claimed, self.clock, None)


@dataclass(frozen=True, slots=True)
class Refused:
    """An entry that had no effect, and why (e.g. an open of an incident id that belongs to someone else)."""

    author: bytes
    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class TrackedObject:
    """An incident or a task: its registers resolved last-writer-wins, plus the full history."""

    obj: bytes
    kind: str
    parent: bytes | None
    opened_by: bytes
    opened_clock: int
    fields: dict[str, FieldChange]
    history: tuple[FieldChange, ...]
    refused: tuple[Refused, ...] = ()  # opens of its id that had no effect

    def get(self, name: str, default: Value = None) -> Value:
        change = self.fields.get(name)
        return change.value if change else default

    @property
    def last_change(self) -> FieldChange:
        return self.history[-1]


DOUBT_MS = MAX_DRIFT_MS  # a time off by more than clocks may drift is shown as doubtful


@dataclass(frozen=True, slots=True)
class TimeDoubt:
    """A time to read twice: the clock an entry's author signed, where the entry sits in the team's order (see
    ``meshchat.log.timing``), when it reached this node (``None``: unknown) and whether that was late."""

    claimed: int
    placed: int
    received: int | None
    late: bool = False  # see :func:`arrived_late`

    @property
    def moved(self) -> bool:
        """The team's evidence puts it elsewhere than its author's clock said."""
        return abs(self.claimed - self.placed) > DOUBT_MS


def time_doubt(claimed: int, placed: int, received: int | None, *, late: bool = False) -> TimeDoubt | None:
    """Whether an entry's time deserves a second look (``None``: it does not)."""
    doubt = TimeDoubt(claimed, placed, received, late and received is not None)
    return doubt if doubt.moved or doubt.late else None


def arrived_late(claimed: int, received: int | None, newest_held_before: int | None) -> bool:
    """Whether an entry reached this node much later than it claims *while this node already held later
    entries*: ``newest_held_before`` is the newest clock among the entries this node had stored
    :data:`DOUBT_MS` before this one arrived (see ``Store.receipts``). Written offline and synced hours later,
    held back, or backdated: the time it claims cannot be checked, so when it arrived is shown beside it. A
    node that receives a whole history at once (a newcomer, HQ) sees nothing late: there was nothing to be
    late after."""
    if received is None or newest_held_before is None:
        return False
    return received - claimed > DOUBT_MS and newest_held_before > claimed + DOUBT_MS


def time_doubt_text(doubt: TimeDoubt, when: Callable[[int], str]) -> str:
    """A doubtful time as a person reads it, ``when`` writing each time as the reader does (CLI and TUI: local
    time; HQ reports: UTC). The CLI, the TUI and the HQ timeline all say it this way."""
    parts = []
    if doubt.moved:
        parts.append(f"claims {when(doubt.claimed)}")
    if doubt.late and doubt.received is not None:
        parts.append(f"received {when(doubt.received)}")
    return ", ".join(parts)


def location_text(location: dict[str, Value]) -> str:
    """A location as a person reads it: its text, its coordinates (degrees from the stored 1e-7 units), or both.
    Every place that shows a location (CLI, TUI, HQ reports) says it the same way."""
    text = location.get("text")
    words = text if isinstance(text, str) else ""
    lat, lon = location.get("lat_e7"), location.get("lon_e7")
    if isinstance(lat, int) and isinstance(lon, int):
        coords = f"{lat / 1e7:.5f},{lon / 1e7:.5f}"
        return f"{words} ({coords})" if words else coords
    return words


def resolve_registers(
    changes: Iterable[FieldChange],
) -> tuple[dict[str, FieldChange], tuple[FieldChange, ...]]:
    """Last writer wins per field, by ``(clock, author, seq)``; returns the winners and the ordered history."""
    history = tuple(sorted(changes, key=lambda c: (c.clock, c.author, c.seq, c.name)))
    winners: dict[str, FieldChange] = {}
    for change in history:
        winners[change.name] = change
    return winners, history


@dataclass(frozen=True, slots=True)
class CheckinReply:
    author: bytes
    status: str
    note: str
    clock: int
    location: Value = None  # where the member was when answering ({text, lat_e7, lon_e7}), if it said


@dataclass(frozen=True, slots=True)
class Checkin:
    checkin: bytes
    room: bytes
    question: str
    deadline: int | None
    requested_by: bytes
    clock: int
    replies: dict[bytes, CheckinReply]  # the latest reply of each member
    missing: tuple[bytes, ...]  # current members (not observers' duty either way) who have not answered


def latest_replies(replies: Iterable[CheckinReply]) -> dict[bytes, CheckinReply]:
    """Each member's latest answer, by ``(clock)``: a member who said "need help" and then "safe" is safe."""
    latest: dict[bytes, CheckinReply] = {}
    for reply in sorted(replies, key=lambda r: (r.clock, r.author)):
        latest[reply.author] = reply
    return latest
