"""What this node held when: for each minute of its own clock, the newest clock among the entries it had
stored by then. The rule that reads it is ``meshchat.log.views.arrived_late``: an entry that arrives long
after it claims, *after* this node already held later entries, shows when it arrived.

Read incrementally by rowid (one pass over the log the first time, then only what was stored since), one
number per minute of receipts: a week online is ten thousand numbers, whatever the size of the log. Clocks
beyond the drift bound past their own receipt (a clock from 2076) do not count as "newest".
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from meshchat.log.clock import MAX_DRIFT_MS

if TYPE_CHECKING:
    from meshchat.store.store import Store

BUCKET_MS = 60_000

_BUCKETS = (  # one statement: entries without a receipt time fall in a bucket of their own (NULL), skipped
    "SELECT received / ?, max(CASE WHEN clock <= received + ? THEN clock END), max(rowid) FROM entries "
    "WHERE rowid > ? GROUP BY 1"
)


class Receipts:
    """Use through ``Store.receipts``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.loaded = 0  # entries rowid read up to
        self.generation = -1
        self.buckets: dict[int, int] = {}  # minute of receipt -> newest clock stored in it
        self.minutes: list[int] = []  # sorted minutes ...
        self.newest: list[int] = []  # ... and the newest clock stored by the end of each

    def newest_before(self, when: int) -> int | None:
        """The newest clock among the entries this node had stored before ``when`` (its own clock), to the
        minute and erring early; ``None``: nothing, or receipts not recorded."""
        self._load()
        i = bisect_left(self.minutes, when // BUCKET_MS)
        return self.newest[i - 1] if i else None

    def _load(self) -> None:
        store = self.store
        if store.generation == self.generation:
            return
        self.generation = store.generation
        changed = False
        last = self.loaded
        for minute, newest, upto in store.connection.execute(_BUCKETS, (BUCKET_MS, MAX_DRIFT_MS, self.loaded)):
            last = max(last, upto)
            if minute is not None and newest is not None and newest > self.buckets.get(minute, -1):
                self.buckets[minute] = newest
                changed = True
        self.loaded = last
        if changed:
            self.minutes = sorted(self.buckets)
            best = -1
            self.newest = []
            for minute in self.minutes:
                best = max(best, self.buckets[minute])
                self.newest.append(best)
