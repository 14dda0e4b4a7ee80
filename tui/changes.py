"""One burst of node events folded into what the screens must re-read (Toolong's lesson: merge bursts).

Events are hints (see ``meshchat.events``): a catch-up of 100,000 entries arrives as many ``EntriesAdded``, and
the UI must not re-read the views for each. The bridge delivers bursts; :func:`fold` turns a burst into one
:class:`Changes`, and each screen re-reads only what it touches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from meshchat.events import (
    AttachmentsChanged,
    EntriesAdded,
    ForkDetected,
    GpsStatus,
    InviteRefused,
    MembershipChanged,
    NodeEvent,
    NodeProblem,
    PeerDown,
    PeerInfo,
    PeerUp,
    SyncProgress,
    WritingPaused,
)
from meshchat.log.views import POSITION_KINDS

MESSAGE_MARKS = frozenset({"msg.ack", "msg.pin", "msg.retract"})
INCIDENT_KINDS = frozenset({"incident.open", "incident.update", "task.open", "task.update"})
CHECKIN_KINDS = frozenset({"checkin.request", "checkin.reply"})
ROOM_KINDS = frozenset({"room.create", "room.archive"})


@dataclass(frozen=True)
class Changes:
    """What a burst of events changed."""

    entries: int = 0
    kinds: frozenset[str] = frozenset()
    rooms: frozenset[bytes] = frozenset()  # rooms that gained posts
    remote: bool = False  # some entries came from other authors
    membership: bool = False
    peers: bool = False
    forks: tuple[ForkDetected, ...] = ()
    problems: tuple[str, ...] = ()
    sync: dict[str, SyncProgress] = field(default_factory=dict)  # latest progress per peer address
    invite_refused: str = ""  # our own invite was refused: what happened and what to do
    files: frozenset[bytes] = frozenset()  # attached files that moved on here (fetched, further along, stopped)
    writing: WritingPaused | None = None  # own writes stopped or started working again (the latest news)
    gps: GpsStatus | None = None  # the GPS changed state (the latest)

    @property
    def messages(self) -> bool:
        """Posts, or marks on posts (acks, pins, retractions): message panes and FLASH lists re-read."""
        return "msg.post" in self.kinds or bool(self.kinds & MESSAGE_MARKS) or self.membership

    @property
    def incidents(self) -> bool:
        return bool(self.kinds & INCIDENT_KINDS) or self.membership

    @property
    def positions(self) -> bool:
        """Positions, or what the map shows beside them (incidents, names): the map re-reads."""
        return bool(self.kinds & POSITION_KINDS) or self.incidents or self.gps is not None

    @property
    def checkins(self) -> bool:
        return bool(self.kinds & CHECKIN_KINDS) or self.membership

    @property
    def room_list(self) -> bool:
        return bool(self.kinds & ROOM_KINDS) or bool(self.rooms) or self.membership

    def touches_room(self, room: bytes) -> bool:
        return room in self.rooms or bool(self.kinds & MESSAGE_MARKS) or self.membership


def fold(events: Iterable[NodeEvent]) -> Changes:
    """Merge a burst of events into one :class:`Changes`."""
    entries = 0
    kinds: set[str] = set()
    rooms: set[bytes] = set()
    remote = membership = peers = False
    forks: list[ForkDetected] = []
    problems: list[str] = []
    sync: dict[str, SyncProgress] = {}
    invite_refused = ""
    files: set[bytes] = set()
    writing: WritingPaused | None = None
    gps = None
    for event in events:
        match event:
            case EntriesAdded():
                entries += event.count
                kinds |= event.kinds
                rooms |= event.rooms
                remote = remote or not event.local
            case MembershipChanged():
                membership = True
            case ForkDetected():
                forks.append(event)
            case InviteRefused():
                invite_refused = event.message
            case NodeProblem():
                if event.message != invite_refused:  # said once, by the banner
                    problems.append(event.message)
            case PeerUp() | PeerDown():
                peers = True
            case SyncProgress():
                peers = True
                sync[_address(event.peer)] = event
            case AttachmentsChanged():
                files |= event.blobs
            case WritingPaused():
                writing = event
            case GpsStatus():
                gps = event
    return Changes(
        entries,
        frozenset(kinds),
        frozenset(rooms),
        remote,
        membership,
        peers,
        tuple(forks),
        tuple(problems),
        sync,
        invite_refused,
        frozenset(files),
        writing,
        gps,
    )


def _address(peer: PeerInfo) -> str:
    return peer.address
