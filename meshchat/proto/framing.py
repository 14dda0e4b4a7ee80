"""Length-prefixed framing: a 4-byte big-endian length, then that many bytes of payload.

Frames longer than :data:`MAX_FRAME` are a protocol error, detected from the length prefix alone, before any
of the payload is buffered: a peer cannot make us hold more than one frame's worth of bytes.
"""

from __future__ import annotations

from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError

MAX_FRAME = 1024 * 1024  # payload bytes
HEADER = 4


def frame(payload: bytes) -> bytes:
    """``payload`` with its length prefix."""
    if len(payload) > MAX_FRAME:
        raise LocalProtocolError(f"frame of {len(payload)} bytes exceeds {MAX_FRAME}")
    return len(payload).to_bytes(HEADER, "big") + payload


class FrameReader:
    """Collects bytes as they arrive and hands out whole frame payloads.

    ``feed`` never parses; ``next_frame`` returns one payload or ``None`` when more bytes are needed. The
    buffer is compacted lazily, so reading many small frames from one large read costs no quadratic copying.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._start = 0

    def feed(self, data: bytes) -> None:
        if self._start and self._start >= len(self._buffer) // 2:
            del self._buffer[: self._start]
            self._start = 0
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buffer) - self._start

    def next_frame(self) -> bytes | None:
        buffer, start = self._buffer, self._start
        if len(buffer) - start < HEADER:
            return None
        length = int.from_bytes(buffer[start : start + HEADER], "big")
        if length > self.max_frame:
            raise RemoteProtocolError(f"frame of {length} bytes exceeds the limit of {self.max_frame}")
        end = start + HEADER + length
        if len(buffer) < end:
            return None
        payload = bytes(buffer[start + HEADER : end])
        self._start = end
        return payload
