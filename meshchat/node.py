"""A running node: one profile, its store, its links to peers, and a stream of events.

This is the public API the TUI (and the headless ``meshchat node``) use; they never touch the store directly.
Reads are plain methods and properties (SQLite reads take microseconds to milliseconds). Writes are async and
return the new entry (or id); each is checked by the same rules every node applies (``meshchat.profile``) and
made by the node's one writer (``meshchat.writer``) in a worker thread, so awaiting one yields: the UI stays
live while it waits for an fsync or for a catch-up batch that holds the store's write lock.

The node watches its store: whatever lands there (written by this node, received from a peer, or written by a
``meshchat post`` in another process on the same home) is announced as :class:`~meshchat.events.EntriesAdded`
and pushed on to connected peers.

Networking: ``run`` listens on ``NodeConfig.listen`` and dials ``NodeConfig.peers`` (see ``meshchat.net``);
links are authenticated and replicate through ``meshchat.proto``; received entries are stored through the
store's one accept path (``meshchat.replica``). With ``NodeConfig.discovery`` (and a listen address), the node
advertises itself on the LAN and dials the team's other nodes as zeroconf reports them (``meshchat.net.discovery``
feeds :meth:`Node.add_peer` / :meth:`Node.remove_peer`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import trio

from meshchat.blobs.attach import AttachError, attach_files
from meshchat.blobs.saving import save_copy, viewable_copy
from meshchat.blobs.service import BlobService, FileState
from meshchat.blobs.settings import BlobSettings, requested
from meshchat.blobs.store import BlobStore
from meshchat.errors import MeshchatError, StoreError
from meshchat.events import (
    EntriesAdded,
    ForkDetected,
    FoundBy,
    GpsStatus,
    Heard,
    InviteRefused,
    LinkRefused,
    MembershipChanged,
    NodeEvent,
    NodeProblem,
    PeerStatus,
    WritingPaused,
)
from meshchat.export.heads import write_heads, write_heads_if_due
from meshchat.gps import GpsSettings, follow_gpsd
from meshchat.homelock import HomeLock
from meshchat.invites import DEFAULT_TTL_MS, create_invite, reachable_addresses, remembered_peers, revoke_invite
from meshchat.log.attachments import Attachment
from meshchat.log.clock import MAX_DRIFT_MS, ClockCheck, calls_for_witness, wall_ms
from meshchat.log.codec import Value, pack
from meshchat.log.effects import retraction_allowed
from meshchat.log.entry import Entry
from meshchat.log.flash import FlashStatus, flash_recipients, flash_status
from meshchat.log.kinds import MEMBERSHIP_KINDS
from meshchat.log.mentions import handles
from meshchat.log.netkeys import rotation_reason
from meshchat.log.positions import Fix, Report
from meshchat.log.rules import INVITE_REFUSALS, Membership, Role, invitable_roles, role_allows
from meshchat.log.views import Message, Outsider
from meshchat.net.address import Address, format_address
from meshchat.net.discovery import Discovery, DiscoveryEvent, PeerSeen, interface_addresses
from meshchat.net.peers import NetSettings, PeerManager
from meshchat.net.topology import Neighbourhood, Steps
from meshchat.profile import Location, Profile, ProfileError
from meshchat.replica import StoreReplica
from meshchat.status import STATUS_KEY, NodeStatus
from meshchat.store import StoreDamagedError
from meshchat.store.queries import Views
from meshchat.store.store import READ_ONLY
from meshchat.writer import Writer

log = logging.getLogger(__name__)
T = TypeVar("T")

EVENT_BUFFER = 1000
IDLE_CHECKPOINT_S = 5.0
LISTEN_KEY = "node.listen"  # local state: where the node last listened, for ``meshchat invite``
STATUS_INTERVAL_S = 1.0  # peer status is written at most this often
STATUS_HEARTBEAT_S = 5.0  # and at least this often while the node runs
SEARCH_INDEX_IDLE_S = 1.0  # how often an idle node looks for entries to index for search
SEARCH_INDEX_BATCH = 500  # entries indexed at a time (~15 ms of work here)
SEARCH_INDEX_QUIET_S = 0.5  # the index waits until the writer had nothing else to do for this long,
SEARCH_INDEX_WAIT_MAX_S = 5.0  # or this long at most (a batch every 5 s costs a catch-up a few tenths of a percent)
WITNESS_INTERVAL_S = 30.0  # heads entries that witness far-off clocks: at most this often
CLOCK_CHECK_S = 5.0  # whether our clock agrees with the team's: looked at no more often than this


@dataclass(frozen=True)
class NodeConfig:
    """How a node reaches the network."""

    listen: tuple[str, int] | None = None  # address to accept peers on; None: do not listen
    peers: tuple[tuple[str, int], ...] = ()  # static peers, dialled and redialled with backoff
    discovery: bool = True  # find peers on the LAN with zeroconf
    poll_interval: float = 0.2  # how often to look for entries written by other processes
    heads_check_s: float = 60.0  # how often to see whether a signed heads entry is due (at most hourly)
    net: NetSettings = field(default_factory=NetSettings)  # deadlines, keepalive, backoff, connection limits
    gps: GpsSettings | None = None  # report our position from a running gpsd (meshchat.gps)


class Node:
    """Create with :meth:`open`, run with ``await node.run()`` inside a trio nursery, close when done."""

    def __init__(self, profile: Profile, config: NodeConfig | None = None) -> None:
        self.profile = profile
        self.config = config or NodeConfig()
        self._subscribers: list[trio.MemorySendChannel[NodeEvent]] = []
        self._seen_rowid = profile.store.last_rowid()
        self._seen_forks = profile.store.forked_authors()
        self._membership: Membership | None = None  # as of the last change noticed; None: ask the store
        self._wakeup = trio.Event()
        self._witness_wanted = trio.Event()  # set when stored entries call for a heads entry soon
        self.clock = ClockCheck()  # what the team's clocks said of ours when last looked (see _check_clock)
        self._clock_checked_at = -math.inf
        self._told_refusal = False
        self.blobs = BlobStore.of_home(profile.home)
        self.files = BlobService(
            self.blobs, settings=self.blob_settings, publish=self.publish, requests=self._requested_files
        )
        self._seen_file_row = 0  # v_files rows looked at (attachments learned of)
        self.gps_status: GpsStatus | None = None  # the GPS as last read (``NodeConfig.gps``), for the map
        self._nursery: trio.Nursery | None = None  # while running: for writes that need no answer
        self._home_lock: HomeLock | None = None  # held when opened with Node.open
        self._read_marks: dict[bytes, int] = {}  # room -> clock read up to, newer than what is stored
        self._read_marks_changed = trio.Event()
        self.writer = Writer(profile)
        self.replica = StoreReplica(
            profile,
            self.writer,
            on_stored=self._stored,
            on_forks=self._check_forks,
            on_problem=lambda message: self.publish(NodeProblem(message)),
            on_damaged=self._store_damaged,
            on_own_behind=self._check_own_log,
            background=self._background,
            end_links=self._end_links,
        )
        self._writing_paused: str | None = None  # why own writes are refused now
        self._writing_state = (False, False)  # (paused, forked), as last announced
        self.damaged: str | None = None  # why the node stopped serving its peers: its store is damaged
        self._network_scope = trio.CancelScope()
        self.network = PeerManager(
            self.replica,
            me=profile.me,
            publish=self._network_event,
            wall_ms=wall_ms,
            settings=self.config.net,
            blobs=self.files.exchange,
        )

    @classmethod
    def open(cls, home: Path, config: NodeConfig | None = None) -> Node:
        """The node of ``home``, holding its lock until :meth:`close`: one node per home (a second one, in
        this process or another, is refused with :class:`~meshchat.homelock.HomeInUse`)."""
        profile = Profile.open(home)
        try:
            lock = HomeLock.acquire(home)
        except BaseException:
            profile.close()
            raise
        node = cls(profile, config)
        node._home_lock = lock
        return node

    def close(self) -> None:
        for channel in self._subscribers:
            channel.close()
        self.writer.close()
        self.blobs.close()
        self.profile.close()
        if self._home_lock is not None:
            self._home_lock.release()
            self._home_lock = None

    # ---- running -------------------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled: watch the store, and serve the network as configured. If the listen address
        cannot be bound, a :class:`NodeProblem` says so and the node runs without listening."""
        config = self.config
        if self.read_only:  # nothing received could be stored, and nothing can be recorded: no network
            self.publish(NodeProblem(READ_ONLY))
            task_status.started()
            await trio.sleep_forever()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._watch_store)
            nursery.start_soon(self.files.run)
            self._resume_files()
            remembered = [a for a in remembered_peers(self.profile) if a not in config.peers]
            peers: list[tuple[Address, FoundBy]] = [(a, "static") for a in (*config.peers, *remembered)]
            problem = None
            try:
                await nursery.start(self._serve, config.listen, peers)
            except OSError as exc:
                assert config.listen is not None
                problem = f"cannot listen on {format_address(config.listen)}: {exc.strerror or exc}"
            if problem is not None:
                log.error("%s", problem)
                self.publish(NodeProblem(problem))
                await nursery.start(self._serve, None, peers)
            if self.network.listen_addresses:
                addresses = [format_address(a) for a in self.network.listen_addresses]
                await self._record_local(LISTEN_KEY, pack(addresses))
            nursery.start_soon(self._write_status)
            nursery.start_soon(self._write_heads)
            nursery.start_soon(self._keep_search_index)
            nursery.start_soon(self._save_read_marks)
            if not self._told_refusal and (refusal := self.profile.invite_refusal()) is not None:
                self._told_refusal = True
                self._invite_refused(refusal)
            self._check_own_log()  # the store may have lost the end of our own log (see meshchat.store.own)
            if config.discovery and self.network.listen_addresses:
                nursery.start_soon(self._discover)
            if config.gps is not None:
                nursery.start_soon(self._follow_gps, config.gps)
            task_status.started()

    async def _follow_gps(self, settings: GpsSettings) -> None:
        """Report our position from gpsd as the policy says (meshchat.gps); a refused write is said, not fatal."""

        async def report(fix: Report) -> None:
            try:
                await self.report_position(fix)
            except ProfileError as exc:  # not a member (yet), a full disk: said, and the next fix tries again
                self.publish(NodeProblem(f"could not report the GPS position: {exc}"))

        def status(state: GpsStatus) -> None:
            changed = self.gps_status is None or state.state != self.gps_status.state
            self.gps_status = state  # every fix, for whoever reads it; an event only when the state changes
            if changed:
                self.publish(state)

        await follow_gpsd(settings, report, status, now_ms=self.team_now)

    async def _serve(
        self,
        listen: Address | None,
        peers: list[tuple[Address, FoundBy]],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The network, until the node stops or its store turns out to be damaged (see :meth:`_store_damaged`)."""
        self._network_scope = scope = trio.CancelScope()  # one per start: a second start follows a failed one
        if self.damaged is not None:
            scope.cancel()
        with scope:
            await self.network.run(listen, peers, task_status=task_status)

    def _store_damaged(self, exc: StoreError) -> None:
        """A damaged store is never served: every link ends and no new one is made. The UI can still show what
        is readable; ``meshchat repair`` rebuilds the store. (The user has been told by a NodeProblem.)"""
        if self.damaged is None:
            self.damaged = str(exc)
            log.error("stopped serving peers: %s", exc)
        self._network_scope.cancel()

    async def _discover(self) -> None:
        """Advertise on the LAN and dial what discovery reports; a failure is reported, never fatal."""
        host, port = self.network.listen_addresses[0]
        every = host in ("0.0.0.0", "")  # noqa: S104 (comparing, not binding: listening on every interface)
        interfaces = interface_addresses() if every else [(host,)]  # each interface is told only its own
        if not interfaces:
            self.publish(NodeProblem("LAN discovery is off: this machine has no network address"))
            return
        profile = self.profile
        discovery = Discovery(lambda: profile.network_keys().accepted(wall_ms()), port, interfaces=interfaces)
        send, receive = trio.open_memory_channel[DiscoveryEvent](100)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(discovery.run, send)
                where = "; ".join(", ".join(group) for group in interfaces)
                log.info("LAN discovery: advertising on %s", where)
                neighbourhood = Neighbourhood(discovery.instance)  # our place on the ring of the team's nodes
                async for event in receive:
                    if isinstance(event, PeerSeen):
                        steps = neighbourhood.seen(event.instance, event.addresses, event.port)
                    else:
                        steps = neighbourhood.lost(event.instance)
                    self._follow(steps)
        except (OSError, RuntimeError) as exc:  # zeroconf could not start (no multicast interface, ...)
            log.warning("LAN discovery failed: %s", exc)
            self.publish(NodeProblem(f"LAN discovery is off: {exc}"))

    def _follow(self, steps: Steps) -> None:
        """Dial the ring neighbours discovery gives us (``meshchat.net.topology``), no more."""
        network = self.network
        for where in steps.forget.values():
            for address in where.addresses:
                network.remove_peer((address, where.port))
        for where in steps.retire.values():
            for address in where.addresses:
                network.retire_peer((address, where.port), "no longer a ring neighbour on the LAN")
        for where, why in steps.dial.values():
            for address in where.addresses:
                network.add_peer((address, where.port), "discovery", why=why)

    # ---- network -------------------------------------------------------------------------------------------

    @property
    def listen_addresses(self) -> list[Address]:
        """Where the node accepts peers (the actual port when 0 was asked for); empty if not listening."""
        return list(self.network.listen_addresses)

    def add_peer(self, host: str, port: int, found_by: FoundBy = "discovery") -> None:
        """Dial a peer and keep redialling it (discovery calls this for each peer it sees)."""
        self.network.add_peer((host, port), found_by)

    def remove_peer(self, host: str, port: int) -> None:
        """Stop dialling a peer (discovery: it left). A link that is up stays until it ends."""
        self.network.remove_peer((host, port))

    async def connect(self, stream: trio.abc.Stream, *, outgoing: bool, address: str = "memory") -> str:
        """Run a link over an already connected stream until it ends (e.g. in-process nodes linked by
        memory streams, see ``meshchat.testing``); returns why it ended."""
        return await self.network.connect(stream, outgoing=outgoing, address=address, found_by="static")

    def _network_event(self, event: NodeEvent) -> None:
        """The peer manager's events, passed on; a refusal of our own invite is said plainly as well."""
        self.publish(event)
        if not isinstance(event, LinkRefused) or self._told_refusal:
            return
        reason = event.reason.removeprefix("refused: ")
        if reason in INVITE_REFUSALS.values() and self.profile.pending_invite() is not None:
            self._told_refusal = True  # at the issuer's door: final, the issuer's rules

            async def record_then_tell() -> None:  # told once recorded: a post the person then tries is refused
                with contextlib.suppress(MeshchatError):  # announced by _write; the person is told all the same
                    await self._write(lambda p: p.record_invite_refusal(reason))
                self._invite_refused(reason)

            self._background(record_then_tell)
        elif reason.removeprefix("not a member: ") in INVITE_REFUSALS.values() and self._admitted_by_invite():
            # Our admission lost to a revocation that came first; the peer that knows it will not sync it to us.
            self._told_refusal = True
            self._invite_refused(reason.removeprefix("not a member: "))

    def _admitted_by_invite(self) -> bool:
        member = self.membership.members.get(self.me)
        return member is not None and member.invite is not None

    def _invite_refused(self, reason: str) -> None:
        refused = InviteRefused(reason)
        log.error("%s", refused.message)
        self.publish(refused)
        self.publish(NodeProblem(refused.message))

    @property
    def writing_paused(self) -> str | None:
        """Why own writes are refused for now (see :class:`~meshchat.events.WritingPaused`), or None."""
        return self._writing_paused

    def _check_forks(self) -> None:
        """Announce forks new to us, and send their proofs to every peer."""
        forks = self.profile.store.forked_authors()
        new = {author: seq for author, seq in forks.items() if self._seen_forks.get(author) != seq}
        self._seen_forks = forks
        for author, seq in new.items():
            self.publish(ForkDetected(author, seq))
        if new:
            self.network.add_fork_proofs(self.replica.fork_proofs())
        if self.me in new:
            self._check_own_log()

    async def _write_status(self) -> None:
        """Keep the peers' status in local state for ``meshchat peers`` (another process)."""
        written: tuple[tuple[str, ...], tuple[PeerStatus, ...]] | None = None
        last = -math.inf
        listen = tuple(format_address(a) for a in self.network.listen_addresses)
        try:
            while True:
                current = (listen, tuple(self.peers()))
                now = trio.current_time()
                if current != written or now - last >= STATUS_HEARTBEAT_S:
                    status = NodeStatus(os.getpid(), wall_ms(), *current)
                    if await self._record_local(STATUS_KEY, status.encode()):
                        written, last = current, now
                await trio.sleep(STATUS_INTERVAL_S)
        finally:
            with trio.move_on_after(2.0) as cleanup:
                cleanup.shield = True
                await self._record_local(STATUS_KEY, NodeStatus(os.getpid(), wall_ms(), listen, stopped=True).encode())

    async def _write_heads(self) -> None:
        """Sign a ``heads`` entry now and then (see meshchat.export.heads): what this node holds becomes part
        of its own chain, so an export that later drops someone's tail is caught by HQ's verifier. And soon
        after storing an entry whose clock is far from ours (``clock.calls_for_witness``), at most every
        :data:`WITNESS_INTERVAL_S`: a clock from the future then counts from when the team held the entry."""
        last_witness = -math.inf
        while True:
            with trio.move_on_after(self.config.heads_check_s):
                await self._witness_wanted.wait()
            try:
                if self._witness_wanted.is_set():
                    await trio.sleep(max(0.0, last_witness + WITNESS_INTERVAL_S - trio.current_time()))
                    self._witness_wanted = trio.Event()  # what arrives from now on calls for the next one
                    last_witness = trio.current_time()
                    written = await self.writer.run(write_heads)
                else:
                    written = await self.writer.run(lambda profile: write_heads_if_due(profile, now=wall_ms()))
            except (StoreError, ProfileError) as exc:
                log.warning("cannot write heads: %s", exc)
                continue
            if written:
                self.wake()

    async def _keep_search_index(self) -> None:
        """Index new entries for search a batch at a time, in the writer's thread, trailing ingest (once the
        writer has been quiet for a moment: a catch-up is not slowed). Searches scan what is not indexed yet,
        so nothing is missed meanwhile."""
        while True:
            started = trio.current_time()
            try:
                looked = await self.replica.index_search(
                    SEARCH_INDEX_BATCH, quiet=SEARCH_INDEX_QUIET_S, at_most=SEARCH_INDEX_WAIT_MAX_S
                )
            except StoreError as exc:  # a read-only or full disk, or SQLite without FTS5 trigrams
                log.warning("search index not kept (%s): searches scan the entries instead", exc)
                return
            # Paced: the batch's Python work holds the GIL, and a UI in this process waits for it at every
            # SQLite call it makes. Resting as long as a batch took leaves the UI half the time at least.
            await trio.sleep(trio.current_time() - started if looked else SEARCH_INDEX_IDLE_S)

    async def _record_local(self, key: str, value: bytes) -> bool:
        """Write node-local state; a busy or full disk is logged, never fatal (the next write will do)."""
        try:
            await self.writer.run(lambda profile: profile.store.set_local(key, value))
        except StoreError as exc:
            log.warning("cannot record %s: %s", key, exc)
            return False
        return True

    async def _watch_store(self) -> None:
        """Announce and push on what the store gains, and enforce membership changes; one task does both, so
        two enforcements never race to rotate the network key."""
        await self._enforce_membership()  # a removal may have come in while no node ran
        idle_since = trio.current_time()
        checkpointed = True
        while True:
            with trio.move_on_after(self.config.poll_interval):
                await self._wakeup.wait()
            self._wakeup = trio.Event()
            try:
                noticed = await self._notice_new_entries()
            except StoreDamagedError as exc:
                self.publish(NodeProblem(str(exc)))
                self._store_damaged(exc)
                return
            if noticed:
                idle_since, checkpointed = trio.current_time(), False
            elif not checkpointed and trio.current_time() - idle_since > IDLE_CHECKPOINT_S:
                try:  # by the writer: copying the write-ahead log into the database takes a while, and an fsync
                    await self.writer.run(lambda profile: profile.store.checkpoint())
                    checkpointed = True
                except StoreError as exc:  # a full disk: the write-ahead log keeps everything; try when next idle
                    log.warning("cannot checkpoint the store: %s", exc)
                    idle_since = trio.current_time()

    async def _notice_new_entries(self) -> bool:
        """Announce what the store gained since we last looked, and push it to linked peers. Returns whether
        there was anything. (Summed up in SQL: during a catch-up this runs for every batch stored.)"""
        store = self.profile.store
        summary = store.summary_since(self._seen_rowid)
        if summary is None:
            return False
        wall = wall_ms()
        if calls_for_witness(*store.claims_since(self._seen_rowid, self.me), self._check_clock(wall).team_time(wall)):
            self._witness_wanted.set()
        self._seen_rowid = summary.last_rowid
        self._membership = None
        self.network.local_advanced(self.replica.sendable(summary.heads), summary.heads)
        if "msg.post" in summary.kinds:
            self._consider_new_files()
        authors = frozenset(summary.heads)
        self.publish(EntriesAdded(summary.total, summary.kinds, summary.rooms, authors, local=authors == {self.me}))
        if summary.kinds & MEMBERSHIP_KINDS:
            self.publish(MembershipChanged())
            await self._enforce_membership()
            self.network.know_authors(self.membership.members)
        self._check_forks()
        if self.me in summary.heads or self._writing_paused is not None:
            self._check_own_log()
        return True

    def _check_own_log(self) -> None:
        """Announce when own writes stop or start working again: the store lost the end of our own log and
        the node is fetching it back from peers (see ``meshchat.store.own``), or our own key forked."""
        store = self.profile.store
        reason = store.own_writes_refused(self.me)
        forked = reason is not None and self.me in store.forked_authors()
        state = (reason is not None, forked)
        self._writing_paused = reason
        if state == self._writing_state:
            return  # not news: e.g. a gap that shrinks as our entries come back
        self._writing_state = state
        if reason is not None:
            log.error("%s", reason)
            self.publish(WritingPaused(True, reason, forked=forked))
        else:
            log.info("our own log is back: writing works again")
            self.publish(WritingPaused(False, "your own log is back on this device: writing works again"))

    def _check_clock(self, wall: int) -> ClockCheck:
        """What the team's clocks say of ours (``meshchat.log.clock``), looked at no more than every few seconds;
        the person is told when ours turns out to be off, and again if the gap changes much."""
        now = trio.current_time()
        if now - self._clock_checked_at < CLOCK_CHECK_S:
            return self.clock
        self._clock_checked_at = now
        check = self.profile.store.team_clock(self.me, wall=wall)
        told = self.clock
        self.clock = check
        warning = check.warning()
        if warning is not None and (not told.off or abs(check.offset - told.offset) > MAX_DRIFT_MS):
            log.warning("%s", warning)
            self.publish(NodeProblem(warning))
        elif told.off and not check.off:
            log.info("this computer's clock agrees with the team's again")
        return check

    async def _enforce_membership(self) -> None:
        """After a membership change: end links to peers that are no longer members, and, as an admin,
        rotate the network key if a removed member may still know it or a member holds only an older one
        (see ``meshchat.log.netkeys.rotation_reason``)."""
        membership = self.membership
        if await self.writer.run(Profile.complete_admission):  # just admitted: our name is our first entry
            self.wake()
        refused_here = membership.refused_admissions.get(self.me)
        if refused_here is not None and membership.role_of(self.me) is None and not self._told_refusal:
            self._told_refusal = True  # our admission lost to a revocation that came first in the order
            self._invite_refused(refused_here.reason)
        linked = self.network.linked_keys()
        removed = [key for key in linked if membership.removed_upto(key) is not None]
        self.network.end_links(removed, "removed from the team")
        # Not every peer without a role: one admitted on evidence may not be evaluated here yet.
        refused = [key for key in linked if key in membership.refused_admissions and membership.role_of(key) is None]
        self.network.end_links(refused, "not a member: its admission was refused")
        role = membership.role_of(self.me)
        reason = rotation_reason(membership) if role is not None and role >= Role.ADMIN else None
        if reason is not None:
            try:
                await self.writer.run(Profile.rotate_network_key)
                log.info("rotated the network key: %s", reason)
            except (ProfileError, StoreError) as exc:
                self.publish(NodeProblem(f"could not rotate the network key: {exc}"))
            self.wake()

    def _stored(self) -> None:
        """A peer's batch was stored: readers ask the store afresh (it may have admitted or removed someone),
        and the watcher looks now."""
        self._membership = None
        self.wake()

    def wake(self) -> None:
        """Look at the store now (after a write or an accepted batch) rather than at the next poll."""
        self._wakeup.set()

    # ---- events --------------------------------------------------------------------------------------------

    def events(self, buffer: int = EVENT_BUFFER) -> trio.MemoryReceiveChannel[NodeEvent]:
        """A new subscription to the node's events. Close the channel to unsubscribe."""
        send, receive = trio.open_memory_channel[NodeEvent](buffer if buffer > 0 else math.inf)
        self._subscribers.append(send)
        return receive

    def publish(self, event: NodeEvent) -> None:
        for channel in list(self._subscribers):
            try:
                channel.send_nowait(event)
            except trio.WouldBlock:
                pass  # a slow reader misses a hint; state is re-read on the next one
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.remove(channel)

    # ---- reading -------------------------------------------------------------------------------------------

    @property
    def views(self) -> Views:
        return self.profile.views

    @property
    def membership(self) -> Membership:
        """Who is in the team, as of the node's last write, the last batch a peer sent, or (for writes by other
        processes) the watcher's last look. Kept between those: the UI asks for a name per line drawn, and each
        question to the store costs a round trip that, during a catch-up, waits for the storing thread to hand
        back the GIL."""
        if self._membership is None:
            self._membership = self.profile.store.membership
        return self._membership

    @property
    def me(self) -> bytes:
        return self.profile.me

    @property
    def team_id(self) -> bytes:
        return self.profile.team_id

    @property
    def team_name(self) -> str:
        return self.profile.team_name

    def my_role(self) -> Role | None:
        return self.profile.my_role()

    def name_of(self, key: bytes) -> str:
        return self.membership.display_name(key)

    def invite_refusal(self) -> str | None:
        """While this home's invite is refused: what happened and what to do, in words to show as they are."""
        reason = self.profile.invite_refusal()
        return InviteRefused(reason).message if reason is not None else None

    def awaiting_admission(self) -> bool:
        """Whether this home joined with an invite that its issuer's node has not admitted yet (as far as we know)."""
        return self.profile.pending_invite() is not None and self.profile.invite_refusal() is None

    def my_handles(self) -> list[str]:
        """What ``@`` may be followed by to mention this person (see ``meshchat.log.mentions``)."""
        member = self.membership.members.get(self.me)
        return handles(member) if member is not None else []

    def may(self, kind: str) -> bool:
        """Whether an entry of ``kind`` written now would take effect (the role behind our next entry, as every
        node will judge it) and can be written at all (not a read-only home): the UI offers only that."""
        return not self.read_only and role_allows(self.profile.role_for_next_entry(), kind)

    @property
    def read_only(self) -> bool:
        """This home is on a read-only medium: everything can be read, nothing written or synced."""
        return self.profile.store.read_only_reason == READ_ONLY

    def read_only_reason(self) -> str | None:
        """Why nothing can be written here (a read-only medium, a full disk), in words to show; else ``None``."""
        return self.profile.store.read_only_reason or None

    def other_node_pid(self) -> int | None:
        """The process id of another meshchat running a node on this home, if one is (its status is fresh and
        its process alive): two nodes on one home would fight over the network and the log."""
        raw = self.profile.store.get_local(STATUS_KEY)
        status = NodeStatus.decode(raw) if raw else None
        if status is None or status.pid == os.getpid() or not status.running(wall_ms()):
            return None
        return status.pid

    def invitable_roles(self) -> list[str]:
        """The roles this person may invite newcomers with (none: they may not invite)."""
        return [] if self.read_only else [role.label for role in invitable_roles(self.my_role())]

    def may_retract(self, message: Message) -> bool:
        """Whether our retraction of ``message`` would hide it (our own as a member, anyone's as an admin)."""
        return not self.read_only and retraction_allowed(self.profile.role_for_next_entry(), self.me, message.author)

    def last_heard(self) -> dict[bytes, Heard]:
        """When this node last heard from each author, and how (see :class:`~meshchat.events.Heard`): a live link
        to their node now; else the last batch that brought their entries (from them, or relayed by a peer);
        else, for authors not heard from this run, the clock of their newest entry held."""
        heard = {author: Heard(head.clock, "log") for author, head in self.profile.store.heads().items()}
        addresses = {p.peer.key: p.peer.address for p in self.peers() if p.peer.key is not None}
        for author, (at_ms, via) in self.replica.heard.items():
            direct = via == author
            heard[author] = Heard(at_ms, "link" if direct else "relay", via, addresses.get(via, "") if direct else "")
        now = wall_ms()
        for status in self.peers():
            key, address = status.peer.key, status.peer.address
            if key is None:
                continue
            if status.state in ("live", "syncing"):
                heard[key] = Heard(now, "link", key, address)
            elif status.last_sync_ms and status.last_sync_ms > heard.get(key, Heard(0, "log")).at_ms:
                heard[key] = Heard(status.last_sync_ms, "link", key, address)
        return heard

    def flash_status(self, message: Message, now_ms: int | None = None) -> FlashStatus:
        """Who must still acknowledge ``message`` (a FLASH), who of them is silent or unreachable, and whether it
        is overdue: the rule of ``meshchat.log.flash`` with this node's facts (``last_heard``, the time)."""
        return self.flash_statuses([message], now_ms)[0]

    def flash_statuses(self, messages: Sequence[Message], now_ms: int | None = None) -> list[FlashStatus]:
        """:meth:`flash_status` of several FLASHes, with one reading of the facts."""
        if not messages:
            return []
        heard = {key: h.at_ms for key, h in self.last_heard().items()}
        now = wall_ms() if now_ms is None else now_ms
        membership = self.membership
        return [flash_status(m.clock, m.acked_by, flash_recipients(membership, m.author), heard, now) for m in messages]

    def forked_authors(self) -> dict[bytes, int]:
        """``{author: seq}``: authors who signed two different entries with one seq, at the lowest such seq.
        The UI keeps a fork alert up for each (``ForkDetected`` announces new ones)."""
        return self.profile.store.forked_authors()

    READ_MARK_PREFIX = "read:"  # local state: how far this person has read each room

    def last_read(self, room: bytes) -> int:
        """The clock up to which this person has read ``room`` (-1: nothing yet). Local, never replicated."""
        marked = self._read_marks.get(room)
        if marked is not None:
            return marked
        raw = self.profile.store.get_local(self.READ_MARK_PREFIX + room.hex())
        return int.from_bytes(raw, "big", signed=True) if raw else -1

    def mark_read(self, room: bytes, clock: int) -> None:
        """Remember that ``room`` is read up to ``clock``; never lowers it. Takes effect at once (``last_read``
        says so); it is stored in the background while the node runs, so unread counts survive a restart.
        Best effort: a busy or full store keeps the old mark rather than bother the user."""
        if clock <= self.last_read(room):
            return
        self._read_marks[room] = clock
        self._read_marks_changed.set()

    async def _save_read_marks(self) -> None:
        """Store the read marks that changed, through the writer; the last ones are saved when the node stops."""
        try:
            while True:
                await self._read_marks_changed.wait()
                self._read_marks_changed = trio.Event()
                await self._store_read_marks()
        finally:
            with trio.move_on_after(2.0) as cleanup:
                cleanup.shield = True
                await self._store_read_marks()

    async def _store_read_marks(self) -> None:
        """Store the marks held in memory; each stays there (and counts) until it is stored."""
        marks = dict(self._read_marks)
        if not marks:
            return

        def store(profile: Profile) -> None:
            for room, clock in marks.items():
                profile.store.set_local(self.READ_MARK_PREFIX + room.hex(), clock.to_bytes(8, "big", signed=True))

        try:
            await self.writer.run(store)
        except StoreError as exc:
            log.warning("cannot store read marks: %s", exc)
            return
        for room, clock in marks.items():
            if self._read_marks.get(room) == clock:
                del self._read_marks[room]

    def peers(self) -> list[PeerStatus]:
        """Every known peer and the state of its link."""
        return self.network.peers()

    # ---- writing -------------------------------------------------------------------------------------------
    # To add a write: a method of Profile that checks and signs it (meshchat.profile), and here an async method
    # that passes it to ``_write`` as a function of the writer's profile. Nothing else touches the store.

    async def _write(self, write: Callable[[Profile], T]) -> T:
        """Run ``write`` on the node's one writer (a worker thread: awaiting it yields) and look at the store
        straight after. A store that cannot take it (a full disk) is also announced as a :class:`NodeProblem`:
        the user must know, wherever the write came from."""
        try:
            return await self.writer.run(write)
        except StoreError as exc:
            self.publish(NodeProblem(str(exc)))
            raise
        finally:
            self._membership = None  # the write may have changed it; readers ask the store again
            self.wake()

    def _end_links(self, keys: Iterable[bytes], reason: str) -> None:
        self.network.end_links(keys, reason)  # the network is made after the replica it serves

    def _background(self, errand: Callable[[], Awaitable[None]]) -> None:
        """Run ``errand`` in the node's nursery: for callbacks that cannot await (the replica's, a link's) and
        must still write through the writer. The errand catches what it expects itself."""
        assert self._nursery is not None, "the node is not running"
        self._nursery.start_soon(errand)

    async def post(
        self,
        room: str | bytes,
        text: str,
        *,
        flash: bool = False,
        priority: str | None = None,
        reply_to: bytes | None = None,
        location: dict[str, Value] | None = None,
        attach: Sequence[Path] = (),
    ) -> Entry:
        """Post to a room; ``attach``: files to attach (copied into the blob store, in a worker thread, before
        the message is signed). Raises :class:`ProfileError` saying why a file cannot be attached."""
        files: list[Attachment] = []
        if attach:
            limit = self.blob_settings().max_attach
            try:
                files = await trio.to_thread.run_sync(
                    lambda: attach_files(self.blobs, attach, max_size=limit, text=text)
                )
            except AttachError as exc:
                raise ProfileError(str(exc)) from None
        return await self._write(
            lambda p: p.post(
                room, text, flash=flash, priority=priority, reply_to=reply_to, location=location, files=files
            )
        )

    def blob_settings(self) -> BlobSettings:
        """This node's limits for attaching and fetching files (``meshchat.blobs.settings``)."""
        return BlobSettings.load(self.profile.store)

    # ---- files ---------------------------------------------------------------------------------------------

    def file_state(self, file: Attachment) -> FileState:
        """Where an attached file stands here: held, being fetched (how far, from how many peers), or why not."""
        return self.files.state(file.blob, file.size)

    def held_file(self, file: Attachment) -> Path | None:
        """The path of a file held here whole (to read it: a viewer decodes it), or ``None``."""
        return self.blobs.path_of(file.blob) if self.blobs.has(file.blob) else None

    async def fetch_file(self, file: Attachment) -> FileState:
        """Fetch a file from the peers that hold it, before the files fetched unasked (``f`` in the TUI)."""
        return self.files.fetch(file.blob, file.size, asked=True)

    async def save_file(self, file: Attachment, target: Path) -> Path:
        """Copy a file held here to ``target`` (a directory: under the file's own name, made safe); returns the
        path written. Raises :class:`ProfileError` if it is not here or ``target`` exists."""
        return await trio.to_thread.run_sync(lambda: save_copy(self.blobs, file, target))

    async def file_to_open(self, file: Attachment) -> Path:
        """A read-only copy of a file held here, under its own name, for the system's viewer (``o`` in the TUI).
        Raises :class:`ProfileError` if it is not here or cannot be copied."""
        return await trio.to_thread.run_sync(lambda: viewable_copy(self.blobs, file))

    def _requested_files(self) -> list[Attachment]:
        """Files asked for with ``meshchat fetch`` (from another process) that are not here yet."""
        wanted = [b for b in requested(self.profile.store) if not self.blobs.has(b)]
        return self.views.files_of(wanted) if wanted else []

    def _consider_new_files(self) -> None:
        """Attachments of posts that arrived since we last looked: fetch those this node fetches unasked."""
        self._seen_file_row, files = self.views.files_since(self._seen_file_row)
        self.files.consider(files)

    def _resume_files(self) -> None:
        """At start: go on with fetches under way, and fetch what arrived unfetched while no node ran."""
        self._seen_file_row, files = self.views.files_since(0)
        self.files.resume(files)
        self.files.consider(files)

    async def ack(self, message: bytes) -> Entry:
        return await self._write(lambda p: p.ack(message))

    async def retract(self, message: bytes) -> Entry:
        return await self._write(lambda p: p.retract(message))

    async def pin(self, message: bytes) -> Entry:
        return await self._write(lambda p: p.pin(message))

    async def create_room(self, name: str, topic: str = "") -> bytes:
        return await self._write(lambda p: p.create_room(name, topic))

    async def archive_room(self, room: str) -> None:
        await self._write(lambda p: p.archive_room(room))

    async def open_incident(
        self, title: str, severity: int, *, location: Location | None = None, room: str | None = None
    ) -> bytes:
        return await self._write(lambda p: p.open_incident(title, severity, location=location, room=room))

    async def update_incident(self, incident: bytes, fields: Mapping[str, Value]) -> Entry:
        return await self._write(lambda p: p.update_incident(incident, fields))

    async def open_task(
        self,
        title: str,
        *,
        owner: bytes | None = None,
        incident: bytes | None = None,
        location: Location | None = None,
    ) -> bytes:
        return await self._write(lambda p: p.open_task(title, owner=owner, incident=incident, location=location))

    async def update_task(self, task: bytes, fields: Mapping[str, Value]) -> Entry:
        return await self._write(lambda p: p.update_task(task, fields))

    async def request_checkin(self, room: str | bytes, question: str, *, deadline: int | None = None) -> bytes:
        return await self._write(lambda p: p.request_checkin(room, question, deadline=deadline))

    async def reply_checkin(
        self, checkin: bytes, status: str, note: str = "", *, location: Location | None = None
    ) -> Entry:
        return await self._write(lambda p: p.reply_checkin(checkin, status, note, location=location))

    async def report_position(self, report: Report) -> Entry:
        """Where I am: the team sees it as my latest position until my next report (``meshchat.log.positions``)."""
        return await self._write(lambda p: p.report_position(report))

    async def clear_position(self) -> Entry:
        return await self._write(Profile.clear_position)

    def my_position(self) -> Fix | None:
        return self.profile.my_position()

    def team_now(self) -> int:
        """Now, in ms, on the team's time (``Store.team_now``): what a position's fix time goes by, so a laptop
        whose clock is hours off does not date its fixes hours off (ages stay on this computer's clock: they
        compare with receipt times, which it stamps)."""
        return self.profile.team_now()

    async def relay_position(self, via: Outsider, report: Report) -> Entry:
        """An outsider's position (the TAK bridge), marked as theirs."""
        return await self._write(lambda p: p.relay_position(via, report))

    async def relay_post(self, room: bytes, text: str, via: Outsider, *, location: Location | None = None) -> Entry:
        """An outsider's message (the TAK bridge) in ``room``, marked as theirs; routine, never FLASH."""
        return await self._write(lambda p: p.relay_post(room, text, via, location=location))

    async def set_profile(self, name: str, callsign: str = "") -> Entry:
        return await self._write(lambda p: p.set_profile(name, callsign))

    async def create_invite(
        self, role: str = "member", addresses: Sequence[str] | None = None, *, ttl_ms: int = DEFAULT_TTL_MS
    ) -> str:
        """A one-time invite code (admins): the newcomer runs ``meshchat join CODE``. ``addresses`` default
        to where this node listens."""
        reach = addresses if addresses is not None else reachable_addresses(map(format_address, self.listen_addresses))
        code = await self._write(lambda p: create_invite(p, role=role, addresses=tuple(reach), ttl_ms=ttl_ms))
        return code.encode()

    async def add_member(self, key: bytes, role: str, name: str = "") -> Entry:
        return await self._write(lambda p: p.add_member(key, role, name))

    async def remove_member(self, key: bytes) -> Entry:
        """Remove a member (its log is cut at what we hold) and rotate the network key away from it."""
        return await self._write(lambda p: p.remove_member(key))

    async def change_role(self, key: bytes, role: str) -> Entry:
        return await self._write(lambda p: p.change_role(key, role))

    async def revoke_invite(self, invite_id: str) -> None:
        """Revoke an unused invite by its id (the first hex digits of its key, as ``meshchat invites`` shows)."""
        await self._write(lambda p: revoke_invite(p, invite_id))

    def unacknowledged(self) -> list[Message]:
        return self.views.unacknowledged(self.me)
