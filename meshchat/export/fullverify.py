"""``verify_all``: what ``meshchat verify`` runs: every check of the evidence (``meshchat.export.verify``,
which needs only the bundle) and every data file compared with the log: ``operation.sqlite``,
``positions.geojson`` and ``positions.kml`` too (they need SQLite and the views, so they live outside the
verifier's import contract)."""

from __future__ import annotations

from pathlib import Path

from meshchat.export.operation import OPERATION_FILE
from meshchat.export.operation.check import check_operation
from meshchat.export.pins import Expected
from meshchat.export.places import GEOJSON_FILE, KML_FILE
from meshchat.export.places.check import check_geojson, check_kml
from meshchat.export.problems import VerifyReport
from meshchat.export.progress import Progress
from meshchat.export.verify import verify_export


def verify_all(
    path: Path, *, expected: Expected | None = None, progress: Progress | None = None, workers: int | None = None
) -> VerifyReport:
    """Verify an export (against the team and signer HQ pinned) and compare each of its data files with its
    log."""
    checks = {OPERATION_FILE: check_operation, GEOJSON_FILE: check_geojson, KML_FILE: check_kml}
    return verify_export(path, expected=expected, progress=progress, workers=workers, data_checks=checks)
