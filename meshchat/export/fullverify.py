"""``verify_all``: what ``meshchat verify`` runs: every check of the evidence (``meshchat.export.verify``,
which needs only the bundle) and every data file compared with the log: ``operation.sqlite``,
``positions.geojson`` and ``positions.kml`` too (they need SQLite and the views, so they live outside the
verifier's import contract)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from meshchat.export.chains import Add
from meshchat.export.entries import ENTRIES_FILE, check_entries
from meshchat.export.errors import ExportError
from meshchat.export.operation import OPERATION_FILE
from meshchat.export.operation.check import check_operation
from meshchat.export.pins import Expected
from meshchat.export.places import GEOJSON_FILE, KML_FILE
from meshchat.export.places.check import check_geojson, check_kml
from meshchat.export.problems import VerifyReport
from meshchat.export.progress import Progress
from meshchat.export.rebuild import Rebuilds
from meshchat.export.verify import DataCheck, verify_export
from meshchat.log.rules import Membership
from meshchat.store import StoreError


def verify_all(
    path: Path, *, expected: Expected | None = None, progress: Progress | None = None, workers: int | None = None
) -> VerifyReport:
    """Verify an export (against the team and signer HQ pinned) and compare each of its data files with its
    log; ``entries.jsonl`` with the entries' effective clocks too, from the log stored again (once, for every
    check that needs it)."""
    with Rebuilds() as rebuilds:
        checks: dict[str, DataCheck] = {
            ENTRIES_FILE: partial(_check_entries, rebuilds=rebuilds),
            OPERATION_FILE: partial(check_operation, rebuilds=rebuilds),
            GEOJSON_FILE: partial(check_geojson, rebuilds=rebuilds),
            KML_FILE: partial(check_kml, rebuilds=rebuilds),
        }
        return verify_export(path, expected=expected, progress=progress, workers=workers, data_checks=checks)


def _check_entries(export: Path, membership: Membership, team: bytes, add: Add, *, rebuilds: Rebuilds) -> int:
    """``entries.jsonl`` compared with the log, effective clocks included (for their form only if the log
    cannot be stored again: its errors are named by the checks of the evidence)."""
    try:
        effective = rebuilds.store(export, team).clocks.current().effective
    except (ExportError, StoreError):
        return check_entries(export, membership, team, add)
    return check_entries(export, membership, team, add, effective)
