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

from meshchat.node import Node
from meshchat.profile import STORE_FILE, Profile
from meshchat.testing import loopback_config, running_node

RESPONSIVE_S = 0.1  # the longest the trio loop may stall: a person notices beyond this


class LoopStalls:
    """The longest the trio loop went without running a task that asked to wake every 5 ms."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def watch(self) -> None:
        while True:
            before = trio.current_time()
            await trio.sleep(0.005)
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
