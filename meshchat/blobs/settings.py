"""What this node attaches and fetches by itself: per node, kept in the home's local state (never replicated).

- ``max_attach``: the largest file a person on this node may attach. A team on radio links wants it small;
  the CLI and the TUI name it when they refuse a file.
- ``auto_fetch``: files up to this size are fetched as soon as their message arrives (smallest first, so a
  photo never waits behind a video); larger ones wait until someone asks (``meshchat fetch``, ``f`` in the
  TUI). Thumbnails travel inside the message and need no fetch at all.

The defaults suit a laptop on a LAN: photos and documents arrive by themselves, a long video waits to be
asked for. On a slow link, lower ``auto_fetch`` (``meshchat files --auto-fetch 1MB``): small files still come
at once, behind every message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from meshchat.log.attachments import HASH_SIZE, MAX_BLOB_SIZE
from meshchat.log.codec import DecodeError, pack, unpack
from meshchat.store import Store

MAX_ATTACH_KEY = "attach.max_bytes"
AUTO_FETCH_KEY = "attach.auto_fetch_bytes"
REQUESTS_KEY = "attach.requested"
DEFAULT_MAX_ATTACH = 100 * 1000 * 1000
DEFAULT_AUTO_FETCH = 25 * 1000 * 1000
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "ki": 1024, "mi": 1024**2, "gi": 1024**3}


@dataclass(frozen=True, slots=True)
class BlobSettings:
    max_attach: int = DEFAULT_MAX_ATTACH
    auto_fetch: int = DEFAULT_AUTO_FETCH

    @classmethod
    def load(cls, store: Store) -> BlobSettings:
        return cls(
            _read(store, MAX_ATTACH_KEY, DEFAULT_MAX_ATTACH),
            _read(store, AUTO_FETCH_KEY, DEFAULT_AUTO_FETCH),
        )

    def save(self, store: Store) -> None:
        store.set_local(MAX_ATTACH_KEY, self.max_attach.to_bytes(8, "big"))
        store.set_local(AUTO_FETCH_KEY, self.auto_fetch.to_bytes(8, "big"))


def requested(store: Store) -> list[bytes]:
    """Files a person asked this home's node to fetch (``meshchat fetch``), by blob id. Only the command line
    writes the list; the node reads it."""
    raw = store.get_local(REQUESTS_KEY)
    try:
        value = unpack(raw, max_len=64 * 1024 * 1024) if raw else []
    except DecodeError:
        return []
    return [b for b in value if isinstance(b, bytes) and len(b) == HASH_SIZE] if isinstance(value, list) else []


def request(store: Store, blob: bytes, *, drop: Iterable[bytes] = ()) -> None:
    """Add ``blob`` to the files asked for (and leave out ``drop``: those the node has fetched since)."""
    gone = set(drop)
    kept = [b for b in requested(store) if b not in gone and b != blob]
    store.set_local(REQUESTS_KEY, pack([*kept, blob]))


def _read(store: Store, key: str, default: int) -> int:
    raw = store.get_local(key)
    if raw is None or len(raw) != 8:
        return default
    return min(int.from_bytes(raw, "big"), MAX_BLOB_SIZE)


def parse_size(text: str) -> int:
    """A size as people type it: ``25MB``, ``1.5 GB``, ``512k``, ``100MiB``, ``0``. Raises ValueError."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size (e.g. 25MB, 512KB, 1GB)")
    number, unit = match.groups()
    unit = (unit or "").lower().removesuffix("b")
    size = int(float(number) * _UNITS[unit])
    if size > MAX_BLOB_SIZE:
        raise ValueError(f"{text!r} is more than the largest attachment meshchat carries (2 GiB)")
    return size
