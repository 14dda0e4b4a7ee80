"""Reading the position views: each member's latest fix, whole tracks, and outsiders relayed by bridges.

Rows say what entries say; which take effect (the author's role at the entry, removals, forks) is decided here
by the membership, and which is latest by ``meshchat.log.positions``. Reads go per author along the
``(author, seq)`` index, newest first, so the map's refresh does not grow with the length of the operation.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from meshchat.log.positions import CLEARED, Fix, freshest
from meshchat.log.rules import Membership
from meshchat.log.timing import Timing
from meshchat.log.views import Outsider

# With when this node first stored each report (entries.received: local, NULL where unknown, as in an archive).
_COLUMNS = (
    "SELECT p.kind, p.net, p.uid, p.callsign, p.lat_e7, p.lon_e7, p.accuracy_m, p.alt_m, p.heading_deg, "
    "p.speed_cms, p.fix_ms, p.source, p.author, p.seq, p.clock, e.received FROM v_positions p "
    "LEFT JOIN authors a ON a.key = p.author LEFT JOIN entries e ON e.author = a.ix AND e.seq = p.seq "
)
_OWN = _COLUMNS + "WHERE p.author = ? AND p.kind != 'position.relay' ORDER BY p.seq"
_OWN_NEWEST_FIRST = _OWN + " DESC"
_RELAYED = _COLUMNS + "WHERE p.net = ? AND p.uid = ? AND p.author = ? ORDER BY p.seq DESC"

Row = tuple[
    str,
    str | None,
    str | None,
    str | None,
    int | None,
    int | None,
    int | None,
    int | None,
    int | None,
    int | None,
    int | None,
    str | None,
    bytes,
    int,
    int,
    int | None,
]


@dataclass(frozen=True, slots=True)
class Track:
    """Everything a member reported, in its own order; a ``position.clear`` ends a segment (it stopped
    sharing there), so a map draws no line across the gap."""

    member: bytes
    segments: tuple[tuple[Fix, ...], ...]
    cleared: tuple[tuple[int, int], ...] = ()  # (seq, effective clock) of each position.clear that took effect

    @property
    def fixes(self) -> tuple[Fix, ...]:
        return tuple(f for segment in self.segments for f in segment)


class PositionViews:
    """Position queries over one store connection, judged by the membership it is given. Each fix carries its
    entry's effective clock (``meshchat.log.timing``: its place in the team's order, from the log alone), read
    from ``timing()`` once per query."""

    def __init__(self, conn: sqlite3.Connection, timing: Callable[[], Timing]) -> None:
        self.conn = conn
        self.timing = timing

    def latest(self, m: Membership) -> list[Fix]:
        """Each member's latest position, unless its latest report cleared it; by member key."""
        out = []
        timing = self.timing()
        for (author,) in self.conn.execute(
            "SELECT DISTINCT author FROM v_positions WHERE kind != 'position.relay' ORDER BY author"
        ).fetchall():
            report = next(_effective(self.conn.execute(_OWN_NEWEST_FIRST, (author,)), m), None)
            if report is not None and report[0] != CLEARED:
                out.append(_fix(report, timing))
        return out

    def track(self, member: bytes, m: Membership) -> Track:
        timing = self.timing()
        segments: list[tuple[Fix, ...]] = []
        current: list[Fix] = []
        cleared: list[tuple[int, int]] = []
        for row in _effective(self.conn.execute(_OWN, (member,)), m):
            if row[0] == CLEARED:
                cleared.append((row[13], timing.effective(member, row[13], row[14])))
                if current:
                    segments.append(tuple(current))
                current = []
            else:
                current.append(_fix(row, timing))
        if current:
            segments.append(tuple(current))
        return Track(member, tuple(segments), tuple(cleared))

    def tracks(self, m: Membership) -> list[Track]:
        """Every member's whole track, by member key (for HQ)."""
        authors = self.conn.execute(
            "SELECT DISTINCT author FROM v_positions WHERE kind != 'position.relay' ORDER BY author"
        ).fetchall()
        tracks = [self.track(author, m) for (author,) in authors]
        return [t for t in tracks if t.segments]

    def relayed(self, m: Membership) -> list[Fix]:
        """Every relayed position that took effect, by bridge (author) and its order (for HQ)."""
        timing = self.timing()
        rows = self.conn.execute(_COLUMNS + "WHERE p.kind = 'position.relay' ORDER BY p.author, p.seq")
        return [_fix(row, timing) for row in _effective(rows, m)]

    def outsiders(self, m: Membership) -> list[Fix]:
        """The latest relayed position of each outsider (by network and uid): each bridge's latest in its own
        order, then, where several bridges relay one outsider, the fix believed taken last."""
        by_outsider: dict[tuple[str, str], list[Fix]] = {}
        timing = self.timing()
        for net, uid, author in self.conn.execute(
            "SELECT DISTINCT net, uid, author FROM v_positions WHERE kind = 'position.relay' ORDER BY net, uid, author"
        ).fetchall():
            report = next(_effective(self.conn.execute(_RELAYED, (net, uid, author)), m), None)
            if report is not None:
                by_outsider.setdefault((net, uid), []).append(_fix(report, timing))
        chosen = (freshest(fixes) for fixes in by_outsider.values())
        return [f for f in chosen if f is not None]


def _effective(rows: sqlite3.Cursor, m: Membership) -> Iterator[Row]:
    for row in rows:
        kind, author, seq, clock = row[0], row[12], row[13], row[14]
        if m.may(author, seq, clock, kind):
            yield row


def _fix(row: Row, timing: Timing) -> Fix:
    kind, net, uid, callsign, lat, lon, accuracy, alt, heading, speed, fix_ms, source, author, seq, clock, received = (
        row
    )
    assert lat is not None and lon is not None and accuracy is not None and fix_ms is not None  # a fix's rows
    via = Outsider(net, uid, callsign or "") if net is not None and uid is not None else None
    placed = timing.effective(author, seq, clock)
    return Fix(author, seq, placed, lat, lon, accuracy, alt, heading, speed, source or kind, fix_ms, received, via)
