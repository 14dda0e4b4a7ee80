"""The manifest of an HQ export: what the exporting node vouches for, signed over the exact file bytes.

``manifest.json`` states the team, the authors with their entry counts and heads, the forks, the
retractions, who exported when, which report filter was used, and the size and BLAKE2b-256 digest of every
other file. ``manifest.sig`` holds an Ed25519 signature by the exporting node over
``b"meshchat/v1/manifest" + manifest.json`` *as stored*: the verifier never re-encodes the JSON to check it
(the Scuttlebutt lesson), so its canonical form only matters for reproducible exports, not for security.

The manifest is a convenience and a second witness, not the root of trust: every entry is signed by its
author, and ``verify`` checks the log on its own and then checks that the manifest agrees with it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import libnacl

from meshchat.export.errors import BundleFormatError
from meshchat.export.summary import AuthorHead, ForkRecord, Retraction, role_label
from meshchat.files import UnsafeFileError, open_untrusted, read_untrusted
from meshchat.log.entry import Signer
from meshchat.log.rules import Membership

FORMAT = "meshchat/export"
VERSION = 2  # 2: entries.jsonl lines carry each entry's effective clock and receipt time
READABLE_VERSIONS = (1, 2)  # what verify reads: a version 1 export verifies as it did
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
LOG_FILE = "log.msgpack"
FORKS_FILE = "forks.msgpack"
CONTEXT = b"meshchat/v1/manifest"
MAX_MANIFEST = 64 * 1024 * 1024
MAX_SIGNATURE_FILE = 4096
_SAFE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def log_sections(
    *,
    team_id: bytes,
    team_name: str,
    heads: Iterable[AuthorHead],
    forks: Iterable[ForkRecord],
    fork_proofs: int,
    retractions: Iterable[Retraction],
    membership: Membership,
) -> dict[str, Any]:
    """The part of the manifest that is a function of the log alone: the verifier recomputes it."""
    heads = list(heads)
    return {
        "team": {"id": team_id.hex(), "name": team_name},
        "entries": sum(h.entries for h in heads),
        "fork_proofs": fork_proofs,
        "authors": [
            {
                "key": h.key.hex(),
                "name": _member_field(membership, h.key, "name"),
                "callsign": _member_field(membership, h.key, "callsign"),
                "role": role_label(membership, h.key),
                "entries": h.entries,
                "head": [h.head_seq, h.head_id.hex()],
            }
            for h in heads
        ],
        "forks": [
            {"author": f.author.hex(), "seq": f.seq, "ids": sorted(i.hex() for i in f.ids)}
            for f in sorted(forks, key=lambda f: (f.author, f.seq))
        ],
        "retractions": [
            {"author": r.author.hex(), "seq": r.seq, "id": r.id.hex(), "target": r.target.hex()}
            for r in sorted(retractions, key=lambda r: (r.author, r.seq))
        ],
    }


def _member_field(membership: Membership, key: bytes, name: str) -> str:
    member = membership.members.get(key)
    return str(getattr(member, name)) if member is not None else ""


def utc_text(clock_ms: int) -> str:
    """``2026-11-25T07:10:42Z``: exports state times in UTC, so HQ in another time zone reads them right."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock_ms // 1000))


def encode(doc: dict[str, Any]) -> bytes:
    """Deterministic JSON (sorted keys, one-space indent, UTF-8): one log gives one manifest."""
    return (json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode()


def sign(manifest_bytes: bytes, signer: Signer) -> bytes:
    """The contents of ``manifest.sig`` for ``manifest_bytes``."""
    sig = signer.sign(CONTEXT + manifest_bytes)
    doc = {"alg": "ed25519", "context": CONTEXT.decode(), "key": signer.public_key.hex(), "sig": sig.hex()}
    return encode(doc)


@dataclass(frozen=True, slots=True)
class ManifestSignature:
    key: bytes
    sig: bytes

    def verifies(self, manifest_bytes: bytes) -> bool:
        """Whether ``sig`` is ``key``'s signature over the manifest's exact bytes."""
        try:
            libnacl.crypto_sign_verify_detached(self.sig, CONTEXT + manifest_bytes, self.key)
        except ValueError:
            return False
        return True


def parse_signature(data: bytes) -> ManifestSignature:
    doc = parse_json(data, where=SIGNATURE_FILE)
    if not isinstance(doc, dict) or doc.get("alg") != "ed25519" or doc.get("context") != CONTEXT.decode():
        raise BundleFormatError(f"{SIGNATURE_FILE} is not an ed25519 manifest signature")
    key, sig = _hex(doc.get("key"), 32, "key"), _hex(doc.get("sig"), 64, "sig")
    return ManifestSignature(key, sig)


def _hex(value: object, size: int, name: str) -> bytes:
    if not isinstance(value, str) or len(value) != size * 2 or not re.fullmatch(r"[0-9a-f]*", value):
        raise BundleFormatError(f"{SIGNATURE_FILE}: {name} must be {size * 2} lower-case hex digits")
    return bytes.fromhex(value)


def open_regular(path: Path) -> BinaryIO:
    """Open a file of a bundle the one safe way (:func:`meshchat.files.open_untrusted`): a stick may carry a
    ``log.msgpack`` that points at ``/dev/zero`` or is a pipe that blocks forever. Raises
    ``FileNotFoundError`` if absent, :class:`BundleFormatError` for anything else."""
    try:
        return open_untrusted(path)
    except UnsafeFileError as exc:
        if exc.missing:
            raise FileNotFoundError(str(exc)) from None
        raise BundleFormatError(f"{path.name}: {exc}") from None


def read_limited(path: Path, limit: int) -> bytes:
    """A whole file, refusing one larger than ``limit`` (a bundle is untrusted input)."""
    try:
        return read_untrusted(path, limit)
    except UnsafeFileError as exc:
        raise BundleFormatError(f"{path.name} is missing" if exc.missing else str(exc)) from None


def parse_json(data: bytes, *, where: str) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no floats, no NaN."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise BundleFormatError(f"{where}: key {key!r} appears twice")
            out[key] = value
        return out

    def no_float(text: str) -> Any:
        raise BundleFormatError(f"{where}: numbers must be integers (found {text})")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=pairs, parse_float=no_float, parse_constant=no_float)
    except UnicodeDecodeError:
        raise BundleFormatError(f"{where} is not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, BundleFormatError):
            raise
        raise BundleFormatError(f"{where} is not valid JSON: {exc}") from None


def file_digest(path: Path, *, inside: Path | None = None) -> tuple[int, str]:
    """Size and BLAKE2b-256 (hex) of a file, read in chunks; opened the one safe way (no links, no pipes:
    :class:`~meshchat.files.UnsafeFileError`), ``inside`` a directory if given."""
    digest = hashlib.blake2b(digest_size=32)
    size = 0
    with open_untrusted(path, inside=inside) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def safe_relative(name: object) -> str | None:
    """``name`` if it is a plain relative path inside the export (``ics214/x.html``), else ``None``: the
    manifest is untrusted, and a listed file must not lead the verifier outside the directory."""
    if not isinstance(name, str) or len(name) > 512:
        return None
    parts = name.split("/")
    if not 1 <= len(parts) <= 4 or not all(_SAFE_PART.fullmatch(p) and p not in (".", "..") for p in parts):
        return None
    return name
