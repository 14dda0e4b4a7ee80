"""The store's side of replication: what a link needs from the node (``meshchat.net.link.Replica``).

Reads (frontiers, entries to send, admission checks) use the profile's store in the trio thread: they take
microseconds to a few milliseconds. Every write goes through the node's one writer (``meshchat.writer``: a
connection of its own, in a worker thread), so that the node (and a TUI in the same thread) stays responsive
while a large catch-up is stored; batches as small as a live push are stored in the trio thread, where a
thread hop would cost more than the write. What the handshake and a peer's notes call for (admitting a
newcomer, recording that a peer holds more of our own log) is decided here, in a read, and written by the
writer in the background: the protocol's callbacks cannot wait.

Received batches are rebuilt from their compact form by the writer too, in its thread, just before the
store takes them, rather than in the trio thread as they arrive: both are Python work under one interpreter
lock, so two threads cannot overlap them, and each SQLite call the writer made (which lets the lock go) then
waited for the trio thread to give it back. In one thread, rebuilding and storing cost what the local
``accept_batch`` bound costs (docs/hardening.md, "Sync at field scale").

What we send is capped: a removed author's log up to its cut, a forked author's log up to the forked seq
(the fork proof goes with it; see ``meshchat.proto.sync``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import partial

import trio

from meshchat.admission import admission_evidence, admit_peer
from meshchat.identity import Identity
from meshchat.invites import admit_newcomer, hello_keys, newcomer_refusal
from meshchat.log.clock import wall_ms
from meshchat.log.entry import Entry, decode_entry
from meshchat.log.rules import Membership
from meshchat.net.link import Accepted, LinkEnded, SyncStart
from meshchat.profile import Profile, ProfileError
from meshchat.proto.events import NeedEntries
from meshchat.proto.handshake import Credentials
from meshchat.proto.messages import ReceivedEntries, rebuilt
from meshchat.proto.sync import ForkProof
from meshchat.store import NOT_LINKED, BatchResult, DiskFullError, Outcome, StoreDamagedError, StoreError, paused_gc
from meshchat.writer import Writer

log = logging.getLogger(__name__)

# Rejections that no honest node causes (it checked every entry it stores): the link ends. Other rejections
# (an author removed or forked in a part of the log the sender has not seen) are not the sender's fault.
BAD_PEER_REASONS = frozenset({"entry of another team", "bad signature", "follows an entry with a bad signature"})
RESEND_REASONS = ("gap", "quarantine is full")  # deferrals worth asking the peer to send again later
INLINE_ACCEPT = 16  # batches this small (live pushes, ~1 ms to store) are stored without a worker thread
FULL_DISK_RETRY_S = 0.5  # a batch the full disk refused is tried again after this long, doubling each time
FULL_DISK_RETRY_MAX_S = 30.0


class StoreReplica:
    """``on_stored`` is called when a batch added entries, ``on_forks`` when it revealed a fork, ``on_problem``
    with a message for the user when the store cannot take a batch (a full disk), and ``on_damaged`` when the
    store turns out to be damaged (after ``on_problem``): nothing more may be served from it. ``background``
    runs a write nobody can wait for (see the module's docstring) in the node's nursery; ``end_links`` ends the
    links to these peers, with the reason."""

    def __init__(
        self,
        profile: Profile,
        writer: Writer,
        *,
        on_stored: Callable[[], None],
        on_forks: Callable[[], None],
        on_problem: Callable[[str], None],
        on_damaged: Callable[[StoreDamagedError], None] = lambda exc: None,
        on_own_behind: Callable[[], None] = lambda: None,
        background: Callable[[Callable[[], Awaitable[None]]], None],
        end_links: Callable[[Iterable[bytes], str], None] = lambda keys, reason: None,
    ) -> None:
        self.profile = profile
        self.store = profile.store
        self.on_stored = on_stored
        self.on_forks = on_forks
        self.on_problem = on_problem
        self.on_damaged = on_damaged
        self.on_own_behind = on_own_behind
        self.writer = writer
        self.background = background
        self.end_links = end_links
        self._own_expected = 0  # the furthest seq of our own log handed to the writer to record as expected
        # author -> (wall ms, peer) of the last batch that brought their entries (or came from that peer itself)
        self.heard: dict[bytes, tuple[int, bytes]] = {}

    # ---- handshake -------------------------------------------------------------------------------------

    def credentials(self) -> Credentials:
        """Evaluated for each new link: a key rotation applies to the next handshake. A newcomer waiting for
        its admission dials with its invite's hello key; every node answers hellos made with its own invites'."""
        profile = self.profile
        now = wall_ms()
        try:
            keys = profile.network_keys()
        except ProfileError as exc:
            raise LinkEnded(str(exc)) from None
        current, *previous = keys.accepted(now)
        pending = profile.pending_invite()
        evidence = admission_evidence(self.store, profile.me)
        return Credentials(
            current,
            profile.identity,
            evidence,
            previous_keys=tuple(previous),
            invite_keys={**keys.refused_hellos(now), **hello_keys(profile)},
            invite=Identity(pending.secret).public_key if pending is not None else None,
        )

    def authorize(self, peer_key: bytes, evidence: tuple[bytes, ...], invite: bytes | None) -> str | None:
        """Whether ``peer_key`` may link. A hello made with an invite's key is a newcomer at the door of the
        invite's issuer (this node, as server: admit it if the invite is open), or our own invite (this node is
        the newcomer: only the issuer named in the code is believed)."""
        profile = self.profile
        pending = profile.pending_invite()
        if pending is not None:
            if peer_key != pending.issuer:
                return "not the node of the admin who issued our invite"
            return None
        if invite is not None:
            refused = self.store.membership.refused_admissions.get(peer_key)
            if refused is not None and refused.invite == invite:  # refused after its admission: told why
                return f"not a member: {refused.reason}"
            reason = newcomer_refusal(profile, peer_key, invite, wall_ms())
            if reason is None:
                self.background(partial(self._admit, peer_key, invite))
            return reason
        return admit_peer(self.store, peer_key, evidence)

    async def _admit(self, newcomer: bytes, invite_pk: bytes) -> None:
        """The newcomer's ``member.admit``, by the writer (which checks again: a revocation or another use of
        the code may have been stored meanwhile). It reaches the newcomer as any new entry of ours does; if it
        cannot be written after all, the newcomer's link ends with the reason."""
        try:
            reason = await self.writer.run(lambda p: admit_newcomer(p, newcomer, invite_pk, wall_ms()))
        except StoreError as exc:
            self.on_problem(f"cannot admit a newcomer: {exc}")
            reason = f"the issuer's node cannot admit you now: {exc}"
        if reason is None:
            self.on_stored()  # the admission is a new entry of ours: push it, announce it
        else:
            self.end_links([newcomer], reason)

    # ---- sending ---------------------------------------------------------------------------------------

    def sync_start(self) -> SyncStart:
        store = self.store
        held = {author: head.seq for author, head in store.heads().items()}
        return SyncStart(
            local=self.sendable(store.frontier()),
            held=held,
            priority=admission_order(store.current_membership()),
            fork_proofs=self.fork_proofs(),
            team_id=store.team_id,
        )

    def peer_holds(self, peer_key: bytes, heads: Mapping[bytes, int]) -> None:
        """A peer holding more of our own log than our store does means the store lost its last own entries
        (a lost -wal file, a restored backup): own writes pause until they are back (``meshchat.store.own``).
        They come back like any other author's entries: our frontier says how far we hold our own log."""
        me = self.profile.me
        seq = heads.get(me, 0)
        if seq <= self._own_expected or not self.store.own_news(me, seq):
            return
        self._own_expected = seq
        self.background(partial(self._expect_own, seq))

    async def _expect_own(self, seq: int) -> None:
        """Recorded by the writer, whose store is the one own writes go through: from then on they pause."""
        try:
            behind = await self.writer.run(lambda p: p.store.expect_own(p.me, seq, "peer"))
        except StoreError as exc:  # busy or full: recorded in memory all the same (see Store.expect_own)
            log.warning("cannot record how far our own log reached: %s", exc)
            behind = True
        if behind:
            self.on_own_behind()

    def sendable(self, heads: Mapping[bytes, int]) -> dict[bytes, int]:
        """``heads`` capped: a removed author's log up to its cut, a forked one's up to the forked seq."""
        forked = self.store.forked_authors()
        membership = self.store.current_membership()
        out = {}
        for author, seq in heads.items():
            cut = membership.removed_upto(author)
            out[author] = min(seq, forked.get(author, seq), seq if cut is None else cut)
        return out

    def fork_proofs(self) -> list[ForkProof]:
        proofs = []
        for stored, other in self.store.fork_proofs():
            entry = decode_entry(other)
            proofs.append(ForkProof(entry.author, entry.seq, (stored, other)))
        return proofs

    def read_entries(self, request: NeedEntries) -> list[bytes]:
        store = self.store
        try:
            store.head(request.author)  # refreshes the caches if the writer connection added an author
            raws = store.entries_after(request.author, request.after, limit=request.max_entries, upto=request.upto)
        except StoreError as exc:
            raise self._failed("cannot read what the peer lacks", exc) from None
        size = 0
        for i, raw in enumerate(raws):
            size += len(raw)
            if size > request.max_bytes and i:
                return raws[:i]
        return raws

    # ---- receiving -------------------------------------------------------------------------------------

    async def accept(self, batches: Sequence[ReceivedEntries], peer_key: bytes) -> Accepted:
        """Store a peer's Entries messages (rebuilt here: a :class:`RemoteProtocolError` if one holds an invalid
        entry). On a full disk, wait and try again (each time later, up to
        :data:`FULL_DISK_RETRY_MAX_S`) rather than end the link: the peer's unacknowledged batches hold it back
        meanwhile, we keep serving it what we hold, and nobody redials in a loop."""
        delay = FULL_DISK_RETRY_S
        reported = False
        while True:
            try:
                result = await self._accept_once(batches)
                break
            except DiskFullError as exc:
                if not reported:
                    self.on_problem(f"{exc}; catching up from peers resumes by itself once there is room")
                    reported = True
                await trio.sleep(delay)
                delay = min(2 * delay, FULL_DISK_RETRY_MAX_S)
            except StoreError as exc:
                raise self._failed("cannot store what the peer sent", exc) from None
        if result.appended:
            now = wall_ms()
            for author in {e.author for e in result.appended} | {peer_key}:
                self.heard[author] = (now, peer_key)
            self.on_stored()
        if result.forks:
            self.on_forks()
        return summarize(result)

    async def _accept_once(self, batches: Sequence[ReceivedEntries]) -> BatchResult:
        def store(profile: Profile) -> BatchResult:
            with paused_gc():  # the rebuilt entries too (see paused_gc)
                entries: list[bytes | Entry] = []
                for batch in batches:
                    message = rebuilt(batch)
                    entries.extend(message.decoded or message.raws)
                return profile.store.accept_batch(entries)

        # A live push is stored inline: a thread hop would cost more than it saves.
        return await self.writer.run(store, inline=sum(b.count for b in batches) <= INLINE_ACCEPT)

    async def index_search(self, limit: int, *, quiet: float, at_most: float) -> int:
        """Index up to ``limit`` new entries for search, by the node's one writer once it had no other write
        to make for ``quiet`` seconds (or after ``at_most`` seconds: see ``Writer.run_when_quiet``; and
        ``meshchat.store.search``); returns how many entries it looked at (0: up to date)."""
        return await self.writer.run_when_quiet(lambda p: p.store.index_search(limit), quiet=quiet, at_most=at_most)

    def _failed(self, what: str, exc: StoreError) -> LinkEnded:
        """Tell the user, and the node if the store is damaged; the link ends with the reason."""
        self.on_problem(str(exc))
        if isinstance(exc, StoreDamagedError):
            self.on_damaged(exc)
        return LinkEnded(f"{what}: {exc}")


