"""The manifest and the files of an export against the log: what the exporter vouched for must be what the
log and the directory hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meshchat.export import manifest
from meshchat.export.chains import Add, Chain
from meshchat.export.problems import Severity
from meshchat.files import UnsafeFileError
from meshchat.log.entry import ID_SIZE

E = Severity.ERROR
W = Severity.WARNING


def compare_manifest(doc: dict[str, Any], expected: dict[str, Any], chains: dict[bytes, Chain], add: Add) -> None:
    """What the manifest states against what the log gives (``expected``, from ``manifest.log_sections``)."""
    for name in ("team", "entries", "fork_proofs", "forks", "retractions"):
        if doc.get(name) != expected[name]:
            add(
                E,
                "manifest",
                f"the manifest's {name!r} does not match the log: "
                f"it says {_short(doc.get(name))}, the log gives {_short(expected[name])}",
                where=manifest.MANIFEST_FILE,
            )
    written = doc.get("heads_entry")
    if written is not None:
        author, eid = hex_field(written, "author", 32), hex_field(written, "id", ID_SIZE)
        seq = written.get("seq") if isinstance(written, dict) else None
        chain = chains.get(author) if author else None
        if chain is None or type(seq) is not int or chain.ids.get(seq) != eid:
            add(
                E,
                "missing-head",
                "the heads entry the exporter signed just before exporting is not in the log",
                author=author,
                seq=seq if type(seq) is int else None,
                id=eid,
            )
    stated = doc.get("authors")
    if not isinstance(stated, list) or not all(isinstance(a, dict) for a in stated):
        add(E, "manifest", "the manifest's 'authors' is malformed", where=manifest.MANIFEST_FILE)
        return
    by_key = {a.get("key"): a for a in stated}
    for actual in expected["authors"]:
        claim = by_key.pop(actual["key"], None)
        key = bytes.fromhex(actual["key"])
        if claim is None:
            add(
                E,
                "manifest",
                "an author of the log is missing from the manifest",
                author=key,
                seq=actual["head"][0],
                id=bytes.fromhex(actual["head"][1]),
            )
            continue
        if claim.get("head") != actual["head"] or claim.get("entries") != actual["entries"]:
            add(
                E,
                "manifest-head",
                f"the manifest says this is the author's head ({_short(claim.get('entries'))} entries); "
                f"the log's head is #{actual['head'][0]} id {actual['head'][1]} ({actual['entries']} entries)",
                author=key,
                **_named_head(claim),
            )
        for name in ("name", "callsign", "role"):
            if claim.get(name) != actual[name]:
                add(
                    E,
                    "manifest",
                    f"the manifest gives this author {name} {_short(claim.get(name))}, "
                    f"the log gives {_short(actual[name])}",
                    author=key,
                )
    for claim in by_key.values():
        stranger = hex_field(claim, "key", 32)
        add(
            E,
            "manifest-head",
            "the manifest names this author's head, but the log holds none of their entries",
            author=stranger,
            **_named_head(claim),
        )


def check_files(path: Path, doc: dict[str, Any], add: Add) -> None:
    """Every file the manifest lists, by size and digest; links, devices and pipes are not followed."""
    files = doc.get("files")
    if not isinstance(files, dict):
        add(E, "manifest", "the manifest lists no files", where=manifest.MANIFEST_FILE)
        return
    for required in (manifest.LOG_FILE, manifest.FORKS_FILE):
        if required not in files:
            add(E, "manifest", f"the manifest does not vouch for {required}", where=manifest.MANIFEST_FILE)
    listed = set()
    for name, stated in files.items():
        rel = manifest.safe_relative(name)
        if rel is None:
            add(E, "manifest", f"the manifest lists an unsafe path {name!r}; not read", where=manifest.MANIFEST_FILE)
            continue
        listed.add(rel)
        try:
            size, digest = manifest.file_digest(Path(rel), inside=path)
        except UnsafeFileError as exc:
            what = "missing" if exc.missing else f"not read: {exc}"
            add(E, "missing-file", f"{rel} is listed in the manifest but {what}", where=rel)
            continue
        if not isinstance(stated, dict) or stated.get("bytes") != size or stated.get("blake2b") != digest:
            add(
                E,
                "file-changed",
                f"{rel} is not the file the exporter signed (size or BLAKE2b digest differs)",
                where=rel,
            )
    for extra in sorted(p for p in path.rglob("*") if p.is_symlink() or not p.is_dir()):  # pipes too: not opened
        rel = extra.relative_to(path).as_posix()
        if rel not in listed and rel not in (manifest.MANIFEST_FILE, manifest.SIGNATURE_FILE):
            add(W, "extra-file", f"{rel} is not covered by the manifest (added after the export?)", where=rel)


def hex_field(value: object, name: str, size: int) -> bytes | None:
    if not isinstance(value, dict):
        return None
    text = value.get(name)
    if not isinstance(text, str) or len(text) != size * 2:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _named_head(claim: dict[str, Any]) -> dict[str, Any]:
    """The (seq, id) a manifest's author record names as head, if well-formed: the entry a truncated log lost."""
    head = claim.get("head")
    if isinstance(head, list) and len(head) == 2 and type(head[0]) is int and isinstance(head[1], str):
        try:
            return {"seq": head[0], "id": bytes.fromhex(head[1])}
        except ValueError:
            pass
    return {}


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."
