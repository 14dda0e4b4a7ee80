"""The pacer sizes a link's window and batches from the rate the link is measured to deliver."""

from __future__ import annotations

import pytest

from meshchat.proto.pacing import BATCH_TIME, INITIAL_RATE, SAMPLES, WINDOW_TIME, Pacer


class Link:
    """A sender's view of a link that delivers ``rate`` bytes/s in order, acknowledged ``rtt`` later."""

    def __init__(self, rate: float, rtt: float) -> None:
        self.now = 0.0
        self.rate, self.rtt = rate, rtt
        self.pacer = Pacer(lambda: self.now)
        self.busy_until = 0.0  # when the link has sent everything handed to it
        self.acks: list[float] = []  # when each message in flight will be acknowledged

    def run(self, seconds: float) -> None:
        """Keep the window full for ``seconds``."""
        ends = self.now + seconds
        while self.now < ends:
            while self.pacer.room() > 0:
                size = self.pacer.batch
                self.pacer.sent(size, {})
                self.busy_until = max(self.busy_until, self.now) + size / self.rate
                self.acks.append(self.busy_until + self.rtt)
            self.now = max(self.now, self.acks.pop(0))
            self.pacer.acknowledged(1)


@pytest.mark.parametrize("rate", [1200, 8000, 32_000, 5_000_000])
def test_window_and_batch_follow_the_measured_rate(rate: float) -> None:
    link = Link(rate, rtt=0.05)
    link.run(60)
    assert rate * 0.8 <= link.pacer.rate <= rate * 1.25
    queued = link.pacer.window / rate  # seconds a new message waits behind what is in flight
    assert queued <= WINDOW_TIME * 1.3
    assert link.pacer.batch <= max(1024, rate * BATCH_TIME * 1.3)


def test_a_fast_link_is_found_within_a_few_round_trips() -> None:
    link = Link(5_000_000, rtt=0.002)
    link.run(0.1)
    assert link.pacer.rate > 2_000_000 > INITIAL_RATE


def test_a_quiet_link_keeps_its_estimate_and_a_slower_one_is_learnt() -> None:
    link = Link(32_000, rtt=0.05)
    link.run(30)
    learnt = link.pacer.rate
    link.now += 300  # nothing to send for five minutes
    assert link.pacer.rate == learnt
    link.rate = 1200  # the radio link got worse
    link.run(30)
    assert link.pacer.rate <= 1200 * 1.25


def test_a_pile_of_late_acknowledgements_does_not_inflate_the_estimate() -> None:
    link = Link(8000, rtt=0.05)
    link.run(20)
    before = link.pacer.rate
    for _ in range(SAMPLES // 3):  # a receiver that stalled, then acknowledged everything at once
        link.acks = [link.now + 2.0] * len(link.acks)
        link.run(2.5)
    assert link.pacer.rate <= before * 1.25
