"""How much one link may have in flight: sized from the rate the link is measured to deliver.

A slow link must not be handed more than it can carry in about a second: whatever is queued (in our socket
buffer, in a router, in the peer's ingest) is ahead of the next message a person types, and a batch that
takes minutes to cross never finishes before a timeout. A fast link must not be starved either: on a LAN the
receiver's disk is the limit, and it should always have the next batch waiting.

So the sender measures the link's delivery rate much as BBR does (Cardwell et al., 2016): when a message is
acknowledged, the bytes acknowledged since it was sent, over the time since the acknowledgement that came
before it was sent. A new link starts up as BBR's does: the estimate is the highest sample (each at most
:data:`GROWTH` times the estimate), so it doubles about every round trip until it stops growing. From then
on it is the median of the last :data:`SAMPLES` samples: a receiver that stalls, then acknowledges a pile
of batches at once, overstates a sample or two, and the median ignores them. Only samples taken while the
sender had more to send than the window let it count (a link that carried a few live messages says little
about what it could carry), or higher ones. A quiet link keeps its last estimate. From it:

- the window (bytes unacknowledged) is what the link delivers in :data:`WINDOW_TIME`, so a new message waits
  behind about that much, whatever the link's speed;
- a batch is what it delivers in :data:`BATCH_TIME`, so one batch never monopolises the link, and a cut loses
  at most that.

A window that is too small lowers the samples only if the link's round trip is longer than WINDOW_TIME;
otherwise each round measures the real rate and the window grows to match it (from :data:`INITIAL_RATE` to
LAN speed in a few round trips of milliseconds). Sizes are counted in entry bytes as the node reads them
(before compact encoding and compression): the rate is then in the same unit, and a link that compresses
well simply shows a higher rate.

Entries and the pieces of files (``meshchat.proto.blobs``) share one window and one rate: each flight is in a
*lane* (:data:`ENTRIES` or :data:`PIECES`), acknowledged by its own message (``Ack``, ``Got``), in order
within its lane, so a receiver that stores an entries batch at once, while pieces before it are still being
written, acknowledges it at once too.

Pure: the clock is handed in, so tests run minutes of a radio link in virtual time.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

INITIAL_RATE = 8 * 1024  # bytes/s before the first sample: a 9.6 kbit/s link drains its window in ~3 s
MIN_RATE = 512  # never size below this (a stalled link still gets one entry at a time)
MAX_WINDOW = 8 * 1024 * 1024
MAX_BATCH = 128 * 1024  # ~600 entries; set while receivers rebuilt batches on their UI thread (architecture.md)
MIN_BATCH = 1024
WINDOW_TIME = 0.75  # seconds of the link's rate that may be in flight
BATCH_TIME = 0.25  # seconds of the link's rate in one batch
SAMPLES = 9  # the estimate is the median of this many recent samples
GROWTH = 2.0  # one sample raises the estimate at most this much
MIN_ELAPSED = 0.001  # a sample's interval is at least this
ENTRIES, PIECES = 0, 1  # the lanes of flights: entries, acknowledged by Ack; pieces of files, by Got


@dataclass(frozen=True, slots=True)
class Flight:
    """One sent message not yet acknowledged."""

    size: int
    delivered_at_send: int  # bytes acknowledged in all when it was sent
    acked_at_send: float  # when the last acknowledgement before it came (or the link started)
    limited: bool  # the sender had more to send than the window let it
    seqs: Mapping[bytes, int]  # the highest seq of each author it carried
    lane: int = ENTRIES


class Pacer:
    def __init__(self, clock: Callable[[], float], *, initial_rate: float = INITIAL_RATE) -> None:
        self.clock = clock
        self.rate = float(initial_rate)  # bytes/s, the current estimate
        self.delivered = 0  # bytes acknowledged over the link's life
        self.acked_at = clock()  # when the last acknowledgement came
        self.in_flight: deque[Flight] = deque()
        self.in_flight_bytes = 0
        self._lane_flights = [0, 0]  # flights in flight per lane
        self._samples: deque[float] = deque(maxlen=SAMPLES)
        self._starting = True  # growing fast until the estimate stops growing
        self._mark = self.rate  # the estimate when it last grew by a quarter during start-up
        self._flat = 0  # samples since then

    @property
    def window(self) -> int:
        """Bytes that may be unacknowledged."""
        return int(min(MAX_WINDOW, max(MIN_BATCH, self.rate * WINDOW_TIME)))

    @property
    def batch(self) -> int:
        """Bytes in one batch (a batch always holds at least one entry, whatever its size)."""
        return int(min(MAX_BATCH, max(MIN_BATCH, self.rate * BATCH_TIME)))

    def room(self) -> int:
        return self.window - self.in_flight_bytes

    def sent(self, size: int, seqs: Mapping[bytes, int], *, limited: bool = True, lane: int = ENTRIES) -> None:
        """A message of ``size`` bytes went out; ``limited``: we had more to send than the window let us."""
        self.in_flight.append(Flight(size, self.delivered, self.acked_at, limited, seqs, lane))
        self.in_flight_bytes += size
        self._lane_flights[lane] += 1

    def flights(self, lane: int = ENTRIES) -> int:
        """Messages of ``lane`` in flight."""
        return self._lane_flights[lane]

    def acknowledged(self, count: int, *, lane: int = ENTRIES) -> None:
        """The oldest ``count`` messages in flight of ``lane`` were acknowledged (acks come in order)."""
        now = self.clock()
        for _ in range(count):
            flight = self._pop(lane)
            self.in_flight_bytes -= flight.size
            self.delivered += flight.size
            elapsed = max(MIN_ELAPSED, now - flight.acked_at_send)
            sample = min((self.delivered - flight.delivered_at_send) / elapsed, GROWTH * self.rate)
            if flight.limited or sample > self.rate:
                self._samples.append(sample)
                self._estimate(sample)
        self.acked_at = now

    def _pop(self, lane: int) -> Flight:
        flights = self.in_flight
        for i, flight in enumerate(flights):
            if flight.lane == lane:
                del flights[i]
                self._lane_flights[lane] -= 1
                return flight
        raise IndexError(f"no flight of lane {lane}")

    def _estimate(self, sample: float) -> None:
        if not self._starting:
            self.rate = max(MIN_RATE, statistics.median(self._samples))
            return
        self.rate = max(self.rate, sample)
        if self.rate >= 1.25 * self._mark:
            self._mark, self._flat = self.rate, 0
        else:
            self._flat += 1
            self._starting = self._flat < SAMPLES

    def in_flight_seq(self, author: bytes) -> int:
        """The highest seq of ``author`` in messages not yet acknowledged (0 if none)."""
        return max((f.seqs.get(author, 0) for f in self.in_flight), default=0)
