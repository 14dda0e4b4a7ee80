"""Length-prefixed framing: a 4-byte big-endian length, then that many bytes of payload.

Frames longer than :data:`MAX_FRAME` are a protocol error, detected from the length prefix alone, before any
of the payload is buffered: a peer cannot make us hold more than one frame's worth of bytes.

A file's chunk crosses in frames of a quarter of a megabyte, so the reader copies each byte once: a frame
still arriving gets its own buffer, which the rest of its bytes are appended to as they come, and which is
then handed out as it is (a ``bytearray`` the caller owns, e.g. to open in place). The buffer grows with the
bytes received, never to the length the prefix claims: four bytes from a peer that has not even finished the
handshake must not make us hold a megabyte.
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


class FrameReader:
    """Collects bytes as they arrive and hands out whole frame payloads.

    ``feed`` never parses; ``next_frame`` returns one payload or ``None`` when more bytes are needed. The
    buffer is compacted lazily, so reading many small frames from one large read costs no quadratic copying.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()  # bytes not yet parsed (or behind a frame that is being filled)
        self._start = 0
        self._frame: bytearray | None = None  # what arrived of a payload still arriving
        self._length = 0  # that payload's length, from its prefix

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        with memoryview(data) as view:
            taken, frame = 0, self._frame
            if frame is not None and len(frame) < self._length:
                taken = min(len(view), self._length - len(frame))
                frame += view[:taken]
            if taken == len(view):
                return
            if self._start and self._start >= len(self._buffer) // 2:
                del self._buffer[: self._start]
                self._start = 0
            self._buffer += view[taken:]

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buffer) - self._start + (len(self._frame) if self._frame is not None else 0)

    def next_frame(self) -> bytearray | None:
        """The next whole payload, a buffer of its own, or ``None``."""
        if self._frame is not None:
            if len(self._frame) < self._length:
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
        # Not all here yet: what is here becomes the payload's own buffer, and the rest is appended to it.
        with memoryview(buffer) as view:
            self._frame = bytearray(view[start:])
        self._length = length
        self._buffer, self._start = bytearray(), 0
        return None
