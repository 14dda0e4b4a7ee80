"""The peer manager: listens, dials, keeps one link per peer, redials with backoff, reports status.

- Static peers (``--peer host:port``) and, later, discovered ones (:meth:`PeerManager.add_peer`, the seam
  for zeroconf) each get a dialer that redials with jittered exponential backoff, and waits while the peer
  is linked through another connection (it dialled us, or we know it by another address).
- One link per peer key: when both sides dial at once, both keep the link dialled by the lower key, so both
  drop the same one.
- One source per author: which link pushes us which author's entries (``meshchat.proto.sources``), fed
  with every link's notes, what the store gained and what each link delivered, and checked four times a
  second for sources that are late or stalled.
- Half-open (unauthenticated) incoming connections are capped per source address and in total, and a new
  connection never waits behind stalled ones: at a cap, the oldest half-open connection of that address (or,
  when the table is full, of the address holding the most) is closed to make room. With a handshake deadline
  on every link, a slowloris from many LAN addresses costs little and keeps no member out.
- Events for the node's users: :class:`PeerUp` when a link is authenticated, :class:`SyncProgress` while
  catching up, :class:`PeerDown` with the reason when it ends.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import trio

from meshchat.events import (
    FoundBy,
    LinkRefused,
    LinkState,
    NodeEvent,
    PeerDown,
    PeerInfo,
    PeerStatus,
    PeerUp,
    SyncProgress,
)
from meshchat.net.address import Address, format_address
from meshchat.net.blobs import BlobExchange
from meshchat.net.link import Link, LinkEnded, LinkSettings, Replica, SyncStart
from meshchat.proto.handshake import Side
from meshchat.proto.sources import Changes, Sources
from meshchat.proto.sync import ForkProof

log = logging.getLogger(__name__)

MAX_CLOSED_RECORDS = 32  # ended incoming links kept for the peers screen
PROGRESS_INTERVAL = 0.25  # at most this often a SyncProgress per link
STEER_INTERVAL = 0.25  # how often sources that are late or stalled are looked for
SHUTDOWN = "node shutting down"


@dataclass(frozen=True)
class NetSettings:
    link: LinkSettings = field(default_factory=LinkSettings)
    connect_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_half_open_per_host: int = 4
    max_half_open: int = 64
    retire_after: float = 10.0  # a LAN link no longer chosen is ended this long after (see meshchat.net.topology)


def _host_of(address: str) -> str:
    """The host part of a ``host:port`` (or ``[v6]:port``) text."""
    return address.rpartition(":")[0].strip("[]")


@dataclass(eq=False)
class PeerRecord:
    """What we know about one peer (a dialled address, or one incoming connection)."""

    address: str
    found_by: FoundBy
    why: str = ""
    key: bytes | None = None
    state: LinkState = "connecting"
    entries_in: int = 0
    entries_out: int = 0
    duplicates_in: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    last_sync_ms: int | None = None
    error: str = ""
    link: Link | None = None
    link_done: trio.Event = field(default_factory=trio.Event)
    last_progress: float = -math.inf
    removed: bool = False  # a dialled peer no longer wanted: no redial once its link ends

    def status(self) -> PeerStatus:
        link = self.link
        return PeerStatus(
            PeerInfo(self.address, self.found_by, self.key),
            self.state,
            self.entries_in + (link.entries_in if link else 0),
            self.entries_out + (link.entries_out if link else 0),
            self.last_sync_ms,
            self.error,
            why=self.why,
            duplicates_in=self.duplicates_in + (link.duplicates_in if link else 0),
            bytes_in=self.bytes_in + (link.bytes_in if link else 0),
            bytes_out=self.bytes_out + (link.bytes_out if link else 0),
        )

    def keep_counts(self, link: Link) -> None:
        """The link ended: keep what it counted."""
        self.entries_in += link.entries_in
        self.entries_out += link.entries_out
        self.duplicates_in += link.duplicates_in
        self.bytes_in += link.bytes_in
        self.bytes_out += link.bytes_out


class PeerManager:
    """Owns every link. Run :meth:`run` in a nursery; use the other methods from the same trio run."""

    def __init__(
        self,
        replica: Replica,
        *,
        me: bytes,
        publish: Callable[[NodeEvent], None],
        wall_ms: Callable[[], int],
        settings: NetSettings | None = None,
        blobs: BlobExchange | None = None,
    ) -> None:
        self.replica = replica
        self.blobs = blobs  # the node's files, fetched and served over every link
        self.me = me
        self.publish = publish
        self.wall_ms = wall_ms
        self.settings = settings or NetSettings()
        self.listen_addresses: list[Address] = []
        self._links: dict[bytes, Link] = {}  # authenticated links, by peer key
        self._dialers: dict[Address, tuple[PeerRecord, trio.CancelScope]] = {}
        self._incoming: list[PeerRecord] = []
        self._half_open: dict[Link, str] = {}  # unauthenticated incoming links and their hosts, oldest first
        self._records: dict[Link, PeerRecord] = {}
        self._nursery: trio.Nursery | None = None
        self.sources: Sources[Link] = Sources(me, trio.current_time)

    # ---- running -------------------------------------------------------------------------------------------

    async def run(
        self,
        listen: Address | None = None,
        peers: Iterable[tuple[Address, FoundBy]] = (),
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen (raises OSError if the address cannot be bound) and dial; runs until cancelled."""
        # Bound before the nursery opens, so that a taken port is a plain OSError for the caller.
        listeners = [] if listen is None else await trio.open_tcp_listeners(listen[1], host=listen[0] or None)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if listeners:
                self.listen_addresses = [_bound(listener) for listener in listeners]
                for address in self.listen_addresses:
                    log.info("listening on %s", format_address(address))
                nursery.start_soon(self._serve, listeners)
            for address, found_by in peers:
                self.add_peer(address, found_by)
            nursery.start_soon(self._steer)
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                for link in list(self._records):
                    link.end(SHUTDOWN)

    async def _steer(self) -> None:
        """Now and then, switch sources that are late or stalled. A bug here is logged
        loudly and the next round tries again: it must not take the node down."""
        while True:
            await trio.sleep(STEER_INTERVAL)
            try:
                self._apply(self.sources.check())
            except Exception:
                log.exception("choosing sources failed")

    def _apply(self, changes: Changes[Link]) -> None:
        for link in changes.wanted.keys() | changes.unwanted.keys():
            if link in self._records:
                link.set_wants(changes.wanted.get(link, ()), changes.unwanted.get(link, ()))

    async def _serve(self, listeners: list[trio.SocketListener]) -> None:
        assert self._nursery is not None
        await trio.serve_listeners(self._incoming_connection, listeners, handler_nursery=self._nursery)

    # ---- peers -----------------------------------------------------------------------------------------

    def add_peer(self, address: Address, found_by: FoundBy = "static", *, why: str = "") -> None:
        """Dial ``address`` and keep redialling it; ``why`` is shown in ``meshchat peers`` (discovery says
        which ring neighbour it is; a static peer is one the user gave)."""
        why = why or ("a peer given with --peer, or from the invite" if found_by == "static" else found_by)
        if address in self._dialers:
            self._dialers[address][0].why = why
            return
        if address in self.listen_addresses or self._nursery is None:
            return
        for incoming in self._incoming:  # it may have reached us before we heard of it
            if incoming.found_by == "incoming" and _host_of(incoming.address) == address[0]:
                incoming.found_by, incoming.why = found_by, why
        record = PeerRecord(format_address(address), found_by, why)
        scope = trio.CancelScope()
        self._dialers[address] = (record, scope)
        self._nursery.start_soon(self._dial_forever, address, record, scope)

    def remove_peer(self, address: Address) -> None:
        """Stop dialling ``address`` (discovery: PeerLost). A link that is up stays until it ends: a lost
        advertisement says little about a working connection."""
        entry = self._dialers.pop(address, None)
        if entry is not None:
            record, scope = entry
            record.removed = True
            if record.link is None:
                scope.cancel()

    def retire_peer(self, address: Address, reason: str) -> None:
        """Stop dialling ``address``, and end the link we dialled to it after ``retire_after`` seconds unless it
        is wanted again by then (discovery: no longer a ring neighbour; the new neighbours link meanwhile)."""
        entry = self._dialers.pop(address, None)
        if entry is None or self._nursery is None:
            return
        record, scope = entry
        record.removed = True
        if record.link is None:
            scope.cancel()
        else:
            self._nursery.start_soon(self._retire_later, address, record.link, reason)

    async def _retire_later(self, address: Address, link: Link, reason: str) -> None:
        await trio.sleep(self.settings.retire_after)
        if address not in self._dialers and link in self._records:
            link.end(reason)

    def peers(self) -> list[PeerStatus]:
        """Every peer we dial and every incoming connection (recent closed ones too). A dialled peer that is
        linked through another connection (it dialled us first) is listed once, under that connection, and a
        closed connection to a peer that is linked again is left out."""
        listed = [r for r, _ in self._dialers.values() if r.link is not None or r.key not in self._links]
        listed += [r for r in self._incoming if not (r.state == "closed" and r.key in self._links)]
        listed += [r for r in self._records.values() if r not in listed]  # removed peers, still linked
        return [record.status() for record in listed]

    def local_advanced(self, heads: Mapping[bytes, int], held: Mapping[bytes, int] | None = None) -> None:
        """The store gained entries: ``heads`` is what we may now send of each author, ``held`` what we hold
        (the same but for removed or forked authors)."""
        self.sources.we_hold(heads if held is None else held)
        for link in list(self._links.values()):
            link.local_advanced(heads, held)

    def linked_keys(self) -> list[bytes]:
        return list(self._links)

    def end_links(self, keys: Iterable[bytes], reason: str) -> None:
        """End the links to these peers (e.g. members just removed); a dialler tries again later, and the
        handshake decides whether that peer may link."""
        for key in keys:
            link = self._links.get(key)
            if link is not None:
                link.end(reason)

    def add_fork_proofs(self, proofs: Sequence[ForkProof]) -> None:
        for link in list(self._links.values()):
            link.add_fork_proofs(proofs)

    async def connect(self, stream: trio.abc.Stream, *, outgoing: bool, address: str, found_by: FoundBy) -> str:
        """Run a link over any stream (a socket, or a memory stream between in-process nodes) until it
        ends; returns the reason it ended."""
        record = PeerRecord(address, found_by, "a link the application opened (in-process)")
        self._remember_incoming(record)
        await self._run_link(stream, Side.CLIENT if outgoing else Side.SERVER, record)
        return record.error or SHUTDOWN

    # ---- dialling ------------------------------------------------------------------------------------------

    async def _dial_forever(self, address: Address, record: PeerRecord, scope: trio.CancelScope) -> None:
        settings = self.settings
        failures = 0
        with scope:
            while True:
                other = self._links.get(record.key) if record.key else None
                if other is not None and other is not record.link:
                    record.state = "live"
                    await self._records[other].link_done.wait()
                    continue
                record.state, record.error = "connecting", ""
                established = False
                try:
                    with trio.fail_after(settings.connect_timeout):
                        stream = await trio.open_tcp_stream(*address)
                except (OSError, trio.TooSlowError) as exc:
                    record.error = f"cannot connect: {exc or 'timed out'}"
                    log.debug("%s: %s", record.address, record.error)
                else:
                    established = await self._run_link(stream, Side.CLIENT, record)
                    if record.removed:
                        return
                failures = 0 if established else failures + 1
                delay = min(settings.backoff_max, settings.backoff_initial * 2 ** max(failures - 1, 0))
                record.state = "backoff"
                await trio.sleep(delay * random.uniform(0.5, 1.0))

    async def _incoming_connection(self, stream: trio.SocketStream) -> None:
        try:
            host, port = stream.socket.getpeername()[:2]
        except OSError:
            await stream.aclose()
            return
        self._make_room_for(str(host))
        record = PeerRecord(format_address((str(host), int(port))), "incoming", "the peer dialled us")
        self._remember_incoming(record)
        await self._run_link(stream, Side.SERVER, record, half_open_host=str(host))

    def _make_room_for(self, host: str) -> None:
        """Close the half-open connection a new one from ``host`` replaces, if a cap is reached: the oldest of
        ``host`` at its own cap, else, with the table full, the oldest of the host that holds the most (so an
        attacker's many stalled connections go before a member's one)."""
        settings = self.settings
        by_host: dict[str, list[Link]] = {}
        for link, owner in self._half_open.items():  # oldest first
            by_host.setdefault(owner, []).append(link)
        if len(by_host.get(host, ())) >= settings.max_half_open_per_host:
            victim = by_host[host][0]
        elif len(self._half_open) >= settings.max_half_open:
            victim = max(by_host.values(), key=len)[0]  # max keeps the first of equals: the oldest host's
        else:
            return
        owner = self._half_open.pop(victim)
        log.warning("%s: closed an unauthenticated connection to make room for one from %s", owner, host)
        victim.end("too many unauthenticated connections: made room for a newer one")

    def _remember_incoming(self, record: PeerRecord) -> None:
        self._incoming.append(record)
        closed = [r for r in self._incoming if r.state == "closed"]
        for old in closed[: max(0, len(closed) - MAX_CLOSED_RECORDS)]:
            self._incoming.remove(old)

    def _release_half_open(self, link: Link) -> None:
        self._half_open.pop(link, None)

    # ---- one link ------------------------------------------------------------------------------------------

    async def _run_link(
        self, stream: trio.abc.Stream, side: Side, record: PeerRecord, half_open_host: str = ""
    ) -> bool:
        """Run one link to its end; returns whether it was authenticated."""
        try:
            link = Link(stream, side, self.replica, self, self.settings.link, address=record.address, blobs=self.blobs)
        except LinkEnded as exc:  # the replica cannot link now (no network key yet): this link ends, the node goes on
            log.warning("%s: cannot start a link: %s", record.address, exc)
            record.state, record.error = "closed", f"cannot start a link: {exc}"
            with trio.CancelScope(shield=True):
                await stream.aclose()
            return False
        record.link, record.link_done = link, trio.Event()
        record.state = "handshaking"
        self._records[link] = record
        if half_open_host:
            self._half_open[link] = half_open_host
        reason = ""
        try:
            reason = await link.run()
        except Exception as exc:  # a bug in one link must not take the node down: log it loudly, end the link
            log.exception("%s: link failed", record.address)
            reason = f"internal error: {exc!r}"
        finally:  # also when the task running the link is cancelled (shutdown, an in-process link cut)
            reason = reason or link.reason or "link stopped"
            self._release_half_open(link)
            was_up = link.peer_key is not None and self._links.get(link.peer_key) is link
            if was_up:
                del self._links[link.peer_key]  # type: ignore[arg-type]
            changes = self.sources.link_down(link)
            del self._records[link]
            self._apply(changes)
            record.keep_counts(link)
            record.link = None
            record.link_done.set()
            record.state = "closed"
            record.error = "" if reason == SHUTDOWN else reason
            if was_up:
                log.info("%s: peer %s down: %s", record.address, _short(link.peer_key), reason)
                self.publish(PeerDown(record.status(), reason))
            elif reason.startswith("refused by the peer"):  # we are not let in: say so plainly
                log.warning("%s: this node was %s", record.address, reason)
                self.publish(LinkRefused(record.status(), reason.removeprefix("refused by the peer: ")))
            else:
                log.info("%s: link ended: %s", record.address, reason)
        return link.established

    # ---- LinkObserver --------------------------------------------------------------------------------------

    def authenticated(self, link: Link) -> str | None:
        record = self._records[link]
        key = link.peer_key
        assert key is not None
        self._release_half_open(link)
        record.key = key
        if record.found_by == "incoming":
            record.found_by, record.why = self._how_we_know(key, record.address)
        existing = self._links.get(key)
        if existing is not None and existing is not link:
            if self._client_key(existing) <= self._client_key(link):
                return "duplicate link: already linked to this peer"
            existing.end("duplicate link: replaced by one dialled by the lower key")
        self._links[key] = link
        record.state = "syncing"
        log.info("%s: peer %s up (%s)", record.address, _short(key), record.found_by)
        self.publish(PeerUp(record.status()))
        return None

    def _how_we_know(self, key: bytes, address: str) -> tuple[FoundBy, str]:
        """How we know the peer of an incoming link, and why the link exists. One from a peer we also dial (it
        won the race to connect) keeps what found it and why we dial it: the peers screen should say
        "discovery", not "incoming", for a node found on the LAN. A dialled peer whose key we already know and
        which is another node is not this one, even on the same host (several nodes on one machine, e.g. the
        demo's on 127.0.0.1)."""
        host = _host_of(address)
        dialled = [record for record, _ in self._dialers.values()]
        for record in dialled:
            if record.key == key:
                return record.found_by, record.why
        for record in dialled:
            if record.key is None and _host_of(record.address) == host:
                return record.found_by, record.why
        return "incoming", "the peer dialled us (we are on its list: a ring neighbour, or a peer it was given)"

    def _client_key(self, link: Link) -> bytes:
        assert link.peer_key is not None
        return self.me if link.side is Side.CLIENT else link.peer_key

    def syncing(self, link: Link, start: SyncStart) -> set[bytes]:
        self.sources.we_hold(start.held)
        wanted = self.sources.link_up(link, link.peer_key)
        changes = self.sources.know(start.priority)  # members we had not heard of: a source for each, now
        wanted |= changes.wanted.pop(link, set())  # this link is not syncing yet: its wants go with its start
        self._apply(changes)
        return wanted

    def know_authors(self, authors: Iterable[bytes]) -> None:
        """Members that may write (e.g. just admitted): their first entries are to be pushed to us too."""
        self._apply(self.sources.know(authors))

    def notes(self, link: Link, heads: Mapping[bytes, int]) -> None:
        self._apply(self.sources.peer_holds(link, heads))

    def arriving(self, link: Link, seqs: Mapping[bytes, int]) -> None:
        self.sources.arriving(seqs)

    def progress(self, link: Link) -> None:
        self.sources.link_delivered(link)
        record = self._records.get(link)
        if record is None or not link.syncing:
            return
        now = trio.current_time()
        if now - record.last_progress >= PROGRESS_INTERVAL:
            record.last_progress = now
            self.publish(SyncProgress(record.status().peer, link.received, link.expected, done=False))

    def caught_up(self, link: Link) -> None:
        record = self._records.get(link)
        if record is None:
            return
        record.last_sync_ms = self.wall_ms()
        if link.syncing:
            record.state = "live"
            log.info("%s: caught up (%d new entries)", record.address, link.received)
            self.publish(SyncProgress(record.status().peer, link.received, link.expected, done=True))


def _bound(listener: trio.SocketListener) -> Address:
    host, port = listener.socket.getsockname()[:2]
    return str(host), int(port)


def _short(key: bytes | None) -> str:
    return key.hex()[:12] if key else "?"
