"""Durable storage (stdlib sqlite3): the entries, fork proofs, quarantine, and view tables.

- ``store``: :class:`Store`, the one accept path for every source, and own writes.
- ``ingest``: the accept path inside one transaction (chains, signatures, quarantine, forks).
- ``schema``: the tables, designed for the ingest hot path.
- ``queries``: reading the views (rooms, messages, incidents, check-ins, tasks, members).
- ``own``: keeping our own log in one line when the store loses its last own entries.
"""

from meshchat.errors import DiskFullError, StoreError
from meshchat.store.own import OwnGap
from meshchat.store.results import NOT_LINKED, AcceptResult, BatchResult, Head, NewEntry, NewSummary, Outcome
from meshchat.store.store import (
    OwnLogBehindError,
    OwnLogForkedError,
    ReadOnlyStoreError,
    StorageFullError,
    Store,
    StoreDamagedError,
    paused_gc,
)

__all__ = [
    "NOT_LINKED",
    "AcceptResult",
    "BatchResult",
    "DiskFullError",
    "Head",
    "NewEntry",
    "NewSummary",
    "Outcome",
    "OwnGap",
    "OwnLogBehindError",
    "OwnLogForkedError",
    "ReadOnlyStoreError",
    "StorageFullError",
    "Store",
    "StoreDamagedError",
    "StoreError",
    "paused_gc",
]
