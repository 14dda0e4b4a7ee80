"""The accept path inside one write transaction.

Entries are grouped per author. For each author: entries at or below the stored head are duplicates or fork
proofs; the rest must continue the chain (next seq, ``prev`` = id of the head, clock increasing). A linked
run is authentic when its last signature verifies; if that fails, entries are checked one by one and the
valid prefix is kept. Authors not (yet) known as members wait until the end of the batch, since a membership
entry later in the same batch may admit them, and then go to the bounded quarantine. Whenever membership may
have changed, quarantined authors that are now admitted are taken.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from meshchat.log.entry import Entry, decode_entry, verify_signature
from meshchat.log.kinds import MEMBERSHIP_KINDS
from meshchat.store.results import NOT_LINKED, AcceptResult, BatchResult, Head, Outcome
from meshchat.store.schema import (
    ENTRY_ROWS_PER_INSERT,
    INSERT_ENTRIES,
    INSERT_ENTRY,
    INSERTS,
    add_rows,
)

if TYPE_CHECKING:
    from meshchat.store.store import Store

QUARANTINE_MAX_ENTRIES = 20_000
_SEQ = itemgetter(Entry._fields.index("seq"))  # entry.seq, as a C-level sort key
_KIND = itemgetter(Entry._fields.index("kind"))
_make_head = tuple.__new__  # Head._make without the Python-level call


class Ingest:
    """Feed it decoded entries (in chunks, if need be), then call :meth:`finish` once."""

    def __init__(
        self, store: Store, result: BatchResult, *, verify_each: bool, own: bool = False, received: int | None = None
    ) -> None:
        self.store = store
        self.received = received  # when these entries reached this node (the entries' ``received`` column)
        self.conn = store.connection
        self.result = result
        self.verify_each = verify_each
        self.own = own
        self.waiting: dict[bytes, list[Entry]] = {}
        self.moved_heads: set[bytes] = set()  # authors whose head moved: written to the table in finish()
        # Rows of stored runs not yet inserted: written a hundred per statement (see _flush), before anything
        # reads what they could change.
        self.pending_entries: list[tuple[Any, ...]] = []
        self.pending_views: dict[str, list[tuple[Any, ...]]] = {}
        self.checked: dict[bytes, bool] = {}  # entry id -> signature verifies (see _verify_ahead)

    def feed(self, entries: Iterable[Entry]) -> None:
        by_author: dict[bytes, list[Entry]] = {}
        for entry in entries:
            by_author.setdefault(entry.author, []).append(entry)
        self.feed_by_author(by_author)

    def feed_by_author(self, by_author: dict[bytes, list[Entry]]) -> None:
        """Like :meth:`feed`, with the entries already grouped per author (in any order within a group)."""
        heads = self.store.heads_cache
        for run in by_author.values():
            run.sort(key=_SEQ)
        if self.verify_each:
            self._verify_ahead(by_author)
        for author, run in by_author.items():
            if author in self.waiting:
                self.waiting[author] = sorted(self.waiting[author] + run, key=_SEQ)
            elif author in heads or self._admitted(author, run):
                if self._take_author(author, run):
                    self._retry_waiting()
            else:
                self.waiting[author] = run

    def finish(self) -> None:
        self._retry_waiting()
        for author, run in self.waiting.items():
            self._quarantine(author, run)
        self.waiting.clear()
        self._release_quarantine()
        self._flush()
        heads, ixs = self.store.heads_cache, self.store.author_ix
        self.conn.executemany(
            "UPDATE authors SET seq = ?, id = ?, clock = ? WHERE ix = ?",
            [(heads[a].seq, bytearray(heads[a].id), heads[a].clock, ixs[a]) for a in self.moved_heads],
        )

    def _flush(self) -> None:
        """Insert the pending rows. Runs before every read that could see them: fork checks, and evaluating
        membership once a run changed it (other runs cannot change what membership reads: see _take_author)."""
        rows = self.pending_entries
        if rows:
            whole = len(rows) - len(rows) % ENTRY_ROWS_PER_INSERT
            for start in range(0, whole, ENTRY_ROWS_PER_INSERT):  # rows keep their order, and so their rowids
                self.conn.execute(
                    INSERT_ENTRIES, list(chain.from_iterable(rows[start : start + ENTRY_ROWS_PER_INSERT]))
                )
            if whole < len(rows):
                self.conn.executemany(INSERT_ENTRY, rows[whole:])
            self.pending_entries = []
        if self.pending_views:
            for name, values in self.pending_views.items():
                self.conn.executemany(INSERTS[name], values)
            self.pending_views = {}

    def _verify_ahead(self, by_author: dict[bytes, list[Entry]]) -> None:
        """Check, in one loop, the signatures that taking these entries will check one by one.

        Interleaved with the rest of the accept path, each Ed25519 verification ran about 4 us slower than in
        a loop of its own (libsodium's code and tables fall out of the CPU caches in between; measured with
        60 us verifications and 9 us of decoding and SQLite work per entry). So this runs ahead: for each
        author, the entries that link onto its head, in order, stopping at its first bad signature or where
        the author was cut by a removal: the signatures _take_author would check. It stores no decision:
        _authentic_prefix reads the results and verifies itself whatever is not there.
        """
        store = self.store
        membership = store.current_membership()
        checked = self.checked
        for author, entries in by_author.items():
            head = store.heads_cache.get(author)
            expect_seq, expect_prev, last_clock = (head.seq + 1, head.id, head.clock) if head else (1, None, -1)
            cut = None if self.own else membership.removed_upto(author)
            for entry in entries:
                _, header, sig, _, _, _, seq, prev, clock, _, id_, _ = entry
                if seq < expect_seq:
                    continue
                if seq != expect_seq or prev != expect_prev or clock <= last_clock or (cut is not None and seq > cut):
                    break
                ok = checked[id_] = verify_signature(author, header, sig)
                if not ok:
                    break
                expect_seq, expect_prev, last_clock = seq + 1, id_, clock

    # -- admission

    def _retry_waiting(self) -> None:
        """Take waiting authors that membership now admits, until no more are admitted."""
        progress = True
        while progress and self.waiting:
            progress = False
            for author in list(self.waiting):
                run = self.waiting[author]
                if self._admitted(author, run):
                    del self.waiting[author]
                    self._take_author(author, run)
                    progress = True

    def _admitted(self, author: bytes, entries: list[Entry]) -> bool:
        store = self.store
        if self.own or author in store.heads_cache:
            return True
        first = entries[0]
        if first.seq == 1 and first.id == store.team_id:
            return True  # the genesis entry
        return store.current_membership().admits(author)

    # -- one author's entries

    def _take_author(self, author: bytes, entries: list[Entry]) -> bool:
        """Store what can be stored of one author's entries; return whether membership may have changed."""
        store, result = self.store, self.result
        head = store.heads_cache.get(author)
        have = head.seq if head else 0
        run: list[Entry] = []
        later: list[Entry] = []
        expect_seq, expect_prev, last_clock = have + 1, head.id if head else None, head.clock if head else -1
        broken = False
        for entry in entries:
            _, _, _, _, _, _, seq, prev, clock, _, id_, _ = entry
            if seq < expect_seq:
                later.append(entry)  # duplicate or fork: judged once the run is stored
            elif broken:
                result.add(AcceptResult(Outcome.DEFERRED, entry, "follows an entry that was not taken"))
            elif seq != expect_seq:
                result.add(AcceptResult(Outcome.DEFERRED, entry, f"gap: expected seq {expect_seq}"))
                broken = True
            elif prev != expect_prev:
                result.add(AcceptResult(Outcome.REJECTED, entry, NOT_LINKED))
                broken = True
            elif clock <= last_clock:
                result.add(AcceptResult(Outcome.REJECTED, entry, "clock does not increase along the log"))
                broken = True
            else:
                run.append(entry)
                expect_seq, expect_prev, last_clock = seq + 1, id_, clock
        cut = store.current_membership().removed_upto(author)
        if cut is not None and not self.own:
            for entry in run:
                if entry.seq > cut:
                    result.add(AcceptResult(Outcome.REJECTED, entry, "author was removed from the team"))
            run = [e for e in run if e.seq <= cut]
        run = self._authentic_prefix(run)
        changed = False
        if run:
            self._store_run(author, run)
            # Membership is evaluated from the genesis entry and the control rows (membership kinds) only:
            # a run without them leaves it as it was, and its rows may wait in pending.
            changed = run[0].id == store.team_id or not MEMBERSHIP_KINDS.isdisjoint(map(_KIND, run))
            if changed:
                self._flush()
        for entry in later:
            changed |= self._duplicate_or_fork(entry)
        if changed:
            store.invalidate_membership()
        return changed

    def _authentic_prefix(self, run: list[Entry]) -> list[Entry]:
        """The longest prefix of a linked run whose authenticity is proven (see the module doc)."""
        if not run:
            return run
        if not self.verify_each and len(run) > 1 and run[-1].verify_signature():
            return run
        checked = self.checked
        for i, entry in enumerate(run):
            ok = checked.get(entry.id)
            if not (entry.verify_signature() if ok is None else ok):
                self.result.add(AcceptResult(Outcome.REJECTED, entry, "bad signature"))
                for rest in run[i + 1 :]:
                    self.result.add(AcceptResult(Outcome.REJECTED, rest, "follows an entry with a bad signature"))
                return run[:i]
        return run

    def _store_run(self, author: bytes, run: list[Entry]) -> None:
        store = self.store
        add_rows(store.ix_for(author), run, self.pending_entries, self.pending_views, self.received)
        _, _, _, _, _, _, seq, _, clock, _, id_, _ = run[-1]
        store.heads_cache[author] = _make_head(Head, (seq, id_, clock))
        self.moved_heads.add(author)
        self.result.appended += run

    def _duplicate_or_fork(self, entry: Entry) -> bool:
        """Judge an entry at or below the head. Returns whether it revealed a new fork."""
        self._flush()
        ix = self.store.author_ix[entry.author]
        stored = self.conn.execute("SELECT id FROM entries WHERE author = ? AND seq = ?", (ix, entry.seq)).fetchone()
        if stored is not None and stored[0] == entry.id:
            self.result.add(AcceptResult(Outcome.DUPLICATE, entry))
            return False
        if not entry.verify_signature():
            self.result.add(AcceptResult(Outcome.REJECTED, entry, "bad signature"))
            return False
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO forks VALUES (?, ?, ?, ?, ?)",
            (entry.author, entry.seq, entry.id, entry.raw, _now_ms()),
        )
        self.result.add(AcceptResult(Outcome.FORK, entry, f"a second entry for seq {entry.seq}"))
        if cursor.rowcount:
            self.result.forks.append(entry)
        forked = self.store.forked
        if entry.seq < forked.get(entry.author, 2**62):
            forked[entry.author] = entry.seq
            return True
        return False

    # -- quarantine

    def _quarantine(self, author: bytes, entries: list[Entry]) -> None:
        """Hold an unknown author's chain (from seq 1, linked, verified) until membership admits it."""
        conn, result = self.conn, self.result
        held = conn.execute(
            "SELECT seq, id FROM quarantine WHERE author = ? ORDER BY seq DESC LIMIT 1", (author,)
        ).fetchone()
        have, prev = (held[0], held[1]) if held else (0, None)
        room = QUARANTINE_MAX_ENTRIES - conn.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        run: list[Entry] = []
        for entry in entries:
            if entry.seq <= have:
                result.add(AcceptResult(Outcome.QUARANTINED, entry, "already held in quarantine"))
            elif entry.seq == have + len(run) + 1 and entry.prev == (run[-1].id if run else prev):
                run.append(entry)
            else:
                result.add(AcceptResult(Outcome.DEFERRED, entry, "gap in the log of an unknown author"))
        run = self._authentic_prefix(run)
        for entry in run[room:] if room > 0 else run:
            result.add(AcceptResult(Outcome.DEFERRED, entry, "quarantine is full"))
        conn.executemany(
            "INSERT OR IGNORE INTO quarantine VALUES (?, ?, ?, ?, ?)",
            [(author, e.seq, e.id, e.raw, _now_ms()) for e in run[: max(room, 0)]],
        )
        self.store.quarantine_may_hold = True
        for entry in run[: max(room, 0)]:
            result.add(AcceptResult(Outcome.QUARANTINED, entry, "author is not a known member"))

    def _release_quarantine(self) -> None:
        """Take quarantined entries of authors that membership now admits (repeats while it admits more)."""
        while self.store.quarantine_may_hold:
            membership = self.store.current_membership()
            authors = [a for (a,) in self.conn.execute("SELECT DISTINCT author FROM quarantine")]
            if not authors:
                self.store.quarantine_may_hold = False
                return
            ready = [a for a in authors if membership.admits(a) or a in self.store.heads_cache]
            if not ready:
                return
            for author in ready:
                rows = self.conn.execute("SELECT raw FROM quarantine WHERE author = ? ORDER BY seq", (author,))
                entries = [decode_entry(raw) for (raw,) in rows]
                self.conn.execute("DELETE FROM quarantine WHERE author = ?", (author,))
                self._take_author(author, entries)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
