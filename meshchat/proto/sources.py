"""Which linked peer pushes us each author's entries: one at a time, switched when it falls behind or stalls.

This is how an entry crosses each link about once (Scuttlebutt's Epidemic Broadcast Trees, Plumtree): a node
asks exactly one peer, its *source* for that author, to push the author's entries (the "push" mark of a
note, see ``meshchat.proto.sync``); its other peers only send notes of how far they have got. Following the
sources back from every node gives one tree per author along which entries flow; notes are the lazy links
that repair it:

- an author's own node, when we are linked to it, is its source (nobody has its entries sooner);
- when a peer's notes announce an entry our source has not delivered within :data:`GRAFT_AFTER`, that peer
  becomes the source (Plumtree's graft: the tree bends round a slow, looping or cut branch). Delivered means
  arrived on a link (:meth:`Sources.arriving`), not stored: on a busy machine a batch can wait longer than
  that for the store, and a graft then only brings the same entries a second time (a 40-node LAN on two
  cores received 30% of its entries twice, each node switching sources about every 0.1 s);
- a source that owes us entries and has delivered nothing for :data:`STALL_TIME` is replaced likewise;
- when a source's link goes, its authors move at once to the peer that holds the most of them;
- catching up from several peers splits the work: when a peer's first notes show it holds as much as the
  current source of authors we are far behind on, some of them move to it until the two owe about the same.
  Authors we hold nothing of stay with one peer, which sends them in admission order (an author's entries
  are no use before the entries that admit it).

Pure and generic over what a "link" is (anything hashable); the clock is handed in. The peer manager feeds
it (links up and down, peers' notes, what the store gained, what each link delivered) and applies what it
returns: for each link, the authors to start and to stop wanting pushed.

A second kind of item (a blob's chunks, issue 17) can use the same rule with its own key: one source per
item, switched on the same signals.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

L = TypeVar("L", bound=Hashable)

GRAFT_AFTER = 0.5  # seconds an entry another peer announced may take to come from our source
ARRIVED_GRACE = 5.0  # seconds entries that arrived count as on their way to the store (then: stored, or lost)
STALL_TIME = 15.0  # seconds a source that owes us entries may deliver nothing before we switch
SPLIT_MIN = 50  # entries behind on an author before its catch-up is worth moving to another peer


@dataclass
class Changes(Generic[L]):
    """For each link, the authors to start wanting pushed from it, and those to stop."""

    wanted: dict[L, set[bytes]] = field(default_factory=dict)
    unwanted: dict[L, set[bytes]] = field(default_factory=dict)

    def want(self, link: L, author: bytes) -> None:
        self.wanted.setdefault(link, set()).add(author)
        self.unwanted.get(link, set()).discard(author)

    def unwant(self, link: L, author: bytes) -> None:
        self.unwanted.setdefault(link, set()).add(author)
        self.wanted.get(link, set()).discard(author)

    def __bool__(self) -> bool:
        return any(self.wanted.values()) or any(self.unwanted.values())


class Sources(Generic[L]):
    def __init__(self, me: bytes, clock: Callable[[], float]) -> None:
        self.me = me
        self.clock = clock
        self.held: dict[bytes, int] = {}  # what our store holds, per author
        self.notes: dict[L, dict[bytes, int]] = {}  # what each linked peer says it holds (links in order up)
        self.source: dict[bytes, L] = {}
        self.keys: dict[L, bytes | None] = {}  # the peer's key on each link (its own log's origin)
        self.delivered_at: dict[L, float] = {}  # when each link last delivered entries
        # author -> (the lowest seq above ours that a peer announced, when; the highest seq announced)
        self._announced: dict[bytes, tuple[int, float, int]] = {}
        self._noted: set[L] = set()  # links whose first notes arrived
        self._arrived: dict[bytes, tuple[int, float]] = {}  # author -> (highest seq arrived, not yet stored; when)

    # ---- what happens ------------------------------------------------------------------------------------

    def link_up(self, link: L, key: bytes | None = None) -> set[bytes]:
        """A new link to the peer ``key``: the authors to want pushed from it from the start (those that have no
        source). The peer's own log moves to it from another source with the next :meth:`check`."""
        now = self.clock()
        self.notes[link] = {}
        self.keys[link] = key
        self.delivered_at[link] = now
        orphans = {a for a in self.held if a != self.me and a not in self.source}
        for author in orphans:
            self._assign(author, link, now)
        return orphans

    def link_down(self, link: L) -> Changes[L]:
        """The link is gone: its authors move to the peers that hold the most of them."""
        self.notes.pop(link, None)
        self.keys.pop(link, None)
        self.delivered_at.pop(link, None)
        self._noted.discard(link)
        changes: Changes[L] = Changes()
        now = self.clock()
        for author in [a for a, s in self.source.items() if s == link]:
            del self.source[author]
            best = self._best(author)
            if best is not None:
                self._assign(author, best, now)
                changes.want(best, author)
        return changes

    def peer_holds(self, link: L, heads: Mapping[bytes, int]) -> Changes[L]:
        """A peer's notes: authors with no source get one; a first note may take over part of a catch-up."""
        notes = self.notes.get(link)
        if notes is None:
            return Changes()
        notes.update(heads)
        changes: Changes[L] = Changes()
        now = self.clock()
        for author, seq in heads.items():
            if seq > self.held.get(author, 0):
                heard = self._announced.get(author)
                if heard is None:
                    self._announced[author] = (self.held.get(author, 0) + 1, now, seq)
                elif seq > heard[2]:
                    self._announced[author] = (heard[0], heard[1], seq)
            if author not in self.source and (author != self.me or seq > self.held.get(author, 0)):
                best = self._best(author)
                if best is not None:
                    self._assign(author, best, now)
                    changes.want(best, author)
        if link not in self._noted:
            self._noted.add(link)
            self._split(link, changes, now)
        return changes

    def we_hold(self, heads: Mapping[bytes, int]) -> None:
        """Our store now holds ``heads``."""
        for author, seq in heads.items():
            if seq > self.held.get(author, 0):
                self.held[author] = seq
                heard = self._announced.get(author)
                if heard is not None and heard[0] <= seq:
                    # What was announced later is still to come; when exactly it was announced is not kept
                    # (a bounded memory whatever a peer says): its grace starts now.
                    self._announced[author] = (seq + 1, self.clock(), heard[2])
                    if heard[2] <= seq:
                        del self._announced[author]
                arrived = self._arrived.get(author)
                if arrived is not None and arrived[0] <= seq:
                    del self._arrived[author]

    def know(self, authors: Iterable[bytes]) -> Changes[L]:
        """Authors that may write, though we hold nothing of them yet (new members): each gets a source, so
        that its first entries are pushed to us as soon as any peer has them."""
        changes: Changes[L] = Changes()
        now = self.clock()
        for author in authors:
            if author not in self.held and author != self.me:
                self.held[author] = 0
                best = self._best(author)
                if best is not None:
                    self._assign(author, best, now)
                    changes.want(best, author)
        return changes

    def arriving(self, seqs: Mapping[bytes, int]) -> None:
        """Entries up to these seqs arrived on a link (``{author: seq}``) and wait to be stored: they are not
        late, whoever announced them. Only authors we know are kept (a peer cannot make us keep more)."""
        now = self.clock()
        for author, seq in seqs.items():
            if seq > self.held.get(author, seq) and seq > self._arrived.get(author, (0, now))[0]:
                self._arrived[author] = (seq, now)

    def link_delivered(self, link: L) -> None:
        """The link delivered entries just now."""
        if link in self.delivered_at:
            self.delivered_at[link] = self.clock()

    def check(self) -> Changes[L]:
        """Switch the sources that are not the best we have: the author's own node when we are linked to it,
        else a peer that announced what our source has not delivered within :data:`GRAFT_AFTER`, or one that
        delivers when our source has delivered nothing for :data:`STALL_TIME` (call it often: 4 times a second)."""
        now = self.clock()
        changes: Changes[L] = Changes()
        for author in [a for a in self.held if a not in self.source and a != self.me]:  # e.g. from a bundle
            best = self._best(author)
            if best is not None:
                self._assign(author, best, now)
                changes.want(best, author)
        origins = {key: link for link, key in self.keys.items() if key is not None}
        for author, source in list(self.source.items()):
            origin = origins.get(author)
            if origin is not None:
                if origin != source:
                    self._move(author, source, origin, changes, now)
                continue
            held = self.held.get(author, 0)
            heard = self._announced.get(author)
            # An entry another peer announced that our source has not said it holds, and has not sent us in time
            # (what our source does hold is a backlog on its way, not a broken branch).
            late = (
                heard is not None
                and heard[0] > self.notes[source].get(author, 0)
                and now - heard[1] >= GRAFT_AFTER
                and not self._on_its_way(author, heard[0], now)
            )
            stalled = now - self.delivered_at[source] >= STALL_TIME and self.notes[source].get(author, 0) > held
            if late or stalled:
                best = self._best(author, besides=source)
                if best is not None and self.notes[best].get(author, 0) > held:
                    self._move(author, source, best, changes, now)
        return changes

    # ---- internals ---------------------------------------------------------------------------------------

    def _on_its_way(self, author: bytes, seq: int, now: float) -> bool:
        """Whether entries up to ``seq`` of ``author`` arrived lately and wait to be stored."""
        arrived = self._arrived.get(author)
        return arrived is not None and arrived[0] >= seq and now - arrived[1] < ARRIVED_GRACE

    def _assign(self, author: bytes, link: L, now: float) -> None:
        """``link`` is now ``author``'s source: it gets the full grace for what others announced."""
        self.source[author] = link
        heard = self._announced.get(author)
        if heard is not None:
            self._announced[author] = (heard[0], now, heard[2])

    def _move(self, author: bytes, old: L, new: L, changes: Changes[L], now: float) -> None:
        self._assign(author, new, now)
        changes.unwant(old, author)
        changes.want(new, author)

    def _load(self, link: L) -> int:
        """Entries the link owes us for the authors it is the source of."""
        notes = self.notes[link]
        return sum(max(0, notes.get(a, 0) - self.held.get(a, 0)) for a, s in self.source.items() if s == link)

    def _best(self, author: bytes, besides: L | None = None) -> L | None:
        """The link to take ``author`` from: the author's own node; else the one whose peer holds the most of
        it; among equals, for an author we hold nothing of, the one that already sends us the most such
        authors (one peer sends every new author, in admission order), and otherwise the least busy; then
        the one up longest. ``besides``: not that one."""
        links = [link for link in self.notes if link != besides]
        if not links:
            return None
        for link in links:
            if self.keys.get(link) == author:
                return link
        top = max(self.notes[link].get(author, 0) for link in links)
        candidates = [link for link in links if self.notes[link].get(author, 0) == top]
        if len(candidates) == 1:
            return candidates[0]
        if self.held.get(author, 0) == 0:
            newcomers = {link: 0 for link in candidates}
            for other, source in self.source.items():
                if source in newcomers and self.held.get(other, 0) == 0:
                    newcomers[source] += 1
            return max(candidates, key=lambda link: (newcomers[link], -links.index(link)))
        counts = {link: 0 for link in candidates}
        for source in self.source.values():
            if source in counts:
                counts[source] += 1
        return min(candidates, key=lambda link: (counts[link], links.index(link)))

    def _split(self, link: L, changes: Changes[L], now: float) -> None:
        """Move authors we are far behind on to ``link`` (it holds as much of them as their source) while
        that evens out what the two owe us."""
        notes = self.notes[link]
        behind = [
            (notes[a] - self.held.get(a, 0), a)
            for a, source in self.source.items()
            if source != link
            and self.held.get(a, 0) > 0
            and notes.get(a, 0) - self.held.get(a, 0) >= SPLIT_MIN
            and notes.get(a, 0) >= self.notes[source].get(a, 0)
        ]
        mine = self._load(link)
        for owed, author in sorted(behind, reverse=True):
            source = self.source[author]
            if owed < self._load(source) - mine:  # the two then owe us less apart than before
                self._move(author, source, link, changes, now)
                mine += owed


def merge(changes: Iterable[Changes[L]]) -> Changes[L]:
    """Several sets of changes as one (a later change to the same link and author wins)."""
    out: Changes[L] = Changes()
    for change in changes:
        for link, authors in change.unwanted.items():
            for author in authors:
                out.unwant(link, author)
        for link, authors in change.wanted.items():
            for author in authors:
                out.want(link, author)
    return out
