"""Bundles carry files: the ones the other node lacks (its frontier says which it holds), less those above
``--max-file-size``; ``bundle import`` takes each in only if its chunks make the file its message names."""

from __future__ import annotations

import os
from pathlib import Path

from meshchat.blobs.store import BlobStore
from meshchat.export.bundlefiles import files_dir
from meshchat.profile import Profile
from meshchat.testing import run_cli, team_homes


def _files_of(home: Path) -> dict[str, bytes]:
    with Profile.open(home) as profile:
        messages = profile.views.messages(profile.room("general").room)
        return {f.name: f.blob for m in messages for f in m.files}


def test_a_bundle_carries_the_files_the_peer_lacks_up_to_a_size(tmp_path: Path) -> None:
    a, b = team_homes(tmp_path, 2)
    small, large = os.urandom(300_000), os.urandom(1_200_000)
    (tmp_path / "plan.pdf").write_bytes(small)
    (tmp_path / "video.mp4").write_bytes(large)
    run_cli(a, "post", "general", "the plan", "--attach", str(tmp_path / "plan.pdf"))
    run_cli(a, "post", "general", "the video", "--attach", str(tmp_path / "video.mp4"))
    run_cli(b, "bundle", "frontier", str(tmp_path / "b.frontier"))
    out = run_cli(
        a,
        "bundle",
        "export",
        str(tmp_path / "stick.bundle"),
        "--for",
        str(tmp_path / "b.frontier"),
        "--max-file-size",
        "1MB",
    ).stdout
    assert "and 1 attached files (300 KB)" in out and "left out 1 files larger than 1 MB (1.2 MB)" in out
    shown = run_cli(b, "bundle", "import", str(tmp_path / "stick.bundle")).stdout
    assert "stick.bundle.files/: 1 files taken in (every chunk checked against the file's id)" in shown
    blobs = BlobStore.of_home(b)
    files = _files_of(b)
    assert blobs.path_of(files["plan.pdf"]).read_bytes() == small and not blobs.has(files["video.mp4"])
    # B's next frontier says it holds the plan: the next bundle carries only what it still lacks.
    run_cli(b, "bundle", "frontier", str(tmp_path / "b.frontier"))
    again = run_cli(a, "bundle", "export", str(tmp_path / "next.bundle"), "--for", str(tmp_path / "b.frontier"))
    assert "and 1 attached files (1.2 MB)" in again.stdout
    assert [p.name for p in files_dir(tmp_path / "next.bundle").iterdir()] == [files["video.mp4"].hex()]


def test_bundle_import_refuses_a_file_whose_chunks_do_not_match_and_keeps_nothing_of_it(tmp_path: Path) -> None:
    a, b = team_homes(tmp_path, 2)
    data = os.urandom(700_000)
    (tmp_path / "map.png").write_bytes(data)
    (tmp_path / "list.txt").write_bytes(b"names of the evacuated")
    run_cli(a, "post", "general", "the map", "--attach", str(tmp_path / "map.png"))
    run_cli(a, "post", "general", "the list", "--attach", str(tmp_path / "list.txt"))
    run_cli(a, "bundle", "export", str(tmp_path / "stick.bundle"))
    files = _files_of(a)
    folder = files_dir(tmp_path / "stick.bundle")
    path = folder / files["map.png"].hex()
    changed = bytearray(path.read_bytes())
    changed[600_000] ^= 0x01  # one bit, in the last chunk
    path.write_bytes(bytes(changed))
    linked = folder / files["list.txt"].hex()  # the right bytes, but through a link: not followed
    (tmp_path / "elsewhere").write_bytes(linked.read_bytes())
    linked.unlink()
    linked.symlink_to(tmp_path / "elsewhere")
    (folder / ("ab" * 32)).write_bytes(b"a file no message carries")
    result = run_cli(b, "bundle", "import", str(tmp_path / "stick.bundle"), ok=False)
    assert result.returncode != 0
    assert "0 files taken in" in result.stdout and "3 refused" in result.stdout
    assert "(map.png): its chunks do not make the file its message names" in result.stdout
    assert "(list.txt): " in result.stdout and "link" in result.stdout
    assert "no message here carries this file" in result.stdout
    blobs = BlobStore.of_home(b)
    assert list(blobs.held()) == [] and list((blobs.root / "tmp").iterdir()) == []
    assert "the map" in run_cli(b, "log", "general").stdout  # the entries went in, checked as always
