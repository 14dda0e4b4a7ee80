"""The node's one writer: every write a running node makes to its store goes through here, one at a time.

A write is a ``BEGIN IMMEDIATE`` transaction, and an own entry is committed with ``synchronous=FULL`` (an
fsync). Made on the trio thread, which in the TUI is the UI thread, a post would freeze the screen for the
fsync, and for up to the busy timeout (10 s) while a catch-up batch holds SQLite's write lock. So a
:class:`Writer` holds a connection of its own to the store and runs each write in a worker thread: ``await``
on a write yields to everything else (drawing, keys, the network) until it is done.

Own writes (posts, acks, local state, heads, key rotations) and the batches peers send share this one writer,
so the node never waits on its own lock: writes queue in the order they were asked for (``trio.Lock`` is
fair), and a post waits at most for the one batch being stored. Work that can wait (the search index) asks
with :meth:`Writer.run_when_quiet` and so trails a catch-up instead of taking turns with its batches.

The node's readers use the profile's main connection on the trio thread and see each commit through SQLite's
``data_version``, exactly as they see a ``meshchat post`` from another process.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import trio

from meshchat.profile import Profile
from meshchat.store import Store

T = TypeVar("T")


class Writer:
    """Runs writes against ``profile``'s store on a connection of its own, one at a time."""

    # False: every write runs on the trio thread. Only for tests on virtual time (``meshchat.testing.
    # virtual_clock``): a worker thread's real milliseconds let a jumping clock run virtual seconds ahead.
    threaded = True

    def __init__(self, profile: Profile) -> None:
        self._main = profile
        self._profile: Profile | None = None  # the writer's view of the home: same identity, own connection
        self._lock = trio.Lock()
        self._asked_at = -math.inf  # when a write was last asked for with run() (trio's clock)

    async def run(self, write: Callable[[Profile], T], *, inline: bool = False) -> T:
        """``write(profile)`` in a worker thread, after the writes asked for before it; returns its result.

        ``profile`` is the writer's: the same identity and store file as the node's, on the writer's own
        connection, so its checks read what is committed. ``inline`` runs it on the trio thread instead, for a
        write small enough that the thread hop would cost more than it spares (a live push of a few entries).
        A write that has started is never abandoned: cancelling the caller waits for it to finish.
        """
        self._asked_at = trio.current_time()
        return await self._run(write, inline=inline)

    async def run_when_quiet(self, write: Callable[[Profile], T], *, quiet: float, at_most: float) -> T:
        """``write`` as :meth:`run` does it, once no write has been asked for with :meth:`run` for ``quiet``
        seconds, or after ``at_most`` seconds of waiting (writes never that far apart must not starve it). For
        work that can wait: taking turns with a catch-up's batches, the search index slowed the catch-up by
        up to a fifth (docs/hardening.md, "Sync at field scale")."""
        give_up = trio.current_time() + at_most
        while (until := min(self._asked_at + quiet, give_up)) > trio.current_time():
            await trio.sleep_until(until)
        return await self._run(write, inline=False)

    async def _run(self, write: Callable[[Profile], T], *, inline: bool) -> T:
        async with self._lock:
            profile = self._open()
            if inline or not self.threaded:
                return write(profile)
            return await trio.to_thread.run_sync(write, profile)

    def _open(self) -> Profile:
        if self._profile is None:
            main = self._main
            self._profile = Profile(main.home, main.identity, Store.open(main.store.path))
        return self._profile

    def close(self) -> None:
        if self._profile is not None:
            self._profile.close()
            self._profile = None
