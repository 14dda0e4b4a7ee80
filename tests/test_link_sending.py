"""A link's writes are judged by progress (``meshchat.net.sending``): a slow peer that takes our bytes keeps its
link however long a frame takes, one that takes nothing loses it after ``idle_timeout``. In virtual time, over
the testing pipe and over real sockets whose buffers the test makes small."""

from __future__ import annotations

import os
import socket

import pytest
import trio
import trio.testing

from meshchat.net.sending import SEND_PIECE, coalesced, partial_sender, send_buffers
from meshchat.testing import stream_pair

IDLE = 45.0


def small_socket_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    """Two connected sockets with 16 KiB kernel buffers, as trio streams."""
    a, b = trio.socket.socketpair()
    for sock in (a, b):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16_384)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
    return trio.SocketStream(a), trio.SocketStream(b)


async def test_a_radio_link_keeps_its_link_through_a_frame_longer_than_the_idle_timeout(
    mock_clock: trio.testing.MockClock,
) -> None:
    """A 256 KiB frame at 9.6 kbit/s takes 218 s; each call of progress is what the deadline judges."""
    frame = os.urandom(256 * 1024)
    taken: list[int] = []
    async with trio.open_nursery() as nursery:
        sender, receiver = stream_pair(nursery, rate=1200)
        received = bytearray()

        async def read() -> None:
            while len(received) < len(frame):
                received.extend(await receiver.receive_some(65_536))

        nursery.start_soon(read)
        start = trio.current_time()
        await send_buffers(partial_sender(sender), [frame], IDLE, taken.append)
        assert trio.current_time() - start > 4 * IDLE  # it took far longer than the idle timeout
        assert len(taken) > 10 and sum(taken) == len(frame)
        nursery.cancel_scope.cancel()


async def test_a_slow_reader_on_a_socket_keeps_the_link_a_silent_one_loses_it(
    mock_clock: trio.testing.MockClock,
) -> None:
    """Over a real socket: a reader that takes at most 32 KiB every 30 s (never 45 s without progress) gets
    1 MiB in order, in a quarter of an hour or more; when it stops reading, the writer gives up 45 s after its
    last progress."""
    data = os.urandom(1024 * 1024)
    sender, receiver = small_socket_pair()
    received = bytearray()
    progress: list[float] = []
    async with trio.open_nursery() as nursery:

        async def read_slowly() -> None:
            while len(received) < len(data):
                await trio.sleep(30)
                received.extend(await receiver.receive_some(32_768))

        nursery.start_soon(read_slowly)
        start = trio.current_time()
        await send_buffers(partial_sender(sender), [data], IDLE, lambda n: progress.append(trio.current_time()))
        assert trio.current_time() - start > 10 * IDLE
    assert received == data

    with pytest.raises(trio.TooSlowError):  # nobody reads any more: the kernel's buffers fill, then nothing
        await send_buffers(partial_sender(sender), [data], IDLE, lambda n: progress.append(trio.current_time()))
    assert trio.current_time() - progress[-1] == pytest.approx(IDLE)
    await sender.aclose()
    await receiver.aclose()


async def test_a_stream_that_cannot_send_partially_goes_in_small_pieces() -> None:
    sender, receiver = trio.testing.memory_stream_pair()
    taken: list[int] = []
    async with trio.open_nursery() as nursery:
        received = bytearray()

        async def read() -> None:
            while len(received) < 3 * SEND_PIECE:
                received.extend(await receiver.receive_some())

        nursery.start_soon(read)
        await send_buffers(partial_sender(sender), [bytes(3 * SEND_PIECE)], IDLE, taken.append)
    assert taken == [SEND_PIECE] * 3


def test_small_frames_are_joined_and_large_ones_sent_as_they_are() -> None:
    small = [bytes([i]) * 100 for i in range(5)]
    large = bytearray(os.urandom(100_000))
    out = list(coalesced([*small[:3], large, *small[3:]]))
    assert out == [b"".join(small[:3]), large, b"".join(small[3:])]
    assert out[1] is large  # not copied
    many = list(coalesced([bytes(1000)] * 200, small=64_000))
    assert [len(b) for b in many] == [64_000, 64_000, 64_000, 8_000]
