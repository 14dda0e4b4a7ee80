"""The effective clocks of a store's entries, kept up to date as entries arrive.

The rule is :mod:`meshchat.log.timing`; this module feeds it what the store holds: every signed ``heads``
entry (the ``v_held`` view rows, read once each, by rowid) with the clock of each entry it names. Most of the
time nothing moves: honest entries sit at their claims, and reading a room costs one set lookup per row. Only
*moved* entries (an author whose clock ran ahead, or who wrote after what it had seen with a clock behind)
are found, with one index seek per run of constant bounds, and kept until their author's log or the evidence
changes.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

from meshchat.log.rules import Membership
from meshchat.log.timing import NEVER, Statement, Timing

if TYPE_CHECKING:
    from meshchat.store.store import Store

_STATEMENTS = (
    "SELECT h.rowid, h.author, h.seq, h.clock, h.held, h.upto, e.clock FROM v_held h "
    "LEFT JOIN authors a ON a.key = h.held "
    "LEFT JOIN entries e ON e.author = a.ix AND e.seq = h.upto AND e.id = h.held_id "
)


class Clocks:
    """Use through ``Store.clocks``. Reads only; the store's own caches say when to look again."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.membership: Membership | None = None
        self.timing = Timing(lambda author, seq: False)
        self.loaded = 0  # v_held rowid read up to
        self.waiting: dict[bytes, dict[tuple[bytes, int], int]] = {}  # author -> statements naming an unheld seq
        self.moved: dict[bytes, list[tuple[int, int]]] = {}  # author -> (first, last) seq runs that may move
        self.moved_basis: dict[bytes, int] = {}  # author -> its head seq when its runs were found
        self.version = 0  # changes whenever an effective clock may have
        self.generation = -1  # the store's generation when last brought up to date

    def current(self) -> Timing:
        """The timing of everything the store holds now."""
        store = self.store
        membership = store.current_membership()
        if membership is self.membership and store.generation == self.generation:
            return self.timing  # nothing stored since we looked
        self.generation = store.generation
        conn = store.connection
        if membership is not self.membership:  # who counts changed (or the views were rebuilt): start over
            self.membership = membership
            self.timing = Timing(membership.counts)
            self.loaded, self.waiting, self.moved, self.moved_basis = 0, {}, {}, {}
            self.version += 1
        rows = conn.execute(_STATEMENTS + "WHERE h.rowid > ? ORDER BY h.rowid", (self.loaded,)).fetchall()
        if rows:
            self.loaded = rows[-1][0]
            self._add(rows)
        heads = store.heads_cache
        ready = [a for a, named in self.waiting.items() if a in heads and heads[a].seq >= min(named.values())]
        for author in ready:  # entries a statement named have arrived since: read it again with their clocks
            for (witness, wseq), _ in self.waiting.pop(author).items():
                again = conn.execute(_STATEMENTS + "WHERE h.author = ? AND h.seq = ?", (witness, wseq)).fetchall()
                self._add(again)
        return self.timing

    def _add(self, rows: list[tuple[int, bytes, int, int, bytes, int, int | None]]) -> None:
        statements: dict[tuple[bytes, int], tuple[int, list[tuple[bytes, int, int | None]]]] = {}
        for _, witness, wseq, wclock, held, upto, clock in rows:
            statements.setdefault((witness, wseq), (wclock, []))[1].append((held, upto, clock))
            if clock is None:
                self.waiting.setdefault(held, {})[(witness, wseq)] = upto
        for (witness, wseq), (wclock, named) in statements.items():
            self.timing.add(Statement(witness, wseq, wclock, tuple(named)))
        self.moved, self.moved_basis = {}, {}
        self.version += 1

    def effective(self, author: bytes, seq: int, clock: int) -> int:
        return self.current().effective(author, seq, clock)

    def moved_runs(self) -> dict[bytes, list[tuple[int, int]]]:
        """``{author: [(first, last), ...]}``: the seqs whose effective clock is not their claim (a superset is
        fine: readers compute each one). Readers order the others by their claimed clock, with the index."""
        timing = self.current()
        heads = self.store.heads_cache
        for author in timing.touched():
            head = heads[author].seq if author in heads else 0
            if self.moved_basis.get(author) != head:
                self.moved[author] = self._find_moved(author, timing)
                self.moved_basis[author] = head
        return {a: runs for a, runs in self.moved.items() if runs}

    def _find_moved(self, author: bytes, timing: Timing) -> list[tuple[int, int]]:
        ix = self.store.author_ix.get(author)
        if ix is None:
            return []
        conn = self.store.connection
        out: list[tuple[int, int]] = []
        for first, last, upper, lower in timing.ranges(author):
            hi = min(last, 2**62)
            if upper < NEVER:  # clocks increase along the chain: those above ``upper`` are a tail of the run
                (start,) = conn.execute(
                    "SELECT min(seq) FROM entries WHERE author = ? AND seq BETWEEN ? AND ? AND clock > ?",
                    (ix, first, hi, upper),
                ).fetchone()
                if start is not None:
                    out.append((start, hi))
            if lower > -NEVER:  # ... and those below ``lower`` a head of it
                (end,) = conn.execute(
                    "SELECT max(seq) FROM entries WHERE author = ? AND seq BETWEEN ? AND ? AND clock < ?",
                    (ix, first, hi, lower),
                ).fetchone()
                if end is not None:
                    out.append((first, end))
        return _merge(out)


def is_moved(runs: list[tuple[int, int]] | None, seq: int) -> bool:
    """Whether ``seq`` falls in one of the (sorted, disjoint) runs."""
    if not runs:
        return False
    i = bisect_right(runs, (seq, NEVER)) - 1
    return i >= 0 and runs[i][0] <= seq <= runs[i][1]


def _merge(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for first, last in sorted(runs):
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out
