"""Keeping our own log in one line: a store that lost its last own entries must not write again at seqs that
others already hold with other content.

Own sequence numbers come only from the durable store (Scuttlebutt's feeds forked when a key was restored
without its sequence state). But the store itself can go back in time: a lost ``-wal`` file after a crash, a
backup restored, a VM snapshot, a copied home. Two records say how far our own log has reached elsewhere:

- The *expected head* (``local`` table, key ``own.expected``): the highest seq of our own log that a peer said
  it holds, that the head mark below showed, or that a repaired store held. While the store's own head is
  below it, :meth:`Store.append_own` refuses with :class:`OwnLogBehindError`, and the node fetches the rest
  from its peers like any other author's entries; writing resumes by itself once they are back.
- The *head mark*: a small file beside the database (``meshchat.db-head``), rewritten after every own write.
  It outlives what the database loses on its own (its ``-wal``, or the database file restored alone), so that
  gap shows when the store opens, before any peer is reachable.

Not covered: a whole home restored from a copy, mark included, that writes before it meets a peer holding
the newer entries. Its log then forks; peers find that out (an entry that does not link makes them ask for
the one before, which is the proof) and record it with proof, and the node says so loudly.
"""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path
from typing import NamedTuple

from meshchat.log.codec import DecodeError, pack, unpack

EXPECTED_KEY = "own.expected"  # local table: pack([author, seq, source])
MARK_SUFFIX = "-head"
_MARK_MAGIC = b"MCOWN1"
_MARK = struct.Struct(">6s32s32sQ32s")  # magic, team id, author, seq, entry id

# Where an expected head came from, in words for the user.
SOURCES = {
    "peer": "a peer holds it",
    "mark": "this device wrote it before its store lost the last entries (a lost -wal file or a restored copy?)",
    "repair": "the damaged store held it",
}


class OwnGap(NamedTuple):
    """Our own log is held here up to ``have``, but reached ``expected`` elsewhere (``source``: see SOURCES)."""

    have: int
    expected: int
    source: str

    def explain(self) -> str:
        """One line for the user: what happened, why writing waits, what brings it back."""
        missing = f"#{self.have + 1}" if self.expected == self.have + 1 else f"#{self.have + 1}-#{self.expected}"
        return (
            f"writing is paused: this device holds your own log up to #{self.have}, but it reached "
            f"#{self.expected} ({SOURCES.get(self.source, self.source)}); a new entry would fork your log, so "
            f"your node first fetches {missing} back from your peers (keep it connected to your team; "
            "'meshchat repair --resume-writing' if no teammate ever received them)"
        )


def encode_expected(author: bytes, seq: int, source: str) -> bytes:
    return pack([author, seq, source])


def decode_expected(raw: bytes | None) -> tuple[bytes, int, str] | None:
    """The expected head, or None if there is none (or the record is unreadable: then nothing is enforced)."""
    if raw is None:
        return None
    try:
        value = unpack(raw, max_len=256)
    except DecodeError:
        return None
    if not (isinstance(value, list) and len(value) == 3):
        return None
    author, seq, source = value
    if not (isinstance(author, bytes) and isinstance(seq, int) and isinstance(source, str)):
        return None
    return author, seq, source


def mark_path(db: Path) -> Path:
    return db.with_name(db.name + MARK_SUFFIX)


class HeadMark:
    """The head mark of one store: ``(author, seq, id)`` of the newest own entry written to it.

    Rewritten in place with one ``pwrite`` of 110 bytes after each own write (~10 us; a rename per write cost
    ~200 us here), and not fsynced: it only has to outlive the database's ``-wal`` file, and a crash of the
    process keeps the page cache. A mark torn by a power cut fails its checks and is ignored; a mark that lags
    only catches less. Never lowered: another process writing as us may have written a newer entry meanwhile.
    """

    def __init__(self, db: Path, team_id: bytes) -> None:
        self.path = mark_path(db)
        self.team_id = team_id
        self._fd: int | None = None

    def read(self) -> tuple[bytes, int, bytes] | None:
        try:
            data = self.path.read_bytes()
        except OSError:
            return None
        return self._parse(data)

    def record(self, author: bytes, seq: int, entry_id: bytes) -> None:
        """Best effort: a mark that cannot be written (a full disk, a read-only home) only catches less."""
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            current = self._parse(os.pread(self._fd, _MARK.size + 1, 0))
            if current is not None and current[0] == author and current[1] >= seq:
                return
            os.pwrite(self._fd, _MARK.pack(_MARK_MAGIC, self.team_id, author, seq, entry_id), 0)
        except OSError:
            return

    def remove(self) -> None:
        self.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _parse(self, data: bytes) -> tuple[bytes, int, bytes] | None:
        if len(data) != _MARK.size:
            return None
        magic, team, author, seq, entry_id = _MARK.unpack(data)
        if magic != _MARK_MAGIC or team != self.team_id:
            return None
        return author, seq, entry_id
