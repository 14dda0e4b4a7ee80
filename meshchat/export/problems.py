"""What ``verify`` finds: problems that name the exact entry, and the report that collects them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class Severity(StrEnum):
    ERROR = "error"  # the bundle is not intact or not complete: verification fails
    WARNING = "warning"  # intact, but HQ must look: forks, writes after a removal, files nobody vouched for
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding. ``author``, ``seq`` and ``id`` name the entry when it can be named; ``where`` says where
    in which file it was found."""

    severity: Severity
    code: str
    message: str
    author: bytes | None = None
    seq: int | None = None
    id: bytes | None = None
    where: str = ""

    def entry_text(self, names: dict[bytes, str]) -> str:
        """``ana a1b2c3d4e5f60718#17 id 0e9f...`` (full id), ``ana a1b2c3d4e5f60718`` for an author alone, or
        ``""`` when no entry is named."""
        if self.author is None:
            return ""
        who = names.get(self.author, "")
        text = f"{who + ' ' if who else ''}{self.author.hex()[:16]}"
        if self.seq is not None or self.id is not None:  # an author alone (missing-author) has no entry to name
            text += f"#{self.seq if self.seq is not None else '?'}"
        if self.id is not None:
            text += f" id {self.id.hex()}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
            "author": self.author.hex() if self.author else None,
            "seq": self.seq,
            "id": self.id.hex() if self.id else None,
            "where": self.where,
        }


@dataclass(frozen=True, slots=True)
class RetractionInfo:
    author: bytes
    seq: int
    id: bytes
    target: bytes
    target_author: bytes | None  # None when the target is not in the bundle
    target_seq: int | None
    effective: bool


@dataclass
class VerifyReport:
    path: Path
    team_id: bytes | None = None
    team_name: str = ""
    exported_by: bytes | None = None
    exported_at: int | None = None
    signer_role: str = ""
    expected_team: str | None = None  # what HQ pinned (hex prefixes), None when not pinned
    expected_signer: str | None = None
    entries: int = 0
    authors: int = 0
    fork_proofs: int = 0
    signatures_checked: int = 0
    heads_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    retractions: list[RetractionInfo] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    names: dict[bytes, str] = field(default_factory=dict)
    roles: dict[bytes, str] = field(default_factory=dict)  # owner, admin, member, observer, removed, unknown
    data_checked: dict[str, int] = field(default_factory=dict)  # data file -> lines or rows compared with the log
    attachments_held: int = 0  # attached files in the export, each checked against its id
    attachments_missing: int = 0  # files messages carry that the export does not hold (listed by id)

    def add(self, severity: Severity, code: str, message: str, **entry: Any) -> None:
        self.problems.append(Problem(severity, code, message, **entry))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def has(self, code: str) -> bool:
        return any(p.code == code for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ok": self.ok,
            "team": {"id": self.team_id.hex() if self.team_id else None, "name": self.team_name},
            "exported_by": self.exported_by.hex() if self.exported_by else None,
            "exported_at": self.exported_at,
            "signer_role": self.signer_role,
            "expected": {"team": self.expected_team, "signer": self.expected_signer},
            "entries": self.entries,
            "authors": self.authors,
            "fork_proofs": self.fork_proofs,
            "signatures_checked": self.signatures_checked,
            "heads_checked": self.heads_checked,
            "data_checked": dict(sorted(self.data_checked.items())),
            "kinds": dict(sorted(self.kinds.items())),
            "authors_by_role": {
                role: sorted(k.hex() for k, r in self.roles.items() if r == role)
                for role in sorted(set(self.roles.values()))
            },
            "problems": [p.to_json() for p in self.problems],
            "retractions": [
                {
                    "author": r.author.hex(),
                    "seq": r.seq,
                    "id": r.id.hex(),
                    "target": r.target.hex(),
                    "target_author": r.target_author.hex() if r.target_author else None,
                    "target_seq": r.target_seq,
                    "effective": r.effective,
                }
                for r in self.retractions
            ],
        }
