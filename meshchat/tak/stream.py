"""A TAK TCP stream is XML events one after another, with no framing: ``<event ...>...</event>``, each maybe
after an XML declaration. This splits one into events, bounded: nothing is buffered beyond one event's limit.
Pure: no I/O."""

from __future__ import annotations

from meshchat.tak.cot import MAX_EVENT, CotError

_START = b"<event"
_END = b"</event>"
_FILLER = 1024  # what may come before an event without being counted as skipped (an XML declaration)


class CotStream:
    """Feed bytes as they arrive, get back the complete events (raw bytes, for :func:`cot.read_event`).
    Bytes between events that are not an event (an XML declaration, whitespace, garbage) are dropped and
    counted; a stream that sends more than :data:`MAX_EVENT` bytes without completing an event ends
    (:class:`CotError`)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.skipped = 0  # bytes dropped between events

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        self._buffer += data
        events: list[bytes] = []
        while True:
            start = self._buffer.find(_START)
            if start < 0:
                if len(self._buffer) > _FILLER:  # not a declaration before an event: dropped, never kept
                    drop = len(self._buffer) - (len(_START) - 1)  # the start of "<event" may be at the end
                    self.skipped += drop
                    del self._buffer[:drop]
                break
            self.skipped += start - _junk_allowed(self._buffer[:start])
            del self._buffer[:start]
            end = self._buffer.find(_END)
            if end < 0:
                break
            events.append(bytes(self._buffer[: end + len(_END)]))
            del self._buffer[: end + len(_END)]
        if len(self._buffer) > MAX_EVENT:
            raise CotError(f"more than {MAX_EVENT:,} bytes without a complete event")
        return events


def _junk_allowed(between: bytearray) -> int:
    """How much of what came before an event is the normal kind of filler (whitespace, an XML declaration),
    which is not counted as skipped."""
    text = bytes(between).strip()
    if not text or (text.startswith(b"<?xml") and text.endswith(b"?>") and text.count(b">") == 1):
        return len(between)
    return 0
