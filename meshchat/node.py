"""A running node: one profile, its store, its links to peers, and a stream of events.

This is the public API the TUI (and the headless ``meshchat node``) use; they never touch the store directly.
Reads are plain methods and properties (SQLite reads take microseconds to milliseconds). Writes are async and
return the new entry; each is checked by the same rules every node applies (``meshchat.profile``).

The node watches its store: whatever lands there (written by this node, received from a peer, or written by a
``meshchat post`` in another process on the same home) is announced as :class:`~meshchat.events.EntriesAdded`
and pushed on to connected peers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from meshchat.events import EntriesAdded, ForkDetected, MembershipChanged, NodeEvent, NodeProblem, PeerStatus
from meshchat.log.entry import Entry
from meshchat.log.kinds import MEMBERSHIP_KINDS
from meshchat.log.rules import Membership, Role
from meshchat.log.views import Message
from meshchat.profile import Profile, ProfileError
from meshchat.store import NewEntry, StoreError
from meshchat.store.queries import Views

EVENT_BUFFER = 1000
IDLE_CHECKPOINT_S = 5.0


@dataclass(frozen=True)
class NodeConfig:
    """How a node reaches the network."""

    listen: tuple[str, int] | None = None  # address to accept peers on; None: do not listen
    peers: tuple[tuple[str, int], ...] = ()  # static peers, dialled and redialled with backoff
    discovery: bool = True  # find peers on the LAN with zeroconf
    poll_interval: float = 0.2  # how often to look for entries written by other processes
    extra: dict[str, Any] = field(default_factory=dict)


class Node:
    """Create with :meth:`open`, run with ``await node.run()`` inside a trio nursery, close when done."""

    def __init__(self, profile: Profile, config: NodeConfig | None = None) -> None:
        self.profile = profile
        self.config = config or NodeConfig()
        self._subscribers: list[trio.MemorySendChannel[NodeEvent]] = []
        self._seen_rowid = profile.store.last_rowid()
        self._seen_forks = profile.store.forked_authors()
        self._wakeup = trio.Event()
        self._new_entry_hooks: list[Callable[[Sequence[NewEntry]], None]] = []

    @classmethod
    def open(cls, home: Path, config: NodeConfig | None = None) -> Node:
        return cls(Profile.open(home), config)

    def close(self) -> None:
        for channel in self._subscribers:
            channel.close()
        self.profile.close()

    # ---- running -------------------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled: watch the store, and serve the network as configured."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch_store)
            task_status.started()

    async def _watch_store(self) -> None:
        idle_since = trio.current_time()
        checkpointed = True
        while True:
            with trio.move_on_after(self.config.poll_interval):
                await self._wakeup.wait()
            self._wakeup = trio.Event()
            if self._notice_new_entries():
                idle_since, checkpointed = trio.current_time(), False
            elif not checkpointed and trio.current_time() - idle_since > IDLE_CHECKPOINT_S:
                self.profile.store.checkpoint()
                checkpointed = True

    def _notice_new_entries(self) -> bool:
        """Announce what the store gained since we last looked. Returns whether there was anything."""
        store = self.profile.store
        new = store.new_since(self._seen_rowid)
        if not new:
            return False
        self._seen_rowid = new[-1].rowid
        for hook in self._new_entry_hooks:
            hook(new)
        kinds = frozenset(e.kind for e in new)
        authors = frozenset(e.author for e in new)
        self.publish(
            EntriesAdded(
                count=len(new),
                kinds=kinds,
                rooms=frozenset(e.room for e in new if e.room is not None),
                authors=authors,
                local=authors == {self.me},
            )
        )
        if kinds & MEMBERSHIP_KINDS:
            self.publish(MembershipChanged())
        forks = store.forked_authors()
        for author, seq in forks.items():
            if self._seen_forks.get(author) != seq:
                self.publish(ForkDetected(author, seq))
        self._seen_forks = forks
        if len(new) == 10_000:  # more waiting: look again at once
            self._wakeup.set()
        return True

    def on_new_entries(self, hook: Callable[[Sequence[NewEntry]], None]) -> None:
        """Call ``hook`` with every batch of entries new to the store (the network layer pushes them on)."""
        self._new_entry_hooks.append(hook)

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
        return self.profile.store.membership

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
        return self.profile.name_of(key)

    def forked_authors(self) -> dict[bytes, int]:
        """``{author: seq}``: authors who signed two different entries with one seq, at the lowest such seq.
        The UI keeps a fork alert up for each (``ForkDetected`` announces new ones)."""
        return self.profile.store.forked_authors()

    READ_MARK_PREFIX = "read:"  # local state: how far this person has read each room

    def last_read(self, room: bytes) -> int:
        """The clock up to which this person has read ``room`` (-1: nothing yet). Local, never replicated."""
        raw = self.profile.store.get_local(self.READ_MARK_PREFIX + room.hex())
        return int.from_bytes(raw, "big", signed=True) if raw else -1

    def mark_read(self, room: bytes, clock: int) -> None:
        """Remember that ``room`` is read up to ``clock`` (unread counts survive a restart). Never lowers it.
        Best effort: a busy or full store keeps the old mark rather than bother the user."""
        if clock <= self.last_read(room):
            return
        try:
            self.profile.store.set_local(self.READ_MARK_PREFIX + room.hex(), clock.to_bytes(8, "big", signed=True))
        except StoreError:
            return

    def peers(self) -> list[PeerStatus]:
        """Every known peer and the state of its link."""
        return []

    # ---- writing -------------------------------------------------------------------------------------------

    def _write(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except ProfileError:
            raise
        except StoreError as exc:
            self.publish(NodeProblem(str(exc)))
            raise ProfileError(str(exc)) from None
        finally:
            self.wake()

    async def post(
        self,
        room: str | bytes,
        text: str,
        *,
        flash: bool = False,
        priority: str | None = None,
        reply_to: bytes | None = None,
        location: dict[str, Any] | None = None,
    ) -> Entry:
        result: Entry = self._write(
            lambda: self.profile.post(room, text, flash=flash, priority=priority, reply_to=reply_to, location=location)
        )
        return result

    async def ack(self, message: bytes) -> Entry:
        result: Entry = self._write(lambda: self.profile.ack(message))
        return result

    async def retract(self, message: bytes) -> Entry:
        result: Entry = self._write(lambda: self.profile.retract(message))
        return result

    async def pin(self, message: bytes) -> Entry:
        result: Entry = self._write(lambda: self.profile.pin(message))
        return result

    async def create_room(self, name: str, topic: str = "") -> bytes:
        result: bytes = self._write(lambda: self.profile.create_room(name, topic))
        return result

    async def archive_room(self, room: str) -> None:
        self._write(lambda: self.profile.archive_room(room))

    async def open_incident(
        self, title: str, severity: int, *, location: str | None = None, room: str | None = None
    ) -> bytes:
        result: bytes = self._write(lambda: self.profile.open_incident(title, severity, location=location, room=room))
        return result

    async def update_incident(self, incident: bytes, fields: dict[str, Any]) -> Entry:
        result: Entry = self._write(lambda: self.profile.update_incident(incident, fields))
        return result

    async def open_task(self, title: str, *, owner: bytes | None = None, incident: bytes | None = None) -> bytes:
        result: bytes = self._write(lambda: self.profile.open_task(title, owner=owner, incident=incident))
        return result

    async def update_task(self, task: bytes, fields: dict[str, Any]) -> Entry:
        result: Entry = self._write(lambda: self.profile.update_task(task, fields))
        return result

    async def request_checkin(self, room: str | bytes, question: str, *, deadline: int | None = None) -> bytes:
        result: bytes = self._write(lambda: self.profile.request_checkin(room, question, deadline=deadline))
        return result

    async def reply_checkin(self, checkin: bytes, status: str, note: str = "") -> Entry:
        result: Entry = self._write(lambda: self.profile.reply_checkin(checkin, status, note))
        return result

    async def set_profile(self, name: str, callsign: str = "") -> Entry:
        result: Entry = self._write(lambda: self.profile.set_profile(name, callsign))
        return result

    async def add_member(self, key: bytes, role: str, name: str = "") -> Entry:
        result: Entry = self._write(lambda: self.profile.add_member(key, role, name))
        return result

    async def remove_member(self, key: bytes) -> Entry:
        result: Entry = self._write(lambda: self.profile.remove_member(key))
        return result

    def unacknowledged(self) -> list[Message]:
        return self.views.unacknowledged(self.me)
