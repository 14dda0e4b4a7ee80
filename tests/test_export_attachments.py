"""Attachments at HQ: the export copies every file its node holds, the signed manifest lists every file the
log's messages carry (those the node never fetched as missing, by id), ``verify`` checks each copied file
against its id; the timeline shows thumbnails and links, the CSV names the files, operation.sqlite has them."""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from export_support import found_team, resign, sync
from PIL import Image

from meshchat.blobs.attach import attach_files
from meshchat.blobs.store import BlobStore
from meshchat.export import manifest
from meshchat.export.archive import Home
from meshchat.export.attachments import attachment_path
from meshchat.export.fullverify import verify_all
from meshchat.export.heads import write_heads
from meshchat.export.operation import OPERATION_FILE
from meshchat.export.pins import Expected
from meshchat.export.problems import VerifyReport
from meshchat.export.writer import ExportResult, export_store
from meshchat.profile import Profile
from meshchat.testing import run_cli


@dataclass
class Scene:
    out: Path
    ana: Profile
    photo: bytes  # Ana's own photo: held, copied
    plan: bytes  # Ana's own PDF: held, copied
    far: bytes  # Ben's file: Ana's node never fetched it
    photo_bytes: bytes
    result: ExportResult


def _photo(path: Path) -> Path:
    image = Image.new("RGB", (800, 600), (10, 80, 160))
    image.paste((240, 220, 30), (100, 100, 300, 300))
    image.save(path, "JPEG", quality=90)
    return path


def _post_with(profile: Profile, text: str, *paths: Path) -> list[bytes]:
    files = attach_files(BlobStore.of_home(profile.home), list(paths), max_size=10**8, text=text)
    profile.post("general", text, files=files)
    return [f.blob for f in files]


def _export(profile: Profile, out: Path) -> ExportResult:
    heads = write_heads(profile)
    return export_store(
        profile.store, profile.identity, out, heads_entry=heads[-1], blobs=BlobStore.of_home(profile.home)
    )


