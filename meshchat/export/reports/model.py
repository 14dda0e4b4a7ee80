"""Everything the reports show, read once from a store: people, rooms, messages with their marks,
incidents and tasks with their history, roll calls with every answer, pins.

Most of it comes from :class:`~meshchat.store.queries.Views`, so a report shows what the UI shows. The UI
needs only the latest answer of a roll call and the *fact* of a retraction or an acknowledgement; a report
for HQ needs each answer, and who retracted or acknowledged with which of their own message numbers. Those
few reads go to the view tables here, with authority applied exactly as ``Views`` applies it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from meshchat.log.codec import Value, unpack
from meshchat.log.effects import MarkStamp, marks_on
from meshchat.log.entry import MAX_ENTRY_SIZE, Entry, decode_entry
from meshchat.log.positions import Fix
from meshchat.log.rules import Membership
from meshchat.log.views import Checkin, Message, Room, TrackedObject
from meshchat.store import Store
from meshchat.store.positions import Track
from meshchat.store.queries import Views


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Narrows the reports (never the log, which is always whole so that it can be verified)."""

    since: int | None = None  # ms since the epoch
    room: bytes | None = None

    def keeps(self, clock: int) -> bool:
        return self.since is None or clock >= self.since


@dataclass(frozen=True, slots=True)
class Person:
    key: bytes
    name: str
    callsign: str
    role: str

    @property
    def label(self) -> str:
        """How a report names someone: callsign and name when both are known, else what there is."""
        if self.callsign and self.name and self.callsign != self.name:
            return f"{self.callsign} ({self.name})"
        return self.callsign or self.name or self.key.hex()[:8]


@dataclass(frozen=True, slots=True)
class Mark:
    """An acknowledgement, pin or retraction that had effect: who, with which of their numbers, when."""

    target: bytes
    author: bytes
    seq: int
    clock: int


@dataclass(frozen=True, slots=True)
class Reply:
    checkin: bytes
    author: bytes
    seq: int
    clock: int
    status: str
    note: str
    location: Value = None  # where the member said it was ({text, lat_e7, lon_e7}), if it did


@dataclass
class ReportData:
    team_id: bytes
    team_name: str
    exported_at: int
    exported_by: bytes
    filter: ReportFilter
    people: dict[bytes, Person]
    rooms: dict[bytes, Room]
    messages: list[Message]  # in the team's order (clock, author, seq); filtered
    acks: dict[bytes, list[Mark]] = field(default_factory=dict)
    retractions: dict[bytes, list[Mark]] = field(default_factory=dict)
    pins: list[Mark] = field(default_factory=list)
    incidents: list[TrackedObject] = field(default_factory=list)
    tasks: list[TrackedObject] = field(default_factory=list)
    checkins: list[Checkin] = field(default_factory=list)
    replies: dict[bytes, list[Reply]] = field(default_factory=dict)
    pinned_other: dict[bytes, Entry] = field(default_factory=dict)  # pinned entries that are not messages
    forks: dict[bytes, int] = field(default_factory=dict)
    entry_count: int = 0
    tracks: list[Track] = field(default_factory=list)  # every member's position reports, by member
    relayed: list[Fix] = field(default_factory=list)  # outsiders' positions a bridge relayed
    files_here: frozenset[bytes] = frozenset()  # attached files the export holds (attachments/<blob id>)

    labels: dict[bytes, str] = field(default_factory=dict)  # filled on first use

    def name(self, key: bytes | None) -> str:
        if key is None:
            return "-"
        label = self.labels.get(key)
        if label is None:
            person = self.people.get(key)
            label = self.labels[key] = person.label if person else key.hex()[:8]
        return label

    def sender(self, message: Message | None, author: bytes) -> str:
        """Who a message is from, as every report says it: an outsider's words relayed by a member's bridge
        are named as the outsider's, never as the member's (``ALPHA-1 (TAK) via Ana``)."""
        if message is not None and message.via is not None:
            return f"{message.via.label} via {self.name(author)}"
        return self.name(author)

    def room_name(self, room: bytes | None) -> str:
        if room is None:
            return ""
        found = self.rooms.get(room)
        return found.name if found else room.hex()[:8]

    def message_by_id(self) -> dict[bytes, Message]:
        return {m.id: m for m in self.messages}

    def incident_title(self, incident: bytes | None) -> str:
        for obj in self.incidents:
            if obj.obj == incident:
                return str(obj.get("title", ""))
        return ""


