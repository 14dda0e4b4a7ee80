"""Progress on stderr for long exports, imports and verifications (100,000 entries take seconds).

Nothing is shown for a stage that finishes within ``delay`` seconds: small jobs stay quiet. After that, on a
terminal one line is rewritten in place a few times a second; elsewhere (a log file, CI) a line is printed at
every further 10%, and one when the stage ends.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from meshchat.log.safe_text import safe_text
from meshchat.terminal import raw_stream


class Progress:
    """``stage(label, total)`` starts a stage; ``advance(n)`` moves it; ``done()`` ends it."""

    def __init__(
        self, stream: TextIO | None = None, *, quiet: bool = False, delay: float = 0.5, interval: float = 0.25
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.delay = delay
        self.interval = interval
        self.tty = not quiet and self.stream.isatty()
        self.label = ""
        self.total = 0
        self.count = 0
        self._started = 0.0
        self._last_time = 0.0
        self._last_decile = -1
        self._shown = False

    @classmethod
    def silent(cls) -> Progress:
        return cls(quiet=True)

    def stage(self, label: str, total: int = 0) -> None:
        self.done()
        self.label, self.total, self.count = label, total, 0
        self._started = time.monotonic()
        self._last_decile, self._shown = -1, False

    def advance(self, n: int = 1) -> None:
        self.count += n
        if not self.quiet:
            self._show(final=False)

    def done(self) -> None:
        if self.label and not self.quiet and self._shown:
            self._show(final=True)
        self.label = ""

    def _text(self) -> str:
        label = safe_text(self.label)  # labels name files, and a file's name comes from whoever made it
        if self.total:
            return f"{label}: {self.count:,}/{self.total:,} ({self.count * 100 // self.total}%)"
        return f"{label}: {self.count:,}"

    def _show(self, *, final: bool) -> None:
        now = time.monotonic()
        if not final and now - self._started < self.delay:
            return
        if self.tty:
            if final or now - self._last_time >= self.interval:
                self._last_time = now
                terminal = raw_stream(self.stream)  # the line is redrawn with our own control sequence
                terminal.write("\r\x1b[K" + self._text() + ("\n" if final else ""))
                terminal.flush()
                self._shown = True
            return
        decile = self.count * 10 // self.total if self.total else 0
        if decile > self._last_decile or (final and self.count != self._printed):
            self._last_decile, self._printed, self._shown = decile, self.count, True
            self.stream.write(self._text() + "\n")
            self.stream.flush()

    _printed = -1
