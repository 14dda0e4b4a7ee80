"""Sending a link's frames with progress as the only deadline.

A link must not drop a peer that is slow but taking our bytes (a 9.6 kbit/s radio moves a quarter-megabyte
piece of a file in three and a half minutes), and must drop one that takes nothing for ``idle_timeout``. So
the deadline is per call of progress, never per buffer: :func:`send_buffers` hands the stream as much as it
takes now (a socket's ``send``: what fits in the kernel's send buffer, waiting only until some of it fits),
each call under the deadline, and goes on with the rest.

Through ``send_all`` in fixed pieces (16 KiB, what v2 did) the same guarantee cost a call and two scheduler
checkpoints per 16 KiB: 0.17 s of the sender's CPU per 100 MB of a file. A stream that cannot send partially
(``trio.testing``'s, a TLS stream) still goes in those pieces.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator

import trio

SEND_PIECE = 16 * 1024  # bytes per send_all for a stream that cannot send partially
SMALL = 64 * 1024  # frames below this are joined before they are sent (many small ones: one system call)

SendSome = Callable[[memoryview], Awaitable[int]]


def partial_sender(stream: trio.abc.SendStream) -> SendSome:
    """``send(view) -> bytes taken``: at least one byte, as soon as the stream takes any."""
    if isinstance(stream, trio.SocketStream):
        return stream.socket.send
    send_some = getattr(stream, "send_some", None)  # meshchat.testing's slow in-memory link
    if send_some is not None:
        return send_some  # type: ignore[no-any-return]

    async def send_piece(view: memoryview) -> int:
        piece = view[:SEND_PIECE]
        await stream.send_all(piece)
        return len(piece)

    return send_piece


async def send_buffers(
    send: SendSome, buffers: Iterable[bytes | bytearray], idle_timeout: float, progress: Callable[[int], None]
) -> None:
    """Send every buffer, in order; each call of ``send`` must take some bytes within ``idle_timeout``
    (:class:`trio.TooSlowError` otherwise). ``progress(n)`` is told of every ``n`` bytes taken."""
    for buffer in coalesced(buffers):
        view = memoryview(buffer)
        while view:
            with trio.fail_after(idle_timeout):
                sent = await send(view)
            progress(sent)
            view = view[sent:]


def coalesced(buffers: Iterable[bytes | bytearray], small: int = SMALL) -> Iterator[bytes | bytearray]:
    """``buffers`` with each run of small ones joined (up to ``small`` bytes); a large one goes as it is."""
    run: list[bytes | bytearray] = []
    size = 0
    for buffer in buffers:
        if len(buffer) >= small:
            if run:
                yield b"".join(run)
                run, size = [], 0
            yield buffer
            continue
        run.append(buffer)
        size += len(buffer)
        if size >= small:
            yield b"".join(run)
            run, size = [], 0
    if run:
        yield b"".join(run) if len(run) > 1 else run[0]
