"""Verify's side of ``positions.geojson`` and ``positions.kml``: the files are made again from the export's
log (a temporary store rebuilt through the one accept path, read with the exporter's own functions) and must
be the same, byte for byte. Both are made from one rebuild (``meshchat verify``: the one it shares with the other
data checks, :class:`~meshchat.export.rebuild.Rebuilds`), kept for the other file's check."""

from __future__ import annotations

from contextlib import ExitStack
from functools import lru_cache
from pathlib import Path

from meshchat.export.chains import Add
from meshchat.export.errors import ExportError
from meshchat.export.operation.source import operation_source
from meshchat.export.places import GEOJSON_FILE, KML_FILE
from meshchat.export.places.model import Places, places_of
from meshchat.export.places.render import render
from meshchat.export.problems import Severity
from meshchat.export.rebuild import Rebuilds
from meshchat.files import is_regular_file, read_untrusted
from meshchat.log.rules import Membership
from meshchat.store import Store, StoreError

MAX_FILE = 1 << 30


def check_geojson(export: Path, membership: Membership, team: bytes, add: Add, rebuilds: Rebuilds | None = None) -> int:
    """``rebuilds``: the log stored again, shared with the run's other checks (else stored here)."""
    return _check(export, team, GEOJSON_FILE, add, rebuilds)


def check_kml(export: Path, membership: Membership, team: bytes, add: Add, rebuilds: Rebuilds | None = None) -> int:
    return _check(export, team, KML_FILE, add, rebuilds)


def _check(export: Path, team: bytes, name: str, add: Add, rebuilds: Rebuilds | None) -> int:
    path = export / name
    if not is_regular_file(path):
        return 0
    try:
        with ExitStack() as stack:
            shared = rebuilds or stack.enter_context(Rebuilds())
            expected = _rendered(shared.store(export, team))[name]
    except (ExportError, StoreError) as exc:
        add(Severity.WARNING, "places", f"{name} not checked: {exc}", where=name)
        return 0
    found = read_untrusted(path, MAX_FILE)
    lines = expected.count(b"\n")
    if found == expected:
        return lines
    want, have = expected.split(b"\n"), found.split(b"\n")
    at = next((i for i, (w, h) in enumerate(zip(want, have, strict=False)) if w != h), min(len(want), len(have)))
    shown = have[at][:120].decode("utf-8", "replace") if at < len(have) else "(the file ends here)"
    add(
        Severity.ERROR,
        "places-changed",
        f"{name} is not what the log gives: it differs from line {at + 1} on ({shown!r})",
        where=name,
    )
    return lines


def _places(store: Store) -> Places:
    source = operation_source(store)
    return places_of(source.data, source.team_name)


@lru_cache(maxsize=2)
def _rendered(store: Store) -> dict[str, bytes]:
    """Both files made from one shared rebuilt store (kept for the other file's check)."""
    return render(_places(store))
