"""Helpers for the export, bundle and verify tests: real profiles in temporary homes, and bundle surgery."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from meshchat.export import manifest
from meshchat.export.framing import StreamHeader, StreamWriter, read_entries, read_header
from meshchat.export.heads import write_heads
from meshchat.export.writer import ExportResult, export_store
from meshchat.identity import Identity
from meshchat.log.entry import Entry, decode_entry
from meshchat.profile import Profile

HOSTILE = (
    '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" \'single\' '
    '=HYPERLINK("http://evil") \u202eevil\u202c \x00\x1b[31m'
)


def found_team(root: Path, names: tuple[str, ...] = ("ana", "ben", "cy")) -> list[Profile]:
    """A team founded by the first name, every other name a member; everyone holds everything."""
    founder = Profile.init(root / names[0], "Flood response", display_name=names[0].title(), callsign="HQ1")
    members = []
    for name in names[1:]:
        member = Profile.create_joining(root / name, founder.team_id, founder.team_name, founder.network_key)
        founder.add_member(member.me, "member", name.title())
        members.append(member)
    for member in members:
        sync(founder, member)
        member.set_profile(member.store.membership.display_name(member.me))
    everyone = [founder, *members]
    for a in everyone:
        for b in everyone:
            if a is not b:
                sync(a, b)
    return everyone


def sync(source: Profile, target: Profile) -> None:
    """What a network sync does: the target takes every entry and fork proof of the source."""
    target.store.accept_batch(list(source.store.iter_raw()))
    for _, other in source.store.fork_proofs():
        target.store.accept(other)


def export(profile: Profile, out: Path, *, heads: bool = True) -> ExportResult:
    written = write_heads(profile) if heads else []
    return export_store(profile.store, profile.identity, out, heads_entry=written[-1] if written else None)


@dataclass(frozen=True)
class LogFrame:
    index: int
    offset: int
    data: bytes
    entry: Entry


def frames(path: Path) -> tuple[StreamHeader, list[LogFrame]]:
    """The header and entries of a log stream, with where each frame starts."""
    with path.open("rb") as f:
        header = read_header(f, where=path.name)
        out = [
            LogFrame(fr.index, fr.offset, fr.data, decode_entry(fr.data)) for fr in read_entries(f, header, where="")
        ]
    return header, out


def rewrite_log(export_dir: Path, raws: list[bytes], name: str = manifest.LOG_FILE) -> None:
    """Write a log stream holding exactly ``raws`` (the header's count fixed up), as a careful forger would."""
    path = export_dir / name
    with path.open("rb") as f:
        header = read_header(f, where=name)
    fixed = StreamHeader(header.team, header.part, len(raws), header.made_by, header.made)
    with path.open("wb") as f:
        writer = StreamWriter(f, fixed)
        for raw in raws:
            writer.write(raw)


def resign(export_dir: Path, signer: Identity, **changes: object) -> None:
    """Recompute the manifest's file digests (and apply ``changes``) and sign it with ``signer``: a forger
    with a key of their own, covering their tracks as well as they can without the exporter's key."""
    for stream in (manifest.LOG_FILE, manifest.FORKS_FILE):  # the stream headers name the exporter too
        path = export_dir / stream
        with path.open("rb") as f:
            header = read_header(f, where=stream)
            raws = [fr.data for fr in read_entries(f, header, where=stream)]
        with path.open("wb") as f:
            writer = StreamWriter(f, StreamHeader(header.team, header.part, len(raws), signer.public_key, header.made))
            for raw in raws:
                writer.write(raw)
    doc = manifest.parse_json((export_dir / manifest.MANIFEST_FILE).read_bytes(), where="manifest")
    doc.update(changes)
    doc["exported_by"] = {**doc["exported_by"], "key": signer.public_key.hex()}
    for name in doc["files"]:
        size, digest = manifest.file_digest(export_dir / name)
        doc["files"][name] = {"bytes": size, "blake2b": digest}
    body = manifest.encode(doc)
    (export_dir / manifest.MANIFEST_FILE).write_bytes(body)
    (export_dir / manifest.SIGNATURE_FILE).write_bytes(manifest.sign(body, signer))


def copy_export(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


class Page(HTMLParser):
    """Tags and text of a page, as a browser's parser sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)
