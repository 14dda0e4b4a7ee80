"""Which linked peer sends us which part of which blob: one source per part, switched when it stalls or lies.

The rule of ``meshchat.proto.sources`` (one source per item, so nothing crosses two links), with a part of a
blob as the item: part 0 is a blob's index (its chunk hashes), part ``i`` its chunk ``i``. A blob's parts
are spread over the peers that hold them, so one file comes from several peers at once, and a fast peer gets
more: each link is given as many parts as it delivers in :data:`PIPELINE_TIME` (at least
:data:`MIN_OUTSTANDING`, at most :data:`MAX_OUTSTANDING`), and a new one each time one is done.

- A blob of several chunks needs its index first: its chunks can only be checked against it.
- Blobs are served in the order of their ``rank`` (the node's choice: what a person asked for, then the
  smallest), and the parts of one blob in order, so a file fills from its start.
- A link's delivery is measured as its pieces arrive: first as soon as :data:`FIRST_SAMPLE` bytes came
  (counted from when it was first asked for parts), then every :data:`MEASURE_TIME`. On a LAN it has a full
  pipeline within milliseconds, rather than two parts at a time until the first check (waiting a tenth of a
  second for the first sample cost a 100 MB file on loopback a tenth of its time).
- A part whose source delivered nothing for :data:`STALL_TIME` goes to another peer that holds it (the peer
  may be busy with entries, which always go first, or its link may be slow or stuck); a link that goes
  takes nothing with it: its parts are given to others at once.
- A part is received whole from one peer, so a bad one names its sender: :meth:`Fetcher.part_failed` keeps
  that link away from the blob (the link itself is ended by the caller, as for any bad data).
- A part cut short by a lost link resumes where it stopped if the same peer is reached again (by any link):
  the caller keeps what arrived, and the Fetch says where to go on from.

Planning costs what it gives, not what the file holds: :meth:`Fetcher.plan` runs only after something that
can give a link work (a part done, failed or restarted, a link up or down or measured faster, a Have, a
stall), and takes the parts it gives from whole sets at once (missing, not yet asked for, held by a link
with room: :attr:`ChunkSet.mask` integers), stopping as soon as no link has room. Walking every missing part
of every blob after each batch of pieces made a file's fetch quadratic in its chunks.

Pure and generic over what a "link" is; the clock is handed in. ``meshchat.net.blobs`` feeds it and sends
what :meth:`Fetcher.plan` returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from meshchat.log.attachments import CHUNK_SIZE, ChunkSet, chunk_count

L = TypeVar("L", bound=Hashable)

STALL_TIME = 15.0  # seconds a part's source may deliver nothing before the part goes to another peer
PIPELINE_TIME = 1.0  # seconds of a link's measured delivery kept asked for
MIN_OUTSTANDING = 2  # parts asked of one link at a time, at least
MAX_OUTSTANDING = 32  # and at most (8 MiB of chunks)
RATE_WEIGHT = 0.3  # of a new rate sample in the running estimate
MEASURE_TIME = 0.1  # a link delivering pieces is measured this often (an idle one at each check)
FIRST_SAMPLE = 2 * CHUNK_SIZE  # bytes of pieces after which a link not yet measured is measured at once


@dataclass
class _Assignment(Generic[L]):
    link: L
    since: float  # when it was given, or last delivered a piece


@dataclass
class _Blob(Generic[L]):
    blob: bytes
    size: int
    rank: tuple[int, ...]
    held: ChunkSet  # chunks stored and checked
    index_known: bool
    peers: dict[L, ChunkSet] = field(default_factory=dict)  # what each link says it holds
    assigned: dict[int, _Assignment[L]] = field(default_factory=dict)  # part -> its source
    resume: dict[int, tuple[bytes, int]] = field(default_factory=dict)  # part -> (peer key, bytes kept)
    shunned: set[L] = field(default_factory=set)  # links that sent a bad part of it
    stalled: dict[int, L] = field(default_factory=dict)  # part -> the link it stalled on last

    @property
    def count(self) -> int:
        return self.held.count

    def unasked(self) -> int:
        """The chunks to fetch and not asked of anyone, as a :attr:`ChunkSet.mask`."""
        asked = 0
        for part in self.assigned:
            if part >= 1:
                asked |= 1 << (part - 1)
        return self.held.missing_mask & ~asked

    def holders(self, links: Iterable[L]) -> int:
        """The chunks that some of ``links`` hold, as a :attr:`ChunkSet.mask`."""
        held = 0
        for link in links:
            bits = self.peers.get(link)
            if bits is not None and link not in self.shunned:
                held |= bits.mask
        return held

    def holds(self, link: L, part: int) -> bool:
        bits = self.peers.get(link)
        if bits is None or link in self.shunned:
            return False
        return bits.mask != 0 if part == 0 else part in bits


@dataclass
class FetchChanges:
    """For one link: parts to ask for (``{blob: [(part, offset), ...]}``), and parts to cancel."""

    add: dict[bytes, list[tuple[int, int]]] = field(default_factory=dict)
    cancel: dict[bytes, list[int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.add or self.cancel)


@dataclass
class _Link:
    key: bytes  # the peer's key: a part cut short resumes from the same peer over any link
    rate: float = 0.0  # bytes/s of pieces, measured
    received: int = 0  # piece bytes since the last measurement
    measured_at: float = 0.0


class Fetcher(Generic[L]):
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.blobs: dict[bytes, _Blob[L]] = {}
        self.links: dict[L, _Link] = {}
        self._asked: dict[L, set[tuple[bytes, int]]] = {}  # what each link is asked for and has not finished
        self._restart: dict[L, set[tuple[bytes, int]]] = {}  # parts to cancel before they are asked again
        self._changed = False  # something happened that can give a link work: plan() has work to do

    # ---- what the node wants -----------------------------------------------------------------------------

    def want(self, blob: bytes, size: int, *, rank: tuple[int, ...], held: ChunkSet, index_known: bool) -> None:
        """Fetch ``blob`` (of ``size`` bytes, of which ``held`` is here), before blobs of a higher rank."""
        self._changed = True
        current = self.blobs.get(blob)
        if current is not None:
            current.rank = rank
            return
        self.blobs[blob] = _Blob(blob, size, rank, held, index_known or chunk_count(size) == 1)

    def drop(self, blob: bytes) -> None:
        """No longer fetch ``blob`` (done, or given up): :meth:`plan` cancels what links were still asked."""
        if self.blobs.pop(blob, None) is not None:
            self._changed = True

    def wanted(self) -> list[bytes]:
        return list(self.blobs)

    # ---- what happens ------------------------------------------------------------------------------------

    def link_up(self, link: L, key: bytes) -> None:
        self.links[link] = _Link(key, measured_at=self.clock())
        self._asked[link] = set()
        self._changed = True

    def link_down(self, link: L) -> None:
        self.links.pop(link, None)
        self._asked.pop(link, None)
        self._changed = True
        self._restart.pop(link, None)
        for wanted in self.blobs.values():
            wanted.peers.pop(link, None)
            wanted.shunned.discard(link)
            for part in [p for p, a in wanted.assigned.items() if a.link == link]:
                del wanted.assigned[part]

    def held_by(self, link: L, blob: bytes, bits: bytes) -> bool:
        """A peer's Have: returns False if the bitfield cannot be one of this blob's (a lie: end the link)."""
        wanted = self.blobs.get(blob)
        if wanted is None or link not in self.links:
            return True
        try:
            wanted.peers[link] = ChunkSet(wanted.count, bits)
        except ValueError:
            return False
        self._changed = True
        return True

    def received(self, link: L, blob: bytes, part: int, kept: int, size: int) -> None:
        """``size`` bytes of a piece arrived: ``kept`` bytes of the part are now held (for resuming)."""
        state = self.links.get(link)
        if state is not None:
            state.received += size
            now = self.clock()
            first = state.rate == 0 and state.received >= FIRST_SAMPLE and now > state.measured_at
            if first or now - state.measured_at >= MEASURE_TIME:  # a fast link is given more parts at once
                self._measure(state, now, busy=True)
        wanted = self.blobs.get(blob)
        if wanted is None or state is None:
            return
        assignment = wanted.assigned.get(part)
        if assignment is not None and assignment.link == link:
            assignment.since = self.clock()
            wanted.resume[part] = (state.key, kept)

    def part_done(self, blob: bytes, part: int) -> None:
        """Part ``part`` is stored and checked."""
        wanted = self.blobs.get(blob)
        if wanted is None:
            return
        self._changed = True
        assignment = wanted.assigned.pop(part, None)
        if assignment is not None and assignment.link in self._asked:
            self._asked[assignment.link].discard((blob, part))  # it sent the whole part: nothing to cancel
        wanted.resume.pop(part, None)
        wanted.stalled.pop(part, None)
        if part == 0:
            wanted.index_known = True
        else:
            wanted.held.add(part)

    def part_lost(self, blob: bytes, part: int) -> None:
        """A part once stored is missing after all (a crash lost it before the blob was moved in): fetch
        it again."""
        wanted = self.blobs.get(blob)
        if wanted is not None and part >= 1:
            wanted.held.discard(part)
            self._changed = True

    def part_failed(self, link: L, blob: bytes, part: int) -> None:
        """The part ``link`` sent does not match its hash: fetch it elsewhere, and nothing more of this
        blob from that link."""
        wanted = self.blobs.get(blob)
        if wanted is None:
            return
        self._changed = True
        wanted.assigned.pop(part, None)
        wanted.resume.pop(part, None)
        wanted.shunned.add(link)
        for other in [p for p, a in wanted.assigned.items() if a.link == link]:
            del wanted.assigned[other]

    def restart(self, blob: bytes, part: int) -> None:
        """What arrived of ``part`` does not join up (a piece after a gap): ask for it again from its start."""
        wanted = self.blobs.get(blob)
        if wanted is None:
            return
        self._changed = True
        assignment = wanted.assigned.pop(part, None)
        wanted.resume.pop(part, None)
        if assignment is not None and assignment.link in self._asked:
            self._restart.setdefault(assignment.link, set()).add((blob, part))

    def resume_point(self, blob: bytes, part: int, link: L) -> int:
        """Where a fetch of ``part`` from ``link`` starts: the bytes kept from its peer, else 0."""
        wanted = self.blobs.get(blob)
        state = self.links.get(link)
        if wanted is None or state is None:
            return 0
        key, kept = wanted.resume.get(part, (b"", 0))
        return kept if key == state.key else 0

    def check(self) -> None:
        """Measure each link's delivery, and take parts away from sources that stalled (call each second).
        The next :meth:`plan` is a full one, whatever happened: a trigger missed costs a second, not a fetch."""
        now = self.clock()
        self._changed = True
        for link, state in self.links.items():
            if now - state.measured_at >= 0.5:
                busy = any(a.link == link for b in self.blobs.values() for a in b.assigned.values())
                self._measure(state, now, busy=busy)
        for wanted in self.blobs.values():
            for part, assignment in list(wanted.assigned.items()):
                if now - assignment.since >= STALL_TIME:
                    del wanted.assigned[part]
                    wanted.stalled[part] = assignment.link
                    if assignment.link in self._asked:  # cancelled there, and asked anew of whichever link
                        self._restart.setdefault(assignment.link, set()).add((wanted.blob, part))

    def _measure(self, state: _Link, now: float, *, busy: bool) -> None:
        """A sample of the link's delivery since the last: it counts if the link had parts to send (an idle
        link says nothing of its speed) or if it shows the link faster than thought."""
        sample = state.received / (now - state.measured_at)
        if busy or sample > state.rate:
            before = _limit(state.rate)
            state.rate = sample if state.rate == 0 else (1 - RATE_WEIGHT) * state.rate + RATE_WEIGHT * sample
            if _limit(state.rate) > before:  # room for more parts
                self._changed = True
        state.received, state.measured_at = 0, now

    # ---- what to ask -------------------------------------------------------------------------------------

    def outstanding_limit(self, link: L) -> int:
        return _limit(self.links[link].rate)

    def plan(self) -> dict[L, FetchChanges]:
        """Give unassigned parts to links with room; returns, for each link whose fetch changed, the parts to
        add (with the offset to start from) and to cancel. Nothing to do (and no cost) unless something that
        can give a link work happened since the last plan."""
        if not self._changed:
            return {}
        self._changed = False
        load = {link: 0 for link in self.links}
        for wanted in self.blobs.values():
            for assignment in wanted.assigned.values():
                if assignment.link in load:
                    load[assignment.link] += 1
        limits = {link: self.outstanding_limit(link) for link in self.links}
        room = {link for link in self.links if load[link] < limits[link]}
        now = self.clock()
        for wanted in sorted(self.blobs.values(), key=lambda w: (w.rank, w.size, w.blob)):
            if not room:
                break
            self._give(wanted, load, limits, room, now)
        return self._changes()

    def _give(self, wanted: _Blob[L], load: dict[L, int], limits: Mapping[L, int], room: set[L], now: float) -> None:
        """Give the parts of one blob to the links in ``room`` (updated as they fill up), in order: its index
        alone until it is known, then the missing chunks that no link is asked for and a link with room holds."""
        if not wanted.index_known:
            candidates = 0 if 0 in wanted.assigned else 1  # part 0: the index
            holders = 1 if any(wanted.holds(link, 0) for link in room) else 0
        else:
            candidates = wanted.unasked()
            holders = wanted.holders(room)
        candidates &= holders
        while candidates and room:
            lowest = candidates & -candidates
            candidates ^= lowest
            part = lowest.bit_length() if wanted.index_known else 0
            link = self._choose(wanted, part, load, limits)
            if link is None:
                continue
            key, _ = wanted.resume.get(part, (b"", 0))
            if key and key != self.links[link].key:
                del wanted.resume[part]  # a part is received whole from one peer: start it again
            wanted.assigned[part] = _Assignment(link, now)
            state = self.links[link]
            if state.rate == 0 and load[link] == 0:  # the first sample counts from when it was first asked
                state.received, state.measured_at = 0, now
            load[link] += 1
            if load[link] >= limits[link]:  # full: what only it holds waits for its room
                room.discard(link)
                candidates &= wanted.holders(room)

    def _choose(self, wanted: _Blob[L], part: int, load: Mapping[L, int], limits: Mapping[L, int]) -> L | None:
        holders = [link for link in self.links if load[link] < limits[link] and wanted.holds(link, part)]
        if not holders:
            return None
        key, _ = wanted.resume.get(part, (b"", 0))
        stalled = wanted.stalled.get(part)

        def preference(link: L) -> tuple[bool, bool, float, float]:
            state = self.links[link]
            return (state.key != key, link == stalled, load[link] / limits[link], -state.rate)

        return min(holders, key=preference)

    def _changes(self) -> dict[L, FetchChanges]:
        """What each link must be told: parts newly given to it, and parts taken away (not those it finished:
        it knows)."""
        changes: dict[L, FetchChanges] = {}
        for link in self.links:
            changes[link] = FetchChanges()
        for link, restarted in self._restart.items():
            if link in changes:
                for blob, part in sorted(restarted):
                    changes[link].cancel.setdefault(blob, []).append(part)
                self._asked[link] -= restarted
        self._restart.clear()
        now: dict[L, set[tuple[bytes, int]]] = {link: set() for link in self.links}
        for wanted in self.blobs.values():
            for part, assignment in sorted(wanted.assigned.items()):
                if assignment.link not in now:
                    continue
                now[assignment.link].add((wanted.blob, part))
                if (wanted.blob, part) not in self._asked[assignment.link]:
                    offset = self.resume_point(wanted.blob, part, assignment.link)
                    changes[assignment.link].add.setdefault(wanted.blob, []).append((part, offset))
        for link, asked in self._asked.items():
            for blob, part in sorted(asked - now[link]):
                cancelled = changes[link].cancel.setdefault(blob, [])
                if part not in cancelled:
                    cancelled.append(part)
            self._asked[link] = now[link]
        return {link: change for link, change in changes.items() if change}

    def links_holding(self, blob: bytes) -> Iterable[L]:
        wanted = self.blobs.get(blob)
        return [] if wanted is None else [link for link, bits in wanted.peers.items() if bits.mask]


def _limit(rate: float) -> int:
    """Parts asked of a link at a time, for its measured rate (bytes/s)."""
    return max(MIN_OUTSTANDING, min(MAX_OUTSTANDING, math.ceil(rate * PIPELINE_TIME / CHUNK_SIZE) + 1))
