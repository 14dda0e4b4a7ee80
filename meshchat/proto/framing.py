"""Length-prefixed framing: a 4-byte big-endian length, then that many bytes of payload.

Frames longer than :data:`MAX_FRAME` are a protocol error, detected from the length prefix alone, before any
of the payload is buffered: a peer cannot make us hold more than one frame's worth of bytes.

A file's chunk crosses in frames of a quarter of a megabyte, so the reader copies each byte at most once, and
a driver that can read a socket into a buffer (``recv_into``) has it copy none: a frame still arriving gets a
buffer of its own, and the socket's reads go straight into it (:meth:`FrameReader.receive_buffer`), or are
appended to it as they come (:meth:`FrameReader.feed`); it is then handed out as it is (a ``bytearray`` the
caller owns, e.g. to open in place). Before the peer is authenticated, that buffer grows with the bytes
received, never to the length the prefix claims: four bytes from a peer that has not even finished the
handshake must not make us hold a megabyte. Once it is (:attr:`FrameReader.trusted`, set by the connection
after the handshake), a frame's buffer is its claimed length at once, so the socket can fill it in place: a
member can make us hold at most one frame's worth per link, as it could by sending the frame.
"""

from __future__ import annotations

from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError

MAX_FRAME = 1024 * 1024  # payload bytes
HEADER = 4


def frame(payload: bytes) -> bytes:
    """``payload`` with its length prefix."""
    return prefix(len(payload)) + payload


def prefix(length: int) -> bytes:
    """The length prefix of a payload of ``length`` bytes."""
    if length > MAX_FRAME:
        raise LocalProtocolError(f"frame of {length} bytes exceeds {MAX_FRAME}")
    return length.to_bytes(HEADER, "big")


SCRATCH = 16 * 1024  # bytes read at once between frames (a frame's header, small frames): then copied once


class FrameReader:
    """Collects bytes as they arrive and hands out whole frame payloads.

    Bytes come in through :meth:`feed` (a copy) or are written by the driver into :meth:`receive_buffer` and
    counted with :meth:`received`. Neither parses; ``next_frame`` returns one payload or ``None`` when more
    bytes are needed. The buffer is compacted lazily, so reading many small frames from one large read costs
    no quadratic copying.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self.trusted = False  # the peer is authenticated: a frame's buffer may take its claimed length at once
        self._buffer = bytearray()  # bytes not yet parsed (or behind a frame that is being filled)
        self._start = 0
        self._frame: bytearray | None = None  # a payload still arriving: its own buffer
        self._filled = 0  # bytes of it that arrived (its length, unless it was given its claimed length)
        self._length = 0  # that payload's length, from its prefix
        self._scratch: bytearray | None = None  # where reads between frames go (receive_buffer)
        self._into_frame = False  # the last receive_buffer was the frame's own

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        with memoryview(data) as view:
            taken, frame = 0, self._frame
            if frame is not None and self._filled < self._length:
                taken = min(len(view), self._length - self._filled)
                if len(frame) == self._length:  # given its length at once: fill it in place
                    frame[self._filled : self._filled + taken] = view[:taken]
                else:
                    frame += view[:taken]
                self._filled += taken
            if taken == len(view):
                return
            if self._start and self._start >= len(self._buffer) // 2:
                del self._buffer[: self._start]
                self._start = 0
            self._buffer += view[taken:]

    def receive_buffer(self) -> memoryview:
        """Where the driver should read the next bytes into (then call :meth:`received`): the rest of the frame
        under way, if it has its buffer, so the bytes land where they are opened; else a small scratch buffer
        (between frames), copied once."""
        frame = self._frame
        if frame is not None and len(frame) == self._length and self._filled < self._length:
            self._into_frame = True
            return memoryview(frame)[self._filled :]
        self._into_frame = False
        if self._scratch is None:
            self._scratch = bytearray(SCRATCH)
        return memoryview(self._scratch)

    def received(self, count: int) -> None:
        """``count`` bytes were written at the start of the last :meth:`receive_buffer`."""
        if self._into_frame:
            self._filled += count
        elif count:
            assert self._scratch is not None
            with memoryview(self._scratch) as scratch:
                self.feed(scratch[:count])

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buffer) - self._start + (self._filled if self._frame is not None else 0)

    def next_frame(self) -> bytearray | None:
        """The next whole payload, a buffer of its own, or ``None``."""
        if self._frame is not None:
            if self._filled < self._length:
                return None
            payload, self._frame = self._frame, None
            return payload
        buffer, start = self._buffer, self._start
        if len(buffer) - start < HEADER:
            return None
        length = int.from_bytes(buffer[start : start + HEADER], "big")
        if length > self.max_frame:
            raise RemoteProtocolError(f"frame of {length} bytes exceeds the limit of {self.max_frame}")
        start += HEADER
        end = start + length
        if len(buffer) >= end:
            self._start = end
            return buffer[start:end]
        # Not all here yet: what is here goes to the payload's own buffer, and the rest is added to it.
        with memoryview(buffer) as view:
            here = len(buffer) - start
            if self.trusted:
                self._frame = bytearray(length)
                self._frame[:here] = view[start:]
            else:
                self._frame = bytearray(view[start:])
        self._filled, self._length = here, length
        self._buffer, self._start = bytearray(), 0
        return None
