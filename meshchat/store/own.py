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


def write_mark(db: Path, team_id: bytes, author: bytes, seq: int, entry_id: bytes) -> None:
    """Record our newest own entry beside the database. Best effort and not fsynced: it only has to outlive
    the database's ``-wal`` (a crash of the process keeps the page cache), and a mark that lags only catches
    less. Never lowered: another process may have written a newer own entry meanwhile."""
    path = mark_path(db)
    current = read_mark(db, team_id)
    if current is not None and current[0] == author and current[1] >= seq:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(OSError):
        tmp.write_bytes(_MARK.pack(_MARK_MAGIC, team_id, author, seq, entry_id))
        tmp.replace(path)


def read_mark(db: Path, team_id: bytes) -> tuple[bytes, int, bytes] | None:
    """``(author, seq, id)`` of the newest own entry this home wrote to the team ``team_id``, if recorded."""
    try:
        data = mark_path(db).read_bytes()
    except OSError:
        return None
    if len(data) != _MARK.size:
        return None
    magic, team, author, seq, entry_id = _MARK.unpack(data)
    if magic != _MARK_MAGIC or team != team_id:
        return None
    return author, seq, entry_id
