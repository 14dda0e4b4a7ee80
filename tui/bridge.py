"""Hosts the trio node on Textual's asyncio loop (trio guest mode), and carries calls and events across.

Textual runs on asyncio; the node and its network run on trio. ``trio.lowlevel.start_guest_run`` lets
trio run *inside* the asyncio loop on the same thread: trio hands its I/O waits to a helper thread and its
task steps to asyncio's ``call_soon``. So there is one thread touching the node and the UI, no locks, and
reads (``node.views``) can be made from Textual handlers directly.

Direction of calls:
- trio -> Textual: ``app.post_message`` (events, coalesced into one message per burst).
- Textual -> trio: :meth:`NodeBridge.call` schedules a coroutine on trio with the run's ``TrioToken`` and
  returns an asyncio future; never ``call_from_thread`` (same thread).

What bit (see docs/tui.md): Textual removes screens before the app gets ``Unmount``, so trio is cancelled as soon
as exit is requested; a crash in a trio task only reaches ``done_callback``, which must end the app with the
error; and asyncio must stay alive (``wait_closed`` in ``on_unmount``) until trio is done, or its tasks are
dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import outcome
import trio

from meshchat.events import NodeEvent
from meshchat.node import Node

T = TypeVar("T")
BURST_WINDOW_S = 0.05  # at most ~20 UI updates a second while a burst of events lasts
Companion = Callable[[Node], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TrioCrashed:
    """The trio side ended with an error: the app must say so and stop."""

    error: BaseException
    text: str


class EventSink(Protocol):
    """Where the bridge delivers node events and crashes (the app; a plain object in tests)."""

    def node_events(self, events: Sequence[NodeEvent]) -> None: ...

    def node_crashed(self, crash: TrioCrashed) -> None: ...


class NodeBridge:
    """Runs ``node.run`` (and optional companion tasks, e.g. the demo's teammates) in a trio guest run."""

    def __init__(self, node: Node, sink: EventSink, companions: Sequence[Companion] = ()) -> None:
        self.node = node
        self._sink = sink
        self._companions = tuple(companions)
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._ready: asyncio.Future[None] | None = None
        self._done: asyncio.Future[None] | None = None
        self._stopping = False

    # ---- lifecycle (called from asyncio) -------------------------------------------------------------------

    def start(self) -> None:
        """Start trio on the running asyncio loop; returns at once (see :meth:`wait_ready`)."""
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._done = loop.create_future()
        trio.lowlevel.start_guest_run(
            self._main,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=self._on_done,
            host_uses_signal_set_wakeup_fd=True,
        )

    async def wait_ready(self) -> None:
        """Until the node runs (its watcher started) and calls can be made."""
        assert self._ready is not None, "start() first"
        await asyncio.shield(self._ready)

    @property
    def running(self) -> bool:
        return self._done is not None and not self._done.done()

    def stop(self) -> None:
        """Ask trio to finish (cancels the node and every call in flight). Safe to call more than once."""
        self._stopping = True
        if self._token is None or self._nursery is None:
            return
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(self._nursery.cancel_scope.cancel)

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Keep asyncio alive until the trio run has ended (or ``timeout``)."""
        if self._done is None:
            return
        self.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._done), timeout)

    # ---- calls from Textual into trio ------------------------------------------------------------------------

    def call(self, fn: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """Run ``await fn()`` on trio; the returned future gets its result or exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._token is None or self._nursery is None or not self.running:
            future.set_exception(RuntimeError("the node is not running"))
            return future
        nursery = self._nursery

        async def run() -> None:
            try:
                result = await fn()
            except trio.Cancelled:
                loop.call_soon(_cancel, future)
                raise
            except Exception as exc:  # handed to the caller, which shows it
                loop.call_soon(_fail, future, exc)
            else:
                loop.call_soon(_resolve, future, result)

        try:
            self._token.run_sync_soon(nursery.start_soon, run)
        except trio.RunFinishedError:
            future.set_exception(RuntimeError("the node has stopped"))
        return future

    # ---- the trio side ---------------------------------------------------------------------------------------

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        events = self.node.events()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            if self._stopping:
                nursery.cancel_scope.cancel()
            await nursery.start(self.node.run)
            nursery.start_soon(self._forward, events)
            for companion in self._companions:
                nursery.start_soon(companion, self.node)
            assert self._ready is not None
            if not self._ready.done():
                self._ready.set_result(None)

    async def _forward(self, events: trio.MemoryReceiveChannel[NodeEvent]) -> None:
        """Deliver events in bursts: whatever is queued now goes as one batch, then wait a moment."""
        async with events:
            async for first in events:
                batch = [first]
                while True:
                    try:
                        batch.append(events.receive_nowait())
                    except trio.WouldBlock:
                        break
                self._sink.node_events(batch)
                await trio.sleep(BURST_WINDOW_S)

    def _on_done(self, result: outcome.Outcome[None]) -> None:
        assert self._done is not None and self._ready is not None
        if isinstance(result, outcome.Error) and not _only_cancelled(result.error):
            error = result.error
            text = "".join(traceback.format_exception(error))
            self._sink.node_crashed(TrioCrashed(error, text))
        if not self._ready.done():
            self._ready.set_exception(RuntimeError("the node stopped before it was ready"))
            self._ready.exception()  # mark retrieved: nobody may be waiting
        if not self._done.done():
            self._done.set_result(None)


def _only_cancelled(error: BaseException) -> bool:
    if isinstance(error, trio.Cancelled):
        return True
    if isinstance(error, BaseExceptionGroup):
        return all(_only_cancelled(e) for e in error.exceptions)
    return False


def _resolve(future: asyncio.Future[T], value: T) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _cancel(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.cancel()
