"""Durable storage (stdlib sqlite3): the entries, fork proofs, quarantine, and view tables.

- ``store``: :class:`Store`, the one accept path for every source, and own writes.
- ``ingest``: the accept path inside one transaction (chains, signatures, quarantine, forks).
- ``schema``: the tables, designed for the ingest hot path.
- ``queries``: reading the views (rooms, messages, incidents, check-ins, tasks, members).
"""

from meshchat.store.results import AcceptResult, BatchResult, Head, NewEntry, NewSummary, Outcome
from meshchat.store.store import ReadOnlyStoreError, StorageFullError, Store, StoreDamagedError, StoreError

__all__ = [
    "AcceptResult",
    "BatchResult",
    "Head",
    "NewEntry",
    "NewSummary",
    "Outcome",
    "ReadOnlyStoreError",
    "StorageFullError",
    "Store",
    "StoreDamagedError",
    "StoreError",
]
