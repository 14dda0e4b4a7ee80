"""The command line: post --attach, the files list with this node's limits, save; refusals name the limit."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from meshchat.blobs.settings import requested
from meshchat.blobs.store import BlobStore
from meshchat.profile import Profile
from meshchat.testing import run_cli


def test_post_attach_then_files_and_save(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    run_cli(home, "init", "--team", "Flood", "--name", "Ana")
    Image.new("RGB", (640, 480), (10, 120, 30)).save(tmp_path / "breach.jpg", "JPEG")
    plan = os.urandom(300_000)
    (tmp_path / "plan.pdf").write_bytes(plan)
    posted = run_cli(
        home,
        "post",
        "general",
        "Breach at km 4",
        "--attach",
        str(tmp_path / "breach.jpg"),
        "--attach",
        str(tmp_path / "plan.pdf"),
    ).stdout
    assert "attached breach.jpg" in posted and "image/jpeg" in posted and "attached plan.pdf (300 KB" in posted
    log = run_cli(home, "log", "general").stdout
    assert "Breach at km 4" in log
    assert "+ breach.jpg" in log and "image/jpeg 640x480  here" in log and "+ plan.pdf  300 KB  application/pdf" in log
    with Profile.open(home) as profile:
        (message,) = [m for m in profile.views.messages(profile.room("general").room) if m.files]
        assert [f.name for f in message.files] == ["breach.jpg", "plan.pdf"]
        assert message.files[0].thumb is not None
    pdf = message.files[1]
    run_cli(home, "save", pdf.blob.hex()[:10], str(tmp_path / "copy.pdf"))
    assert (tmp_path / "copy.pdf").read_bytes() == plan
    again = run_cli(home, "save", pdf.blob.hex()[:10], str(tmp_path / "copy.pdf"), ok=False)
    assert again.returncode == 2 and "exists already" in again.stderr
    (tmp_path / "out").mkdir()
    run_cli(home, "save", message.id.hex()[:8], str(tmp_path / "out"), ok=False)  # two files: which one?
    run_cli(home, "save", message.files[0].blob.hex()[:8], str(tmp_path / "out"))
    assert (tmp_path / "out" / "breach.jpg").is_file()
    exported = run_cli(home, "export", "--out", str(tmp_path / "export")).stdout
    assert "attachments: 2 files copied; 0 not fetched by this node" in exported
    verified = run_cli(home, "verify", str(tmp_path / "export")).stdout
    assert "files      2 attached files checked against their ids; 0 carried by messages but not in the export" in (
        verified
    )


def test_the_limit_is_this_nodes_and_a_refusal_names_it(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    run_cli(home, "init", "--team", "Flood", "--name", "Ana")
    shown = run_cli(home, "files").stdout
    assert "attach up to 100 MB; fetch up to 25 MB without being asked" in shown
    assert (
        "attach up to 1 MB; fetch up to 512 KB"
        in run_cli(home, "files", "--max-attach", "1MB", "--auto-fetch", "512k").stdout
    )
    (tmp_path / "video.mp4").write_bytes(b"\x00" * 1_500_000)
    refused = run_cli(home, "post", "general", "video", "--attach", str(tmp_path / "video.mp4"), ok=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "meshchat: video.mp4 is 1.5 MB; attachments are at most 1 MB"
    assert "video" not in run_cli(home, "log", "general").stdout  # nothing was posted
    bad = run_cli(home, "files", "--max-attach", "lots", ok=False)
    assert bad.returncode == 2 and "not a size" in bad.stderr
    missing = run_cli(home, "post", "nowhere", "x", "--attach", str(tmp_path / "video.mp4"), ok=False)
    assert "no room 'nowhere'" in missing.stderr


def test_fetch_asks_the_node_and_says_when_none_runs(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    run_cli(home, "init", "--team", "Flood", "--name", "Ana")
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    run_cli(home, "post", "general", "file", "--attach", str(tmp_path / "a.bin"))
    blob = run_cli(home, "files").stdout.split("blob ")[1][:16]
    assert "is here already" in run_cli(home, "fetch", blob).stdout
    with Profile.open(home) as profile:
        (message,) = [m for m in profile.views.messages(profile.room("general").room) if m.files]
    BlobStore.of_home(home).path_of(message.files[0].blob).unlink()  # as if it had never been fetched
    asked = run_cli(home, "fetch", blob).stdout
    assert "asked for a.bin (1 KB)" in asked and "no node is running" in asked
    with Profile.open(home) as profile:
        assert requested(profile.store) == [message.files[0].blob]
