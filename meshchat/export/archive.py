"""Homes that hold the logs of several teams, one store per team: the HQ archive.

Layout (see docs/hq.md)::

    HOME/identity.key         this node's key: signs the manifests of exports made here (created on import)
    HOME/meshchat.db          the home's own team, when it is a member's profile (meshchat.profile)
    HOME/teams/<team-id>.db   one store per other team, named by the 64-hex-digit team id
    HOME/teams/<team-id>.blobs/  that team's files (a blob store: meshchat.blobs.store); the home's own team's
                              are in HOME/blobs, as on any node
    HOME/imports.jsonl        one line per import: when, what, from whom, what it did

Teams never share a store: a store holds one team's entries and refuses others' at the accept path, and the
file name is the team id, so two teams with the same name stay apart. Importing a team's exports from several
nodes into the archive merges them (union, through the accept path), and their files too: an import takes in
every file beside the entries (an export's ``attachments/``, a bundle's ``BUNDLE.files/``) that a message of
the team carries, each checked chunk by chunk against its id, so an export made from the archive holds them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshchat.blobs.store import BlobStore
from meshchat.errors import excerpt
from meshchat.export import manifest
from meshchat.export.attachments import ATTACHMENTS_DIR
from meshchat.export.bundle import ImportResult, import_stream, stream_entries
from meshchat.export.bundlefiles import files_dir, take_files
from meshchat.export.errors import ExportError
from meshchat.export.problems import VerifyReport
from meshchat.export.progress import Progress
from meshchat.export.verify import verify_export
from meshchat.files import UnsafeFileError
from meshchat.identity import Identity, IdentityError, load_identity, save_identity
from meshchat.log.entry import ID_SIZE
from meshchat.profile import IDENTITY_FILE, STORE_FILE
from meshchat.store import Store, StoreError

TEAMS_DIR = "teams"
BLOBS_SUFFIX = ".blobs"
IMPORT_LOG = "imports.jsonl"


@dataclass(frozen=True, slots=True)
class TeamStore:
    team_id: bytes
    path: Path
    name: str
    entries: int


@dataclass(frozen=True, slots=True)
class Verification:
    """How the exports imported for one team fared in ``verify`` (from ``imports.jsonl``)."""

    exports: int = 0  # export directories imported
    failed: int = 0  # of those, how many did not verify
    bundles: int = 0  # bundles imported (no manifest: each entry checked by the accept path, nothing more)
    last: str = ""  # when the last import was, UTC

    @property
    def text(self) -> str:
        """One line for ``meshchat teams``."""
        if self.failed:
            return f"FAILED: {self.failed} of {self.exports} exports did not verify (see imports.jsonl)"
        if self.exports:
            plural = "s" if self.exports > 1 else ""
            extra = f" and {self.bundles} bundles" if self.bundles else ""
            return f"verified: {self.exports} export{plural}{extra}, last imported {self.last}"
        if self.bundles:
            return "not verified: bundles only (each entry checked on import; completeness unknown)"
        return "this home's own team (its store, not an import)"


class Home:
    """A home directory seen as a set of team stores."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def own_store_path(self) -> Path:
        return self.path / STORE_FILE

    def team_path(self, team_id: bytes) -> Path:
        return self.path / TEAMS_DIR / f"{team_id.hex()}.db"

    def store_path(self, team_id: bytes) -> Path | None:
        """Where this home keeps ``team_id``'s log, if it holds it."""
        if self.own_store_path.exists():
            with _open(self.own_store_path) as own:
                if own.team_id == team_id:
                    return self.own_store_path
        path = self.team_path(team_id)
        return path if path.exists() else None

    def blob_store(self, team_id: bytes) -> BlobStore:
        """Where this home keeps ``team_id``'s files (made on the first file taken in)."""
        if self.own_store_path.exists():
            with _open(self.own_store_path) as own:
                if own.team_id == team_id:
                    return BlobStore.of_home(self.path)
        return BlobStore(self.path / TEAMS_DIR / f"{team_id.hex()}{BLOBS_SUFFIX}")

    def open_store(self, team_id: bytes, *, create: bool = False) -> Store:
        path = self.store_path(team_id)
        if path is not None:
            return _open(path)
        if not create:
            raise ExportError(f"{self.path} holds no log of team {team_id.hex()}")
        path = self.team_path(team_id)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            store = Store.create(path, team_id)
        except StoreError as exc:
            raise ExportError(str(exc)) from None
        store.set_meta("receipts", "off")  # when HQ imported an entry says nothing about when the team had it
        return store

    def teams(self) -> list[TeamStore]:
        """Every team this home holds, its own first."""
        paths = [self.own_store_path] if self.own_store_path.exists() else []
        folder = self.path / TEAMS_DIR
        if folder.is_dir():
            paths += sorted(p for p in folder.glob("*.db") if _is_team_file(p.stem))
        out = []
        for path in paths:
            with _open(path) as store:
                out.append(TeamStore(store.team_id, path, team_name(store), store.count()))
        return out

    def find_team(self, text: str) -> TeamStore:
        """A team by exact name (case-insensitive), else by the start of its name (``flood`` for "Flood
        response", if no other team's name starts so), else by a hex prefix of its id (at least 4 digits)."""
        teams = self.teams()
        needle = text.strip().lower()
        by_name = [t for t in teams if t.name.lower() == needle]
        by_start = [t for t in teams if needle and t.name.lower().startswith(needle)]
        by_id = [t for t in teams if len(needle) >= 4 and t.team_id.hex().startswith(needle)]
        matches = by_name or (by_start if len(by_start) == 1 else []) or by_id or by_start
        if len(matches) != 1:
            listing = ", ".join(f"{t.name or '?'} ({t.team_id.hex()[:8]})" for t in teams) or "none"
            what = "several teams match" if matches else "no team matches"
            raise ExportError(f"{what} {excerpt(text)} in {self.path} (teams: {listing})")
        return matches[0]

    def identity(self, *, create: bool = False) -> Identity:
        """The home's own key; an archive gets one on first import."""
        path = self.path / IDENTITY_FILE
        if create and not path.exists():
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            save_identity(Identity.generate(), path)
        try:
            return load_identity(path)
        except IdentityError as exc:
            raise ExportError(str(exc)) from None

    def import_path(self, source: Path, *, progress: Progress | None = None) -> ImportResult:
        """Import an export directory or a bundle file into the store of its team (created if new). An
        export is verified first (the checks of the evidence, ``verify_export``) and the outcome recorded in
        ``imports.jsonl`` and on the result: its entries go in either way, each through the accept path, but
        ``meshchat teams`` says which teams rest on an export that did not verify."""
        progress = progress or Progress.silent()
        if not os.path.lexists(source):
            raise ExportError(f"{source} does not exist (give an export directory or a bundle file)")
        digest = _manifest_digest(source)  # first: a manifest that is a pipe or a link stops the import here
        self.identity(create=True)
        report: VerifyReport | None = None
        if source.is_dir() and (source / manifest.MANIFEST_FILE).exists():
            report = verify_export(source, progress=progress)
        if source.is_dir():
            parts: list[tuple[Path, tuple[str, ...]]] = [
                (source / manifest.LOG_FILE, ("chains",)),
                (source / manifest.FORKS_FILE, ("forks",)),
            ]
            if not parts[0][0].exists():
                raise ExportError(f"{source} is not a meshchat export (no {manifest.LOG_FILE})")
            files = source / ATTACHMENTS_DIR
        else:
            parts = [(source, ("bundle", "chains", "forks"))]
            files = files_dir(source)
        result: ImportResult | None = None
        for path, kinds in parts:
            if not os.path.lexists(path):  # a forks.msgpack that is a link, a pipe or a device is refused, not skipped
                continue
            header, entries = stream_entries(path, parts=kinds)
            with self.open_store(header.team, create=True) as store:
                progress.stage(f"importing {path.name}", header.entries)
                part = import_stream(store, entries, progress=progress)
                progress.done()
                if not store.get_meta("team_name"):
                    name = team_name(store)
                    if name:
                        store.set_meta("team_name", name)
            if result is None:
                result = part
            elif part.team != result.team:
                raise ExportError(f"{source}: its files belong to different teams")
            else:
                result.merge(part)
        assert result is not None
        result.verified = report
        if os.path.lexists(files):  # after the entries: a file is taken only if one of the team's messages carries it
            with self.open_store(result.team) as store:
                result.files = take_files(store, self.blob_store(result.team), files, progress=progress)
        self._log_import(source, result, digest)
        return result

    def verification(self) -> dict[bytes, Verification]:
        """Per team, how the imports into this home were verified (``imports.jsonl``; lines it cannot read
        are skipped: the log is this home's own notes, not evidence)."""
        counts: dict[bytes, dict[str, Any]] = {}
        try:
            lines = (self.path / IMPORT_LOG).read_text(encoding="utf-8").splitlines()
        except OSError:
            lines = []
        for text in lines:
            try:
                line = json.loads(text)
                team = bytes.fromhex(line["team"])
            except (ValueError, KeyError, TypeError):
                continue
            state = counts.setdefault(team, {"exports": 0, "failed": 0, "bundles": 0, "last": ""})
            verified = line.get("verified")
            if isinstance(verified, dict):
                state["exports"] += 1
                state["failed"] += 0 if verified.get("ok") is True else 1
            else:
                state["bundles"] += 1
            state["last"] = str(line.get("at_utc", ""))
        return {team: Verification(**state) for team, state in counts.items()}

    def _log_import(self, source: Path, result: ImportResult, digest: str | None) -> None:
        line = {
            "at_utc": manifest.utc_text(int(time.time() * 1000)),
            "source": str(source.resolve()),
            "team": result.team.hex(),
            "manifest_blake2b": digest,
            "counts": {str(k): v for k, v in sorted(result.counts.items())},
            "verified": _verified(result.verified) if result.verified is not None else None,
        }
        with (self.path / IMPORT_LOG).open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")


def team_name(store: Store) -> str:
    """The team's name as its genesis entry says (the only authoritative place), else the stored setting."""
    founder = store.membership.founder
    genesis = store.entry(founder, 1) if founder else None
    name = genesis.body().get("name") if genesis and genesis.id == store.team_id else None
    return name if isinstance(name, str) else str(store.get_meta("team_name") or "")


def _manifest_digest(source: Path) -> str | None:
    """The digest of an export's manifest (``None`` for a bundle, or an export without one)."""
    if not source.is_dir() or not os.path.lexists(source / manifest.MANIFEST_FILE):
        return None
    try:
        return manifest.file_digest(source / manifest.MANIFEST_FILE)[1]
    except UnsafeFileError as exc:
        raise ExportError(str(exc)) from None


def _verified(report: VerifyReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "signer": report.exported_by.hex() if report.exported_by else None,
        "signer_role": report.signer_role,
    }


def _open(path: Path) -> Store:
    try:
        return Store.open(path)
    except StoreError as exc:
        raise ExportError(str(exc)) from None


def _is_team_file(stem: str) -> bool:
    return len(stem) == 2 * ID_SIZE and all(c in "0123456789abcdef" for c in stem)
