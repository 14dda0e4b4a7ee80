"""The node's one writer: awaiting a write yields, so the node (and a TUI on the same thread) stays live while
the write waits for an fsync or for the store's write lock held by a catch-up (meshchat.writer)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trio
import trio.testing

from meshchat.invites import InviteCode, create_invite, join_team
from meshchat.log.rules import Role
from meshchat.node import Node
from meshchat.profile import STORE_FILE, Profile
from meshchat.testing import link_nodes, loopback_config, running_node, team_homes, wait_until

RESPONSIVE_S = 0.1  # the longest the trio loop may stall: a person notices beyond this


class LoopStalls:
    """The longest the trio loop went without running a task that asked to wake every 5 ms."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def watch(self) -> None:
        while True:
            before = trio.current_time()
            await trio.sleep(0.005)  # real time is what is measured: how late the loop wakes us
            self.longest = max(self.longest, trio.current_time() - before - 0.005)


@contextmanager
def write_lock_held_elsewhere(db: Path, seconds: float) -> Iterator[threading.Event]:
    """Another connection (as a catch-up batch does) holds the store's write lock for ``seconds``."""
    taken = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        taken.set()
        threading.Event().wait(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    try:
        yield taken
    finally:
        thread.join()


async def test_a_post_waiting_for_the_write_lock_does_not_stall_the_node(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    Profile.init(home, "T", display_name="Ana").close()
    stalls = LoopStalls()
    async with running_node(home, loopback_config(listen=None)) as node, trio.open_nursery() as nursery:
        nursery.start_soon(stalls.watch)
        await trio.testing.wait_all_tasks_blocked()  # the watcher is in its first sleep
        with write_lock_held_elsewhere(home / STORE_FILE, 0.6):
            started = trio.current_time()
            entry = await node.post("general", "while the lock is held")
            waited = trio.current_time() - started
        # Real time is what is measured: the watcher's next wake-up says how long the loop went without it (a
        # write that never yields lets nothing run meanwhile).
        await trio.sleep(0.02)
        assert waited >= 0.3, "the post must have waited for the lock"
        assert stalls.longest < RESPONSIVE_S, f"the loop stalled {stalls.longest * 1000:.0f} ms"
        assert node.views.message(entry.id) is not None  # readers see the writer's commit at once
        nursery.cancel_scope.cancel()


async def test_read_marks_count_at_once_and_survive_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    Profile.init(home, "T", display_name="Ana").close()
    async with running_node(home, loopback_config(listen=None)) as node:
        room = node.profile.room("general").room
        assert node.last_read(room) == -1
        node.mark_read(room, 1234)
        node.mark_read(room, 1000)  # never lowered
        assert node.last_read(room) == 1234
    reopened = Node.open(home)
    try:
        assert reopened.last_read(room) == 1234
    finally:
        reopened.close()


async def test_an_admission_and_a_peer_holding_more_of_our_log_are_written_by_the_writer(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    """Both come from protocol callbacks that cannot wait (the handshake, a peer's notes), and were written on
    the node's main connection, on the trio thread: a UI freeze while a catch-up holds the write lock. Now the
    callback decides and the writer writes; the main connection writes nothing."""
    (home,) = team_homes(tmp_path, 1)
    with Profile.open(home) as founder:
        code = InviteCode.decode(create_invite(founder, role="member").encode())
    join_team(tmp_path / "bo", code, display_name="Bo").close()
    async with (
        running_node(home, loopback_config(listen=None)) as ana,
        running_node(tmp_path / "bo", loopback_config(listen=None)) as bo,
        trio.open_nursery() as nursery,
    ):
        main = ana.profile.store.connection
        written_before = main.total_changes
        link_nodes(nursery, bo, ana)
        await wait_until(lambda: bo.membership.role_of(bo.me) is Role.MEMBER, what="Bo admitted")
        assert ana.membership.role_of(bo.me) is Role.MEMBER
        # A peer says it holds more of Ana's own log than her store does (a lost write-ahead log).
        head = ana.profile.store.head(ana.me)
        assert head is not None
        ana.replica.peer_holds(bo.me, {ana.me: head.seq + 5})
        await trio.testing.wait_all_tasks_blocked()
        assert ana.writing_paused is not None and f"#{head.seq + 5}" in ana.writing_paused
        assert main.total_changes == written_before, "the node's main connection wrote"
        nursery.cancel_scope.cancel()
