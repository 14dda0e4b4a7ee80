"""Positions: which report is a member's latest, and what the time a fix claims is worth. Pure; every reader
(the views, the CLI, the map, the TAK bridge, the HQ export) calls these rules and none re-decides them.

A fix's time (``fix_ms``) is its author's claim: a GPS gives a good one, a laptop with a wrong clock or a
hostile member a bad one. So no decision rests on it:

- **Latest** is by the author's own order (``seq``), never by the time a fix claims: a fix dated 2076 is the
  latest only until its author's next report, and a member who clears its position is hidden from its next
  entry on, whatever either claims. An author cannot reorder its own chain (a fork is found and shown).
- **When** a fix was taken, as this node believes it, is the claimed time but never later than when the entry
  reached this node (``received``, a local fact), nor than where its entry sits in the team's order (its
  effective clock, ``meshchat.log.timing``: from the log alone, so every node and HQ agree): a fix cannot look
  fresher than it can be, so a stale position dims on every screen whatever its author claimed, and a fix dated
  2076 counts, at HQ too, from when the team held it.
- A fix that claims to be newer than its receipt (or, where that is unknown, its entry's effective clock) by
  more than the clock's drift bound is **doubtful**: readers mark it.

Latest by ``seq`` agrees with the team's order: an author's effective clocks never decrease along its chain.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from meshchat.log.clock import MAX_DRIFT_MS
from meshchat.log.codec import Value
from meshchat.log.views import Outsider

FRESH_MS = 2 * 60_000  # a fix this young is "here now"
STALE_MS = 15 * 60_000  # older than this is dimmed (three missed heartbeats of a walking member)
LOST_MS = 60 * 60_000  # older than this is barely shown
CLEARED = "position.clear"

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Report:
    """A fix about to be reported: the body of a ``position`` entry (or, with its outsider, ``position.relay``)."""

    lat_e7: int
    lon_e7: int
    accuracy_m: int
    fix_ms: int
    source: str = "manual"  # "gps" or "manual"
    alt_m: int | None = None
    heading_deg: int | None = None
    speed_cms: int | None = None

    def body(self) -> dict[str, Value]:
        fields: dict[str, Value] = {
            "lat_e7": self.lat_e7,
            "lon_e7": self.lon_e7,
            "accuracy_m": self.accuracy_m,
            "fix_ms": self.fix_ms,
            "source": self.source,
        }
        for name, value in (("alt_m", self.alt_m), ("heading_deg", self.heading_deg), ("speed_cms", self.speed_cms)):
            if value is not None:
                fields[name] = value
        return fields

    def relayed_body(self, via: Outsider) -> dict[str, Value]:
        fields = self.body()
        del fields["source"]
        fields["via"] = {"net": via.net, "uid": via.uid, "callsign": via.callsign}
        return fields


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report that took effect: a member's own (``via`` is None) or an outsider's, relayed."""

    author: bytes
    seq: int
    clock: int  # the entry's effective clock: its place in the team's order (meshchat.log.timing)
    lat_e7: int
    lon_e7: int
    accuracy_m: int
    alt_m: int | None
    heading_deg: int | None
    speed_cms: int | None
    source: str  # "gps", "manual" or "relay"
    fix_ms: int  # the time the author claims for the fix
    received: int | None = None  # when this node first stored the entry; None where unknown (HQ archives)
    via: Outsider | None = None

    @property
    def time(self) -> int:
        """When the fix was taken, as far as this node can tell (see the module's rules)."""
        return believed_time(self.fix_ms, self.received, self.clock)

    @property
    def doubtful(self) -> bool:
        return time_doubtful(self.fix_ms, self.clock, self.received)

    def age_ms(self, now: int) -> int:
        return max(0, now - self.time)


def believed_time(fix_ms: int, received: int | None, clock: int | None = None) -> int:
    """The claimed time of a fix, but never later than when it reached this node, nor than its entry's
    effective ``clock`` (where given)."""
    bounds = [b for b in (received, clock) if b is not None]
    return min([fix_ms, *bounds])


def time_doubtful(fix_ms: int, clock: int, received: int | None) -> bool:
    """Whether a fix claims a time its entry cannot have: later than its receipt here (or, where that is not
    known, than the entry's effective clock) by more than the drift the clock rules allow."""
    bound = received if received is not None else clock
    return fix_ms > bound + MAX_DRIFT_MS


def staleness(age_ms: int) -> int:
    """0 fresh, 1 recent, 2 stale (dimmed), 3 lost (barely shown): one scale for the map, the CLI and TAK."""
    if age_ms <= FRESH_MS:
        return 0
    if age_ms <= STALE_MS:
        return 1
    if age_ms <= LOST_MS:
        return 2
    return 3


def latest(reports: Iterable[T], subject: Callable[[T], K], seq: Callable[[T], int]) -> dict[K, T]:
    """Each subject's report with the highest ``seq``: the latest in its author's own order, whatever times the
    reports claim. ``subject`` names whose position a report is (a member; for relayed ones, the bridge and
    the outsider), ``seq`` gives its place in its author's chain."""
    out: dict[K, T] = {}
    for report in reports:
        key = subject(report)
        held = out.get(key)
        if held is None or seq(report) > seq(held):
            out[key] = report
    return out


def freshest(fixes: Iterable[Fix]) -> Fix | None:
    """Of several bridges' latest fixes of one outsider, the one believed taken last (ties: by author and seq,
    so every node shows the same one). Shown only: nothing is decided on it."""
    return max(fixes, key=lambda f: (f.time, f.author, f.seq), default=None)
