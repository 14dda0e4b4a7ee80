"""Whether this node's clock agrees with the team's, from what the store holds (the rule:
``meshchat.log.clock.clock_check``).

Reads only the entries stored recently (the last :data:`SAMPLE_ROWS` rows, by rowid) and the timing the views
already keep, so the cost of a post does not grow with the log; the answer is kept until entries of others
arrive or :data:`RECHECK_MS` pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meshchat.log.clock import CLOCK_SAMPLE_MS, ClockCheck, clock_check

if TYPE_CHECKING:
    from meshchat.store.store import Store

SAMPLE_ROWS = 2000  # the most recently stored entries are the ones that say what the clocks read now
RECHECK_MS = 10_000

_AHEAD_OF_RECEIPT = (
    "SELECT a.key, max(e.clock - e.received) FROM entries e JOIN authors a ON a.ix = e.author "
    "WHERE e.rowid > ? AND e.received >= ? AND e.author != ? GROUP BY e.author"
)


class TeamClock:
    """Use through ``Store.team_clock``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._basis: tuple[bytes, int, int] | None = None
        self._check = ClockCheck()

    def check(self, me: bytes, wall: int) -> ClockCheck:
        """What the team's clocks say of ``me``'s, ``wall`` being our wall clock now."""
        store = self.store
        heads = store.heads_cache
        basis = (me, wall // RECHECK_MS, sum(h.seq for key, h in heads.items() if key != me))
        if basis == self._basis:
            return self._check
        membership = store.current_membership()
        conn = store.connection
        (last,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM entries").fetchone()
        ahead = {
            key: int(value)
            for key, value in conn.execute(
                _AHEAD_OF_RECEIPT, (last - SAMPLE_ROWS, wall - CLOCK_SAMPLE_MS, store.author_ix.get(me, -1))
            )
            if value is not None and membership.role_of(key) is not None
        }
        self._check = clock_check(ahead, self._moved(me))
        self._basis = basis
        return self._check

    def _moved(self, me: bytes) -> int | None:
        witnessed = self.store.clocks.current().last_witnessed(me)
        if witnessed is None:
            return None
        seq, held = witnessed
        head = self.store.heads_cache.get(me)
        if head is None:
            return None
        row = self.store.connection.execute(
            "SELECT clock FROM entries WHERE author = ? AND seq = ?", (self.store.author_ix[me], min(seq, head.seq))
        ).fetchone()
        return None if row is None else held - int(row[0])
