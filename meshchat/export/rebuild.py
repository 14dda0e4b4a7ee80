"""An export's log stored again, in a temporary store, through the one accept path (as ``import`` does): how
``verify`` makes the data files again from the log alone, to compare them with the export's. ``Rebuilds``
stores it once for every check of one run that needs a store."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType

from meshchat.export import manifest
from meshchat.export.bundle import import_stream, stream_entries
from meshchat.export.errors import ExportError
from meshchat.export.logs import snapshot
from meshchat.store import Store, StoreError


@contextmanager
def rebuilt_store(export: Path, team: bytes, directory: Path) -> Iterator[Store]:
    """The export's chains and fork proofs in a new store in ``directory``, read in one snapshot (as the
    exporter read its own). Raises ExportError or StoreError when the log cannot be read."""
    with Store.create(directory / "log.db", team) as store:
        store.set_meta("receipts", "off")  # stored now says nothing of when the exporting node had each entry
        for name, part in ((manifest.LOG_FILE, "chains"), (manifest.FORKS_FILE, "forks")):
            _, raws = stream_entries(export / name, parts=(part,))
            import_stream(store, raws)
        with snapshot(store):
            yield store


class Rebuilds:
    """Each export's log stored again at most once (on first use), for every check of one ``verify`` run that
    needs a store; a log that cannot be stored raises the same error to each. Use ``with``: the stores and
    their directory go at its end."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._directory: Path | None = None
        self._made: dict[tuple[Path, bytes], Store | ExportError | StoreError] = {}

    def __enter__(self) -> Rebuilds:
        self._directory = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="meshchat-verify-")))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stack.close()

    def store(self, export: Path, team: bytes) -> Store:
        """The store of ``export``'s log (see :func:`rebuilt_store`). Raises ExportError or StoreError."""
        assert self._directory is not None, "use Rebuilds in a with statement"
        key = (export, team)
        if key not in self._made:
            directory = self._directory / str(len(self._made))
            directory.mkdir()
            try:
                self._made[key] = self._stack.enter_context(rebuilt_store(export, team, directory))
            except (ExportError, StoreError) as exc:
                self._made[key] = exc
        made = self._made[key]
        if isinstance(made, Store):
            return made
        raise made