def _verify(scene: Scene, out: Path | None = None) -> VerifyReport:
    return verify_all(out or scene.out, expected=Expected(signer=scene.ana.identity.public_key.hex()))


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("files")
    ana, ben, cy = found_team(root)
    (root / "plan.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(300_000))
    photo, plan = _post_with(ana, "Breach at km 4", _photo(root / "breach <km4>.jpg"), root / "plan.pdf")
    (root / "far.bin").write_bytes(os.urandom(1000))
    (far,) = _post_with(ben, "Ben's notes", root / "far.bin")
    sync(ben, ana)  # the entry, not the file: Ana's node never fetched it
    result = _export(ana, root / "export")
    photo_bytes = BlobStore.of_home(ana.home).path_of(photo).read_bytes()
    yield Scene(root / "export", ana, photo, plan, far, photo_bytes, result)
    for profile in (ana, ben, cy):
        profile.close()


def test_the_export_copies_what_its_node_holds_and_lists_the_rest_by_id(scene: Scene) -> None:
    doc = manifest.parse_json((scene.out / manifest.MANIFEST_FILE).read_bytes(), where="manifest")
    assert [a["blob"] for a in doc["attachments"]] == sorted(b.hex() for b in (scene.photo, scene.plan, scene.far))
    assert doc["attachment_files"] == {b.hex(): attachment_path(b) for b in sorted((scene.photo, scene.plan))}
    assert (scene.out / attachment_path(scene.photo)).read_bytes() == scene.photo_bytes
    assert not (scene.out / attachment_path(scene.far)).exists()
    assert scene.result.attachments_missing == 1 and len(scene.result.attachment_files) == 2
    report = _verify(scene)
    assert report.ok, report.errors
    assert (report.attachments_held, report.attachments_missing) == (2, 1)
    (missing,) = [p for p in report.warnings if p.code == "attachment-missing"]
    assert scene.far.hex() in missing.message


def test_a_copied_file_that_is_not_what_its_id_names_is_an_error_even_with_the_manifest_signed_again(
    scene: Scene, tmp_path: Path
) -> None:
    out = Path(shutil.copytree(scene.out, tmp_path / "export"))
    path = out / attachment_path(scene.photo)
    data = bytearray(path.read_bytes())
    data[500] ^= 0xFF
    path.write_bytes(bytes(data))
    resign(out, scene.ana.identity)  # the digests in the manifest follow the change: only the id can tell
    report = _verify(scene, out)
    assert [p.code for p in report.errors] == ["attachment-corrupt"]


def test_a_file_left_out_of_the_manifest_list_is_an_error(scene: Scene, tmp_path: Path) -> None:
    out = Path(shutil.copytree(scene.out, tmp_path / "export"))
    doc = manifest.parse_json((out / manifest.MANIFEST_FILE).read_bytes(), where="manifest")
    fewer = [a for a in doc["attachments"] if a["blob"] != scene.far.hex()]
    resign(out, scene.ana.identity, attachments=fewer)
    report = _verify(scene, out)
    assert any(p.code == "manifest" and "'attachments'" in p.message for p in report.errors)


def test_a_file_changed_on_the_exporting_disk_is_not_copied_but_listed_missing(scene: Scene, tmp_path: Path) -> None:
    home = Path(shutil.copytree(scene.ana.home, tmp_path / "ana"))
    blob_path = BlobStore.of_home(home).path_of(scene.plan)
    os.chmod(blob_path, 0o600)
    with blob_path.open("r+b") as f:
        f.seek(10)
        f.write(b"rot")
    with Profile.open(home) as ana:
        result = _export(ana, tmp_path / "export")
    assert result.attachments_missing == 2 and not (tmp_path / "export" / attachment_path(scene.plan)).exists()


def test_the_timeline_csv_and_operation_sqlite_name_the_files(scene: Scene) -> None:
    page = (scene.out / "timeline.html").read_text(encoding="utf-8")
    assert 'src="data:image/jpeg;base64,' in page  # the thumbnail from the entry, inline
    assert f'href="{attachment_path(scene.photo)}" download="breach &lt;km4&gt;.jpg"' in page
    assert "breach &lt;km4&gt;.jpg" in page and "<km4>" not in page
    assert f"never fetched by the exporting node; file {scene.far.hex()}" in page
    with (scene.out / "messages.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = {r["text"]: r for r in csv.DictReader(f)}
    assert rows["Breach at km 4"]["files"].startswith("breach <km4>.jpg (")
    assert attachment_path(scene.plan) in rows["Breach at km 4"]["files"]
    assert f"not in this export, file {scene.far.hex()}" in rows["Ben's notes"]["files"]
    db = sqlite3.connect(f"file:{scene.out / OPERATION_FILE}?mode=ro", uri=True)
    try:
        found = db.execute(
            "SELECT m.text, a.position, a.name, a.type, a.width, a.size FROM attachments a "
            "JOIN messages m ON m.id = a.message ORDER BY m.clock_ms, a.position"
        ).fetchall()
    finally:
        db.close()
    assert [(t, p, n, ty, w) for t, p, n, ty, w, _ in found] == [
        ("Breach at km 4", 1, "breach <km4>.jpg", "image/jpeg", 800),
        ("Breach at km 4", 2, "plan.pdf", "application/pdf", None),
        ("Ben's notes", 1, "far.bin", "application/octet-stream", None),
    ]


def test_an_archive_keeps_the_files_it_imports_and_its_own_export_holds_them(scene: Scene, tmp_path: Path) -> None:
    """HQ imports Ana's export into its archive and exports the team again (`meshchat --home HQ export`): the
    files come along, each checked on the way in, and the archive's export holds them as Ana's did (it used to
    list every file as missing: the archive kept no files)."""
    hq = tmp_path / "hq"
    imported = run_cli(hq, "import", str(scene.out)).stdout
    assert "2 files taken in" in imported, imported
    again = tmp_path / "again"
    exported = run_cli(hq, "export", "--out", str(again)).stdout
    assert "2 files copied; 1 not fetched" in exported, exported
    doc = manifest.parse_json((again / manifest.MANIFEST_FILE).read_bytes(), where="manifest")
    assert doc["attachment_files"] == {b.hex(): attachment_path(b) for b in sorted((scene.photo, scene.plan))}
    assert (again / attachment_path(scene.photo)).read_bytes() == scene.photo_bytes
    report = verify_all(again, expected=Expected(signer=Home(hq).identity().public_key.hex()))
    assert report.ok, report.errors
    assert (report.attachments_held, report.attachments_missing) == (2, 1)


def test_an_archive_refuses_a_file_that_is_not_what_its_id_names(scene: Scene, tmp_path: Path) -> None:
    out = Path(shutil.copytree(scene.out, tmp_path / "export"))
    path = out / attachment_path(scene.photo)
    data = bytearray(path.read_bytes())
    data[500] ^= 0xFF
    path.write_bytes(bytes(data))
    resign(out, scene.ana.identity)
    hq = Home(tmp_path / "hq")
    result = hq.import_path(out)
    assert result.files is not None and result.files.taken == 1
    assert [why.split(":")[0] for why in result.files.refused] == [f"{scene.photo.hex()[:16]}… (breach <km4>.jpg)"]
    blobs = hq.blob_store(scene.ana.team_id)
    assert blobs.has(scene.plan) and not blobs.has(scene.photo)
