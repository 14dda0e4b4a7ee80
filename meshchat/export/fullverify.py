"""``verify_all``: what ``meshchat verify`` runs: every check of the evidence (``meshchat.export.verify``,
which needs only the bundle) and every data file compared with the log, ``operation.sqlite`` included (which
needs SQLite and the views, so it lives outside the verifier's import contract)."""

from __future__ import annotations

from pathlib import Path

from meshchat.export.operation import OPERATION_FILE
from meshchat.export.operation.check import check_operation
from meshchat.export.problems import VerifyReport
from meshchat.export.progress import Progress
from meshchat.export.verify import verify_export


def verify_all(path: Path, *, progress: Progress | None = None, workers: int | None = None) -> VerifyReport:
    """Verify an export and compare each of its data files with its log."""
    return verify_export(path, progress=progress, workers=workers, data_checks={OPERATION_FILE: check_operation})
