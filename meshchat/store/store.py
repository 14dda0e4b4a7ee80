"""The durable log: every entry, from every source, goes through one accept path.

``accept`` (one entry) and ``accept_batch`` (many) decode strictly, check team, chain and signature, decide
authorisation from the membership view, and store what passes in one transaction together with its view rows.
Own entries are written by ``append_own``, which takes its sequence number from the durable store under the
write lock (never from memory, so a restored key cannot fork itself) and commits with ``synchronous=FULL``.

Chain-authenticated batches: a run of one author's consecutive entries that links to the stored head, whose
hash links all hold and whose *last* signature verifies, is authentic as a whole, because each id covers the
previous header and signature. So a batch verifies one signature per run (see docs/storage.md).

Several processes may open one store (a running node and a CLI ``post``): writes take SQLite's write lock with
``BEGIN IMMEDIATE``, and the in-memory caches are reloaded whenever ``PRAGMA data_version`` says that another
connection committed.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from meshchat.errors import DiskFullError, StoreError
from meshchat.files import file_kind
from meshchat.log.clock import ClockCheck, next_clock, wall_ms
from meshchat.log.codec import unpack
from meshchat.log.entry import MAX_ENTRY_SIZE, ZERO_ID, Entry, EntryError, Signer, decode_entry, sign_entry
from meshchat.log.rules import ControlEntry, Held, Membership, evaluate
from meshchat.store import search
from meshchat.store.clocks import Clocks
from meshchat.store.ingest import Ingest
from meshchat.store.own import (
    EXPECTED_KEY,
    HeadMark,
    OwnGap,
    decode_expected,
    encode_expected,
)
from meshchat.store.receipts import Receipts
from meshchat.store.results import AcceptResult, BatchResult, Head, NewEntry, NewSummary, Outcome
from meshchat.store.schema import (
    ENTRIES,
    INSERTS,
    MIGRATIONS,
    SCHEMA_VERSION,
    VIEW_TABLES,
    VIEWS,
    entry_and_view_rows,
)
from meshchat.store.teamclock import TeamClock

P = ParamSpec("P")
R = TypeVar("R")
BUSY_TIMEOUT_S = 10.0
WAL_AUTOCHECKPOINT_PAGES = 16384  # 64 MiB: bulk catch-up is not slowed by checkpoints; idle nodes checkpoint


StorageFullError = DiskFullError  # the old name, until every helper's branch has moved to DiskFullError


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused for a batch of entries (their decoding or rebuilding, and their
    accept). Every entry is a tuple subclass, which the collector tracks and never untracks: thousands of
    them set off collections that walk the whole heap (in the sync benchmark, with its 100,000-entry history
    in memory, 2.4 us per entry). Nothing on these paths makes reference cycles, so what a batch allocates is
    freed by reference counting as usual; the collector resumes afterwards unless the application had turned
    it off itself."""
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class StoreDamagedError(StoreError):
    """The database file is damaged. It is never used as if it were healthy: ``meshchat repair`` moves it aside
    and rebuilds the log from what can still be read, from peers and from bundles."""


class OwnLogBehindError(StoreError):
    """Our own log here is behind what it reached elsewhere: writing waits until the rest is back (see
    ``meshchat.store.own``)."""


class OwnLogForkedError(StoreError):
    """Our own key signed two different entries with one seq: nothing we write now would count anywhere."""


DISK_FULL = "the disk is full: free some space, then try again (reading still works)"
READ_ONLY = (
    "this home is on a read-only medium (a write-protected card, a read-only mount): reading works, nothing can "
    "be written or synced; copy the home to a writable place to work with it"
)


class ReadOnlyStoreError(StoreError):
    """The store was opened from a read-only medium: nothing can be written. Reading still works."""


# SQLite's result codes for a damaged file: SQLITE_CORRUPT, and SQLITE_NOTADB (the header itself is damaged).
DAMAGE_CODES = frozenset({11, 26})