def collect(store: Store, *, report_filter: ReportFilter, exported_at: int, exported_by: bytes) -> ReportData:
    """Read what the reports need. Run it inside one read transaction for a consistent picture."""
    views = Views(store)
    m = store.membership
    people = {
        key: Person(key, member.name, member.callsign, member.role.label if member.role is not None else "removed")
        for key, member in m.members.items()
    }
    rooms = {r.room: r for r in views.rooms()}
    room_ids = [report_filter.room] if report_filter.room is not None else list(rooms)
    messages: list[Message] = []
    for room in room_ids:
        messages.extend(msg for msg in views.messages(room, limit=10**12) if report_filter.keeps(msg.clock))
    messages.sort(key=lambda msg: (msg.clock, msg.author, msg.seq))
    incidents = [
        obj
        for obj in views.incidents()
        if (report_filter.room is None or obj.parent == report_filter.room)
        and any(report_filter.keeps(c.clock) for c in obj.history)
    ]
    incident_ids = {obj.obj for obj in incidents}
    tasks = [
        t for t in views.tasks() if report_filter.room is None or (t.parent is not None and t.parent in incident_ids)
    ]
    checkins = [
        c
        for c in views.checkins()
        if (report_filter.room is None or c.room == report_filter.room) and report_filter.keeps(c.clock)
    ]
    data = ReportData(
        team_id=store.team_id,
        team_name=str(store.get_meta("team_name") or ""),
        exported_at=exported_at,
        exported_by=exported_by,
        filter=report_filter,
        people=people,
        rooms=rooms,
        messages=messages,
        incidents=sorted(incidents, key=lambda o: o.opened_clock),
        tasks=tasks,
        checkins=sorted(checkins, key=lambda c: c.clock),
        forks=store.forked_authors(),
        entry_count=store.count(),
        tracks=[_kept(t, report_filter) for t in views.tracks()],
        relayed=[f for f in views.relayed() if report_filter.keeps(f.clock)],
    )
    authors = {msg.id: msg.author for msg in messages}
    _read_marks(store, m, authors, data)
    _read_replies(store, m, {c.checkin for c in checkins}, data)
    _read_pinned_others(store, {p.target for p in data.pins} - set(authors), data)
    return data


def _read_marks(store: Store, m: Membership, authors: dict[bytes, bytes], data: ReportData) -> None:
    """Acks, retractions and pins that took effect, judged by ``meshchat.log.effects`` as the views judge
    them; for messages outside the report only their pins matter (a pinned entry of another kind shows)."""
    grouped: dict[bytes, list[MarkStamp]] = {}
    timing = store.clocks.current()
    for target, mark, author, seq, clock in store.connection.execute(
        "SELECT target, mark, author, seq, clock FROM v_marks"
    ):
        placed = timing.effective(author, seq, clock)
        grouped.setdefault(target, []).append(MarkStamp(mark, author, seq, clock, placed))
    pins: list[Mark] = []
    for target, marks in grouped.items():
        on = marks_on(m, marks, authors.get(target))
        if target in authors:
            if on.acks:
                data.acks[target] = [Mark(target, a.author, a.seq, a.placed) for a in on.acks]
            if on.retractions:
                data.retractions[target] = [Mark(target, r.author, r.seq, r.placed) for r in on.retractions]
        first = next((p for p in on.pins if data.filter.keeps(p.placed)), None)
        if first is not None:
            pins.append(Mark(target, first.author, first.seq, first.placed))
    data.pins = sorted(pins, key=lambda p: (p.clock, p.author, p.seq))


def _read_replies(store: Store, m: Membership, checkins: set[bytes], data: ReportData) -> None:
    """Every answer to the roll calls in the report, in the team's order (by effective clock)."""
    timing = store.clocks.current()
    replies = sorted(
        (timing.effective(author, seq, clock), author, seq, clock, checkin, status, note, location)
        for checkin, status, note, location, author, seq, clock in store.connection.execute(
            "SELECT checkin, status, note, location, author, seq, clock FROM v_checkin_replies"
        )
    )
    for placed, author, seq, clock, checkin, status, note, location in replies:
        if checkin in checkins and m.may(author, seq, clock, "checkin.reply"):
            where = unpack(location, max_len=MAX_ENTRY_SIZE) if location is not None else None
            data.replies.setdefault(checkin, []).append(Reply(checkin, author, seq, placed, status, note, where))


def _kept(track: Track, report_filter: ReportFilter) -> Track:
    """A track with only the reports the filter keeps (segments left empty are dropped)."""
    segments = tuple(kept for s in track.segments if (kept := tuple(f for f in s if report_filter.keeps(f.clock))))
    return Track(track.member, segments, tuple(c for c in track.cleared if report_filter.keeps(c[1])))


def _read_pinned_others(store: Store, targets: Iterable[bytes], data: ReportData) -> None:
    """Pinned entries that are not (shown) messages: one pass over the non-post entries, since entry ids
    are not indexed (see docs/storage.md)."""
    wanted = set(targets)
    if not wanted:
        return
    for entry_id, raw in store.connection.execute("SELECT id, raw FROM entries WHERE kind != 'msg.post'"):
        if entry_id in wanted:
            data.pinned_other[entry_id] = decode_entry(raw)
