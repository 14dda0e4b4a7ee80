"""An export's log stored again, in a temporary store, through the one accept path (as ``import`` does): how
``verify`` makes the data files again from the log alone, to compare them with the export's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from meshchat.export import manifest
from meshchat.export.bundle import import_stream, stream_entries
from meshchat.export.logs import snapshot
from meshchat.store import Store


@contextmanager
def rebuilt_store(export: Path, team: bytes, directory: Path) -> Iterator[Store]:
    """The export's chains and fork proofs in a new store in ``directory``, read in one snapshot (as the
    exporter read its own). Raises ExportError or StoreError when the log cannot be read."""
    with Store.create(directory / "log.db", team) as store:
        for name, part in ((manifest.LOG_FILE, "chains"), (manifest.FORKS_FILE, "forks")):
            _, raws = stream_entries(export / name, parts=(part,))
            import_stream(store, raws)
        with snapshot(store):
            yield store