def _translating(method: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[Store, P], R]:
    """SQLite's errors from a read that the node and its links make all the time become :class:`StoreError`
    (:class:`StoreDamagedError` for a damaged file), which the node reports, rather than end a link with
    SQLite's words as if the peer were at fault."""

    @functools.wraps(method)
    def read(self: Store, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise _storage_error(exc, self.path) from exc

    return read


class Store:
    """One team's log in one SQLite file. Use it from one thread at a time."""

    def __init__(self, conn: sqlite3.Connection, path: Path, team_id: bytes) -> None:
        self._conn = conn
        self.path = path
        self.team_id = team_id
        self.heads_cache: dict[bytes, Head] = {}
        self.author_ix: dict[bytes, int] = {}
        self.forked: dict[bytes, int] = {}  # author -> lowest seq with two entries
        self.quarantine_may_hold = True  # False only when the quarantine table is known to be empty
        self._membership: Membership | None = None
        self._clocks: Clocks | None = None
        self._team_clock = TeamClock(self)
        self.receipts = Receipts(self)  # what this node held when (as of the last refresh, as ``clocks``)
        self._membership_basis = (-1, -1)  # _membership_inputs() when the membership was evaluated
        self._data_version = -1
        self.generation = 0  # changes whenever this store may hold something new (own writes or another's)
        self.read_only = False  # opened read-only: the disk was too full to open it for writing, or read-only
        self.read_only_reason = ""  # why, in words for the person (DISK_FULL or READ_ONLY)
        self.own_expected: dict[bytes, tuple[int, str]] = {}  # author -> (seq, source): see meshchat.store.own
        self.head_mark = HeadMark(path, team_id)
        self._reload()

    # ---- opening -------------------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, team_id: bytes) -> Store:
        """Create a new, empty store for ``team_id``. Refuses to reuse an existing file."""
        if path.exists():
            raise StoreError(f"{path} already exists")
        conn = _connect(path)
        with conn:
            conn.executescript(ENTRIES + VIEWS)
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            conn.execute("INSERT INTO meta VALUES ('team_id', ?)", (team_id,))
        return cls(conn, path, team_id)

    @classmethod
    def found(cls, path: Path, founder: Signer, team_name: str, *, wall: int | None = None) -> Store:
        """Create a new team: sign its genesis entry (``team.create``, whose id becomes the team id) and a
        store holding it."""
        genesis = sign_entry(
            founder,
            team_id=ZERO_ID,
            seq=1,
            prev=None,
            clock=wall_ms() if wall is None else wall,
            kind="team.create",
            body={"name": team_name},
        )
        store = cls.create(path, genesis.id)
        with store._write(durable=True):
            store._ingest_own(genesis, genesis.clock)
        return store

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open an existing store. A damaged file raises :class:`StoreDamagedError` (SQLite's quick check runs
        first: ~40 ms for 100,000 entries here), so nothing is ever served from it."""
        if not path.exists():
            raise StoreError(f"no store at {path}")
        _refuse_non_files(path)
        why_read_only = ""
        try:
            conn = _connect(path)
        except StoreDamagedError:
            raise
        except StoreError:
            # Opening a WAL database creates its shared-memory file, which a full disk or a read-only medium
            # refuses. The data can still be read as it is on disk, provided no write-ahead log holds newer pages.
            wal = path.with_name(path.name + "-wal")
            why_read_only = READ_ONLY if _read_only_medium(path) else DISK_FULL if _disk_full(path) else ""
            if not why_read_only or (wal.exists() and wal.stat().st_size > 0):
                raise
            conn = sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True, isolation_level=None)
        try:
            rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('schema_version', 'team_id')"))
            damage = _quick_check(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if damaged(exc):
                raise damaged_error(path, str(exc)) from None
            raise StoreError(f"{path} is not a meshchat store: {exc}") from None
        if damage is not None:
            conn.close()
            raise damaged_error(path, damage)
        version = rows.get("schema_version")
        if version in MIGRATIONS and why_read_only:
            conn.close()
            raise StoreError(
                f"{path} was written by an older meshchat (schema {version}) and cannot be brought up to date "
                f"where it is: {why_read_only}"
            )
        if version in MIGRATIONS:
            version = _migrate(conn, version, path)
        if version != SCHEMA_VERSION or not isinstance(rows.get("team_id"), bytes):
            conn.close()
            raise StoreError(f"{path} has an unknown schema (version {rows.get('schema_version')!r})")
        store = cls(conn, path, rows["team_id"])
        store.read_only = bool(why_read_only)
        store.read_only_reason = why_read_only
        if not why_read_only:
            store._check_mark()
        return store

    def _check_mark(self) -> None:
        """Compare our own log with the head mark beside the database (see ``meshchat.store.own``)."""
        mark = self.head_mark.read()
        if mark is None:
            return
        author, seq, _ = mark
        head = self.heads_cache.get(author)
        if (head.seq if head else 0) < seq:
            with contextlib.suppress(StoreError):  # busy or full: the next open looks again
                self.expect_own(author, seq, "mark")

    def close(self) -> None:
        self._conn.close()
        self.head_mark.close()

    def _read_only_error(self) -> StoreError:
        if self.read_only_reason == READ_ONLY:
            return ReadOnlyStoreError(READ_ONLY)
        return DiskFullError(DISK_FULL)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- caches --------------------------------------------------------------------------------------------

    def _reload(self, *, keep_membership: bool = False) -> None:
        """Reload the caches from the database. ``keep_membership``: keep the evaluated membership if what
        it was evaluated from (the control entries and the forks) has not changed.

        The data version is read first: a commit by another connection while the caches are read (the node's
        writer, in its thread) then leaves it changed, and the next look reloads again. Read last, it would
        count that commit as seen, and a membership kept from before it would stay stale until the next one."""
        data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        rows = self._conn.execute("SELECT ix, key, seq, id, clock FROM authors").fetchall()
        self.author_ix = {key: ix for ix, key, _, _, _ in rows}
        self.heads_cache = {key: Head(seq, id_, clock) for _, key, seq, id_, clock in rows if seq > 0}
        forked = dict(self._conn.execute("SELECT author, min(seq) FROM forks GROUP BY author").fetchall())
        unchanged = forked == self.forked and self._membership_inputs() == self._membership_basis
        if not (keep_membership and unchanged):
            self._membership = None
        self.forked = forked
        self.quarantine_may_hold = bool(self._conn.execute("SELECT EXISTS (SELECT 1 FROM quarantine)").fetchone()[0])
        expected = decode_expected(self.get_local(EXPECTED_KEY))
        self.own_expected = {expected[0]: expected[1:]} if expected else {}
        self._data_version = data_version
        self.generation += 1

    def _refresh(self) -> None:
        """Reload the caches if another connection has committed since we last looked. A commit of ordinary
        entries (a peer's messages, a CLI post) keeps the evaluated membership."""
        if self._conn.execute("PRAGMA data_version").fetchone()[0] != self._data_version:
            self._reload(keep_membership=True)

    def _membership_inputs(self) -> tuple[int, int]:
        """Changes whenever the control entries do: v_control rows are only ever added (``rebuild_views``
        re-adds them under new rowids, and invalidates the membership itself)."""
        count, last = self._conn.execute("SELECT count(*), coalesce(max(rowid), 0) FROM v_control").fetchone()
        return int(count), int(last)

    @property
    def clocks(self) -> Clocks:
        """The effective clocks of the entries held (``meshchat.log.timing``), kept up to date incrementally. As
        of the last refresh: read ``membership`` first (as every view does), which looks for others' writes."""
        if self._clocks is None:
            self._clocks = Clocks(self)
        return self._clocks

    def team_clock(self, me: bytes, *, wall: int | None = None) -> ClockCheck:
        """Whether ``me``'s wall clock (now, or ``wall``) agrees with the team's: ``meshchat.log.clock``."""
        self._refresh()
        return self._team_clock.check(me, wall_ms() if wall is None else wall)

    def team_now(self, me: bytes) -> int:
        """Now on the team's time, as ``me``'s node reckons it (:meth:`team_clock`): the one reading of "now" for
        whatever a node writes or compares with what its teammates wrote (``meshchat.log.clock``)."""
        wall = wall_ms()
        return self.team_clock(me, wall=wall).team_time(wall)

    def invalidate_membership(self) -> None:
        self._membership = None

    @property
    def membership(self) -> Membership:
        """Who is in the team with which role, evaluated from the membership entries held now."""
        self._refresh()
        return self.current_membership()

    def current_membership(self) -> Membership:
        if self._membership is None:
            self._membership_basis = self._membership_inputs()
            self._membership = self.evaluate_membership()
        return self._membership

    def evaluate_membership(self, extra: Iterable[ControlEntry] = ()) -> Membership:
        # CROSS JOIN fixes the join order: one index lookup per author instead of a scan of every entry
        # (10 ms at 50,000 entries, paid on every evaluation).
        genesis = self._conn.execute(
            "SELECT a.key, e.clock FROM authors a CROSS JOIN entries e ON e.author = a.ix AND e.seq = 1 "
            "WHERE e.kind = 'team.create' AND e.id = ?",
            (self.team_id,),
        ).fetchone()
        founder, genesis_clock = (genesis[0], genesis[1]) if genesis else (None, 0)
        controls = [
            ControlEntry(clock, author, seq, kind, _decode_body(body))
            for kind, body, author, seq, clock in self._conn.execute(
                "SELECT kind, body, author, seq, clock FROM v_control"
            )
        ]
        everything = [*controls, *extra]
        # A forked author's entries count up to the seq before the fork, on every node alike.
        limits = {author: seq - 1 for author, seq in self.forked.items()}
        held = self.held_by_removers(everything)
        return evaluate(self.team_id, founder, genesis_clock, everything, seq_limits=limits, held=held)

    def held_by_removers(self, controls: Iterable[ControlEntry]) -> list[Held]:
        """What each remover's own heads entries say it held of the member it removes (the removal's floor)."""
        pairs = {
            (c.author, member)
            for c in controls
            if c.kind == "member.remove" and isinstance(member := c.body.get("member"), bytes)
        }
        out: list[Held] = []
        for remover, member in pairs:
            rows = self._conn.execute(
                "SELECT seq, clock, upto FROM v_held WHERE held = ? AND author = ?", (member, remover)
            )
            out += [Held(remover, seq, clock, member, upto) for seq, clock, upto in rows]
        return out

    def _receipt_time(self, now: int | None) -> int | None:
        """What to record as the receipt time of entries stored now: ``None`` where receipts mean nothing (an
        HQ archive stores what couriers bring, long after the fact; meta ``receipts`` = ``off``)."""
        if self.get_meta("receipts") == "off":
            return None
        return wall_ms() if now is None else now

    def ix_for(self, author: bytes) -> int:
        """The small integer key of ``author`` in this store, created on first use (inside a write)."""
        ix = self.author_ix.get(author)
        if ix is None:
            cursor = self._conn.execute("INSERT INTO authors (key, seq, id, clock) VALUES (?, 0, x'', -1)", (author,))
            ix = self.author_ix[author] = int(cursor.lastrowid or 0)
        return ix

    # ---- transactions --------------------------------------------------------------------------------------

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[None]:
        """One write transaction holding SQLite's write lock. ``durable`` commits with synchronous=FULL."""
        conn = self._conn
        if self.read_only:
            raise self._read_only_error()
        try:
            if durable:
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise _storage_error(exc, self.path) from exc
        try:
            self._refresh()
            yield
            conn.execute("COMMIT")
            self.generation += 1
        except BaseException as exc:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._reload()  # the accept path moved cached heads: back to what the database holds
            except sqlite3.DatabaseError as undo:
                raise _storage_error(undo, self.path) from exc
            if isinstance(exc, sqlite3.DatabaseError):
                raise _storage_error(exc, self.path) from exc
            raise
        finally:
            if durable:
                conn.execute("PRAGMA synchronous=NORMAL")

    # ---- accepting -----------------------------------------------------------------------------------------

    def accept(self, raw: bytes, *, now: int | None = None) -> AcceptResult:
        """Accept one entry from anywhere (network, bundle, file), verifying its own signature."""
        batch = self.accept_batch([raw], verify_each=True, now=now)
        if batch.appended:
            return AcceptResult(Outcome.APPENDED, batch.appended[0])
        return batch.others[0]

    def accept_batch(
        self, raws: Sequence[bytes | Entry], *, verify_each: bool = False, now: int | None = None
    ) -> BatchResult:
        """Accept many entries in one transaction, verifying one signature per chain-linked run. ``now``: when
        they reached this node (default: the wall clock), recorded as each stored entry's receipt time. An item
        may be an :class:`Entry` already decoded (by ``decode_entry`` or ``entry_from_parts``: a sync message's
        compact entries), which is not decoded again."""
        with paused_gc():
            return self._accept_batch(raws, verify_each, now)

    def _accept_batch(self, raws: Sequence[bytes | Entry], verify_each: bool, now: int | None) -> BatchResult:
        result = BatchResult()
        by_author: dict[bytes, list[Entry]] = {}
        team_id = self.team_id
        for raw in raws:
            if type(raw) is Entry:
                entry = raw
            else:
                try:
                    entry = decode_entry(raw)  # type: ignore[arg-type]
                except EntryError as exc:
                    result.add(AcceptResult(Outcome.REJECTED, None, str(exc)))
                    continue
            if entry.team_id != team_id and not (entry.team_id == ZERO_ID and entry.id == team_id):
                result.add(AcceptResult(Outcome.REJECTED, entry, "entry of another team"))
                continue
            run = by_author.get(entry.author)
            if run is None:
                by_author[entry.author] = [entry]
            else:
                run.append(entry)
        if by_author:
            with self._write():
                ingest = Ingest(self, result, verify_each=verify_each, received=self._receipt_time(now))
                ingest.feed_by_author(by_author)
                ingest.finish()
        return result

    def append_own(self, signer: Signer, kind: str, body: dict[str, Any], *, wall: int | None = None) -> Entry:
        """Sign and durably store a new entry of our own (any kind but the genesis: see :meth:`found`).

        Seq and prev come from the store under its write lock. Authorisation is the caller's business (see
        ``meshchat.profile``): the store keeps our own entries whatever the membership says, since they are
        the only copy until synced.
        """
        author = signer.public_key
        with self._write(durable=True):
            self._check_own(author)
            head = self.heads_cache.get(author)
            seq, clock = self._next_stamp(author, wall)
            entry = sign_entry(
                signer,
                team_id=self.team_id,
                seq=seq,
                prev=head.id if head else None,
                clock=clock,
                kind=kind,
                body=body,
            )
            self._ingest_own(entry, wall_ms() if wall is None else wall)
        self.head_mark.record(author, entry.seq, entry.id)
        return entry

    def next_own_stamp(self, author: bytes, *, wall: int | None = None) -> tuple[int, int]:
        """``(seq, clock)`` that :meth:`append_own` would give ``author``'s next entry now: where the rules
        will judge it (the profile checks a write there before signing it)."""
        self._refresh()
        return self._next_stamp(author, wall)

    def _next_stamp(self, author: bytes, wall: int | None) -> tuple[int, int]:
        """``wall`` given: that clock, as is (tests). Else our wall clock, on the team's time when the team's
        clocks agree that ours is off (:meth:`team_clock`): a laptop a day behind does not post into the past."""
        head = self.heads_cache.get(author)
        seen = (h.clock for h in self.heads_cache.values())
        if wall is None:
            wall = wall_ms()
            wall = self._team_clock.check(author, wall).team_time(wall)
        clock = next_clock(wall=wall, last_own=head.clock if head else 0, seen=seen)
        return (head.seq + 1 if head else 1), clock

    def _check_own(self, author: bytes) -> None:
        """Refuse an own write that would fork our own log (inside the write transaction: every process
        that writes as us sees the same records)."""
        forked = self.forked.get(author)
        if forked is not None:
            raise OwnLogForkedError(own_fork_text(forked))
        gap = self._own_gap(author)
        if gap is not None:
            raise OwnLogBehindError(gap.explain())

    def own_writes_refused(self, author: bytes) -> str | None:
        """Why :meth:`append_own` would refuse to write as ``author`` now, or None."""
        self._refresh()
        try:
            self._check_own(author)
        except (OwnLogBehindError, OwnLogForkedError) as exc:
            return str(exc)
        return None

    def own_gap(self, author: bytes) -> OwnGap | None:
        """How far our own log here is behind where it reached elsewhere; None if it is not."""
        self._refresh()
        return self._own_gap(author)

    def _own_gap(self, author: bytes) -> OwnGap | None:
        expected = self.own_expected.get(author)
        if expected is None:
            return None
        head = self.heads_cache.get(author)
        have = head.seq if head else 0
        return OwnGap(have, *expected) if have < expected[0] else None

    def own_news(self, author: bytes, seq: int) -> bool:
        """Whether our own log reaching ``seq`` elsewhere is news here: beyond what we hold of it and beyond
        what we already expect back. (A read: the node's writer then records it with :meth:`expect_own`.)"""
        self._refresh()
        known = self.own_expected.get(author)
        head = self.heads_cache.get(author)
        return not ((known is not None and known[0] >= seq) or (head is not None and head.seq >= seq))

    def expect_own(self, author: bytes, seq: int, source: str) -> bool:
        """Record that our own log reached ``seq`` elsewhere (``source``: see ``meshchat.store.own``). Returns
        whether that leaves this store behind (and own writes paused) where it was not known to be before."""
        if not self.own_news(author, seq):
            return False
        try:
            with self._write():
                self._conn.execute(
                    "INSERT OR REPLACE INTO local VALUES (?, ?)", (EXPECTED_KEY, encode_expected(author, seq, source))
                )
        finally:  # recorded in memory even if the disk refused: this node must not write meanwhile
            self.own_expected[author] = (seq, source)
        return True

    def resume_own_writing(self, author: bytes) -> OwnGap | None:
        """Give up waiting for the missing end of our own log (no peer ever received it); returns the gap that
        was forgiven. Should a peer hold those entries after all, our log forks from there."""
        gap = self.own_gap(author)
        with self._write():
            self._conn.execute("DELETE FROM local WHERE key = ?", (EXPECTED_KEY,))
        self.own_expected.pop(author, None)
        self.head_mark.remove()  # it names the given-up end; the next own write makes a new one
        return gap

    def _ingest_own(self, entry: Entry, written: int) -> None:
        result = BatchResult()
        ingest = Ingest(self, result, verify_each=True, own=True, received=self._receipt_time(written))
        ingest.feed([entry])
        ingest.finish()
        if not result.appended:
            raise StoreError(f"own entry not stored: {result.others}")

    # ---- reading the log -----------------------------------------------------------------------------------

    @_translating
    def head(self, author: bytes) -> Head | None:
        self._refresh()
        return self.heads_cache.get(author)

    @_translating
    def heads(self) -> dict[bytes, Head]:
        self._refresh()
        return dict(self.heads_cache)

    @_translating
    def frontier(self) -> dict[bytes, int]:
        """``{author: seq}`` of what we hold and may pass on: a removed author's log only up to its cut."""
        self._refresh()
        membership = self.current_membership()
        out = {}
        for author, head in self.heads_cache.items():
            cut = membership.removed_upto(author)
            out[author] = head.seq if cut is None else min(head.seq, cut)
        return out

    @_translating
    def entries_after(self, author: bytes, seq: int, limit: int = 1000, upto: int | None = None) -> list[bytes]:
        """Raw entries of ``author`` with seq in ``(seq, upto]``, in seq order, at most ``limit``."""
        ix = self.author_ix.get(author)
        if ix is None:
            return []
        hi = upto if upto is not None else 2**62
        rows = self._conn.execute(
            "SELECT raw FROM entries WHERE author = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (ix, seq, hi, limit),
        )
        return [raw for (raw,) in rows]

    @_translating
    def entry(self, author: bytes, seq: int) -> Entry | None:
        ix = self.author_ix.get(author)
        if ix is None:
            return None
        row = self._conn.execute("SELECT raw FROM entries WHERE author = ? AND seq = ?", (ix, seq)).fetchone()
        return decode_entry(row[0]) if row else None

    def last_rowid(self) -> int:
        return int(self._conn.execute("SELECT coalesce(max(rowid), 0) FROM entries").fetchone()[0])

    @_translating
    def new_since(self, rowid: int, limit: int = 10_000, upto: int | None = None) -> list[NewEntry]:
        """Entries stored after ``rowid`` (and up to ``upto``), in arrival order, without decoding them: what
        the node announces and pushes to peers."""
        self._refresh()
        # Author keys come from the same read as the rows: another connection may commit a new author
        # between the refresh above and this query.
        rows = self._conn.execute(
            "SELECT e.rowid, a.key, e.seq, e.kind, e.room FROM entries e JOIN authors a ON a.ix = e.author "
            "WHERE e.rowid > ? AND e.rowid <= ? ORDER BY e.rowid LIMIT ?",
            (rowid, 2**62 if upto is None else upto, limit),
        )
        return [NewEntry(*row) for row in rows]

    @_translating
    def summary_since(self, rowid: int) -> NewSummary | None:
        """Everything stored after ``rowid``, summed up by SQLite in one snapshot, in a few statements
        whatever the number of entries (the node's watcher runs this for every batch a catch-up stores; a
        row-by-row read cost more than storing the rows). ``None`` if nothing is new."""
        self._refresh()
        conn = self._conn
        conn.execute("BEGIN")  # one read snapshot for the three statements
        try:
            last, total = conn.execute("SELECT max(rowid), count(*) FROM entries WHERE rowid > ?", (rowid,)).fetchone()
            if not total:
                return None
            # An author's newest entry is its head, and entries are stored in seq order: so the authors
            # with new entries are those whose head entry is new (one index lookup per author).
            heads = dict(
                conn.execute(
                    "SELECT a.key, a.seq FROM authors a CROSS JOIN entries e ON e.author = a.ix AND e.seq = a.seq "
                    "WHERE e.rowid > ? AND e.rowid <= ?",
                    (rowid, last),
                )
            )
            pairs = conn.execute(
                "SELECT DISTINCT kind, room FROM entries WHERE rowid > ? AND rowid <= ?", (rowid, last)
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        kinds = frozenset(kind for kind, _ in pairs)
        rooms = frozenset(room for _, room in pairs if room is not None)
        return NewSummary(last, total, kinds, rooms, heads)

    def claims_since(self, rowid: int, me: bytes) -> tuple[int | None, int | None]:
        """Of the entries of others stored after ``rowid``: the highest clock any claims, and the lowest clock a
        ``heads`` entry claims (whether this node should witness them: ``clock.calls_for_witness``)."""
        ix = self.author_ix.get(me, -1)
        newest, oldest_heads = self._conn.execute(
            "SELECT max(clock), min(CASE WHEN kind = 'heads' THEN clock END) FROM entries "
            "WHERE rowid > ? AND author != ?",
            (rowid, ix),
        ).fetchone()
        return newest, oldest_heads

    def iter_raw(self) -> Iterator[bytes]:
        """Every stored entry, per author in seq order (authors in the order they were first seen)."""
        for (raw,) in self._conn.execute("SELECT raw FROM entries ORDER BY author, seq"):
            yield raw

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM entries").fetchone()[0])

    def fork_proofs(self) -> list[tuple[bytes, bytes]]:
        """Pairs of raw entries (the one stored, the other one) with one author and seq."""
        rows = self._conn.execute(
            "SELECT e.raw, f.raw FROM forks f JOIN authors a ON a.key = f.author "
            "JOIN entries e ON e.author = a.ix AND e.seq = f.seq ORDER BY f.author, f.seq"
        )
        return [(stored, other) for stored, other in rows]

    def forked_authors(self) -> dict[bytes, int]:
        """``{author: seq}``: the lowest seq at which each forked author has two entries."""
        self._refresh()
        return dict(self.forked)

    def quarantine_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM quarantine").fetchone()[0])

    def integrity_check(self) -> str:
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database (the node calls this when idle). A full disk refuses
        to grow the database file: :class:`DiskFullError`, and the log keeps everything until next time."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.DatabaseError as exc:
            raise _storage_error(exc, self.path) from exc

    @property
    def connection(self) -> sqlite3.Connection:
        """For the view queries (``meshchat.store.queries``) and the accept path (``ingest``)."""
        return self._conn

    # ---- local state (never replicated) ---------------------------------------------------------------------

    def get_local(self, key: str) -> bytes | None:
        row = self._conn.execute("SELECT value FROM local WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row else None

    def set_local(self, key: str, value: bytes) -> None:
        if self.read_only:
            raise self._read_only_error()
        try:
            with self._conn:
                self._conn.execute("INSERT OR REPLACE INTO local VALUES (?, ?)", (key, value))
        except sqlite3.DatabaseError as exc:
            raise _storage_error(exc, self.path) from exc

    def get_meta(self, key: str) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: Any) -> None:
        if self.read_only:
            raise self._read_only_error()
        try:
            with self._conn:
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        except sqlite3.DatabaseError as exc:
            raise _storage_error(exc, self.path) from exc

    # ---- maintenance ---------------------------------------------------------------------------------------

    def index_search(self, limit: int = search.BATCH) -> int:
        """Index up to ``limit`` entries that arrived since the search index last caught up (see
        ``meshchat.store.search``); returns how many it looked at (0: up to date)."""
        with self._write():
            return search.index_pending(self._conn, limit)

    def rebuild_views(self) -> None:
        """Recompute every view (the v_* tables and the message columns of entries) from the entries."""
        with self._write():
            for table in VIEW_TABLES:
                self._conn.execute(f"DELETE FROM {table}")  # noqa: S608 (names from VIEW_TABLES)
            ix_rows = self._conn.execute("SELECT ix, key FROM authors").fetchall()
            for ix, _key in ix_rows:
                raws = [
                    r for (r,) in self._conn.execute("SELECT raw FROM entries WHERE author = ? ORDER BY seq", (ix,))
                ]
                entry_rows, view_rows = entry_and_view_rows(ix, [decode_entry(r) for r in raws])
                self._conn.executemany(
                    "UPDATE entries SET room = ?, flags = ? WHERE author = ? AND seq = ?",
                    [(row[6], row[7], ix, row[1]) for row in entry_rows],
                )
                for name, values in view_rows.items():
                    self._conn.executemany(INSERTS[name], values)
            self._membership = None


def _decode_body(body: bytes) -> dict[str, Any]:
    value = unpack(body, max_len=MAX_ENTRY_SIZE)
    return value if isinstance(value, dict) else {}


def _migrate(conn: sqlite3.Connection, version: int, path: Path) -> int:
    """Bring a store of an older schema to the current one, one step at a time, each in one transaction (a
    crash leaves the old version whole). Returns the version reached."""
    while version in MIGRATIONS:
        statements, kinds = MIGRATIONS[version]
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in statements:
                conn.execute(statement)
            _add_view_rows(conn, kinds)
            version += 1
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _storage_error(exc, path) if isinstance(exc, sqlite3.DatabaseError) else StoreError(str(exc)) from exc
    return version


def _add_view_rows(conn: sqlite3.Connection, kinds: tuple[str, ...]) -> None:
    """Insert the view rows of every entry of ``kinds`` (for tables a migration created)."""
    if not kinds:
        return
    marks = ",".join("?" * len(kinds))
    rows = conn.execute(f"SELECT author, raw FROM entries WHERE kind IN ({marks})", kinds)  # noqa: S608
    for ix, raw in rows.fetchall():
        _, view_rows = entry_and_view_rows(ix, [decode_entry(raw)])
        for name, values in view_rows.items():
            conn.executemany(INSERTS[name], values)


def _refuse_non_files(path: Path) -> None:
    """The store and its write-ahead log are regular files. A named pipe, a device or a directory in their
    place is said by name: SQLite would say "disk I/O error", which sends a person looking at the disk."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = file.stat().st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StoreError(f"cannot open {file}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(mode):
            raise StoreError(
                f"{file} is {file_kind(mode)}, not a file: meshchat keeps its store in regular files "
                "(move this one away and put the store back)"
            )


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    except sqlite3.DatabaseError as exc:
        if damaged(exc):
            raise damaged_error(path, str(exc)) from None
        if "full" in str(exc):  # e.g. the shared-memory file of the write-ahead log cannot be made
            raise DiskFullError(DISK_FULL) from None
        raise StoreError(f"cannot open {path}: {exc}") from None
    return conn


def _read_only_medium(path: Path) -> bool:
    """Whether the filesystem holding ``path`` is mounted read-only (or the home cannot be written at all)."""
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY) or not os.access(path.parent, os.W_OK)
    except OSError:
        return False


def _quick_check(conn: sqlite3.Connection) -> str | None:
    """SQLite's quick check (every page and record well-formed; not index contents): None, or what is wrong."""
    rows = conn.execute("PRAGMA quick_check(3)").fetchall()
    if rows == [("ok",)]:
        return None
    return "; ".join(str(row[0]) for row in rows)


def damaged(exc: BaseException) -> bool:
    """Whether an error from sqlite3 says that the database file is damaged."""
    return isinstance(exc, sqlite3.DatabaseError) and getattr(exc, "sqlite_errorcode", None) in DAMAGE_CODES


def damaged_error(path: Path, detail: str) -> StoreDamagedError:
    detail = " ".join(detail.split())
    if len(detail) > 160:
        detail = detail[:157] + "..."
    return StoreDamagedError(
        f"{path} is damaged ({detail}); run 'meshchat repair' to move it aside and rebuild it from what is still "
        "readable, your peers and bundles"
    )


def _disk_full(path: Path) -> bool:
    """Whether the filesystem holding ``path`` has (next to) no space left for us."""
    try:
        stat = os.statvfs(path.parent)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < 64 * 1024


def _storage_error(exc: sqlite3.DatabaseError, path: Path) -> StoreError:
    if damaged(exc):
        return damaged_error(path, str(exc))
    text = str(exc)
    if "full" in text:
        return DiskFullError(DISK_FULL)
    if "locked" in text or "busy" in text:
        return StoreError("the store is busy (another meshchat process holds it); try again")
    return StoreError(f"storage error: {text}")


def own_fork_text(seq: int) -> str:
    return (
        f"refused: your key signed two different entries #{seq} (it is in use on another device, or this home "
        "was restored from an old copy after writing): nothing you write now would count on any node; ask an "
        "admin to remove this key ('meshchat members remove') and to invite you again"
    )