def summarize(result: BatchResult) -> Accepted:
    # Appended entries come in runs of one author in seq order, so the last of each author is its highest
    # (unless a released quarantine run of lower seqs follows: an underestimate only costs a duplicate).
    seen = {e.author: e.seq for e in result.appended}
    deferred = duplicates = 0
    bad = None
    unlinked: dict[bytes, int] = {}
    for other in result.others:
        judged = other.entry
        if other.outcome is Outcome.REJECTED and (judged is None or other.reason in BAD_PEER_REASONS):
            bad = bad or other.reason
        elif other.outcome is Outcome.DEFERRED and other.reason.startswith(RESEND_REASONS):
            deferred += 1
        elif other.outcome is Outcome.DUPLICATE:
            duplicates += 1
        elif other.outcome is Outcome.REJECTED and other.reason == NOT_LINKED and judged is not None:
            unlinked[judged.author] = min(judged.seq, unlinked.get(judged.author, judged.seq))
        if judged is not None and judged.seq > seen.get(judged.author, 0):
            seen[judged.author] = judged.seq
    return Accepted(len(result.appended), seen, deferred, bad, duplicates, unlinked)


def admission_order(membership: Membership) -> Sequence[bytes]:
    """Authors in the order the membership admitted them: the founder first."""
    members = sorted(membership.members.values(), key=lambda m: (m.since, m.key))
    order = [m.key for m in members if m.key != membership.founder]
    return [membership.founder, *order] if membership.founder else order
