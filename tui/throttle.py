"""Run a refresh at most every so often: the first call runs at once, calls during the quiet period are
merged into one run at its end. Keeps a screen responsive during a catch-up of thousands of entries."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.timer import Timer
from textual.widget import Widget


class Throttle:
    def __init__(self, owner: Widget, interval: float, action: Callable[[], None]) -> None:
        self._owner = owner
        self._interval = interval
        self._action = action
        self._last = -float("inf")
        self._timer: Timer | None = None

    def __call__(self) -> None:
        if self._timer is not None:
            return  # a run is already scheduled; it will see this change too
        wait = self._last + self._interval - time.monotonic()
        if wait <= 0:
            self._run()
        else:
            self._timer = self._owner.set_timer(wait, self._run)

    def _run(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        self._action()
