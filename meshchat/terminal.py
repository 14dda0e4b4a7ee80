"""The terminal as a trust boundary: what the command line writes passes :func:`safe_text` on its way out.

Commands print member text (names, messages, incident titles), text from files on a USB stick (file names,
an export's team name) and text from peers (why a link closed). Each command shows it through
``meshchat.cli.output.say``, which keeps one piece of text on one line; :func:`guarded_terminal` is the net
under that: while a command runs, ``sys.stdout`` and ``sys.stderr`` (and so ``print``, ``logging`` and
``argparse``) show every control, bidi or format character as a visible ``[U+XXXX]`` marker, so no forgotten
call can put an escape sequence on the person's screen. The program's own control sequences (progress
lines redrawn in place) go to :func:`raw_stream` explicitly.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from meshchat.log.safe_text import safe_text


class SafeTextStream(io.TextIOBase):
    """A text stream that writes ``safe_text(text, keep_newlines=True)`` of whatever it is given."""

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(safe_text(text, keep_newlines=True))
        return len(text)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def fileno(self) -> int:
        return self.raw.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.raw.encoding


def raw_stream(stream: TextIO) -> TextIO:
    """The stream under a :class:`SafeTextStream`, for the program's own control sequences (never for text
    that came from anyone else)."""
    return stream.raw if isinstance(stream, SafeTextStream) else stream


@contextmanager
def guarded_terminal() -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` show only safe text until the block ends."""
    saved = sys.stdout, sys.stderr
    sys.stdout = SafeTextStream(raw_stream(sys.stdout))
    sys.stderr = SafeTextStream(raw_stream(sys.stderr))
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved


class OneLineLogRecords(logging.Filter):
    """A log record's message on one line, made safe: a peer's reason with a newline cannot fake a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = safe_text(record.getMessage()), None
        return True
