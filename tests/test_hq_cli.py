"""The HQ commands as a person uses them: real processes, real directories, exit codes, no tracebacks."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

from meshchat.export import manifest
from meshchat.export.progress import Progress
from meshchat.testing import run_cli as meshchat


def test_export_verify_import_from_the_command_line(tmp_path: Path) -> None:
    home, out = tmp_path / "ana", tmp_path / "usb" / "export"
    out.parent.mkdir()
    meshchat(home, "init", "--team", "Flood response", "--name", "Ana")
    meshchat(home, "post", "general", "Water rising at the north levee")
    meshchat(home, "incident", "open", "Levee breach", "--severity", "2")
    printed = meshchat(home, "export", "--out", str(out)).stdout
    assert "meshchat verify" in printed and (out / "timeline.html").exists()

    nobody = tmp_path / "no-home"  # verify needs nothing but the export
    checked = meshchat(nobody, "verify", str(out))
    assert "VERIFIED" in checked.stdout and "Flood response" in checked.stdout
    doc = json.loads(meshchat(nobody, "verify", "--json", str(out)).stdout)
    assert doc["ok"] is True and doc["entries"] == doc["signatures_checked"] > 0

    raw = bytearray((out / manifest.LOG_FILE).read_bytes())
    raw[raw.index(b"Water rising") + 1] ^= 0x01
    (out / manifest.LOG_FILE).write_bytes(bytes(raw))
    failed = meshchat(nobody, "verify", str(out), ok=False)
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout and "ERROR    malformed" in failed.stdout and "body_hash" in failed.stdout
    key = meshchat(home, "id").stdout.strip()
    assert f"{key[:16]}#" in failed.stdout  # the damaged entry, named by author and seq

    hq = tmp_path / "hq"
    fresh = tmp_path / "fresh"
    meshchat(home, "export", "--out", str(fresh), "--quiet")
    imported = meshchat(hq, "import", str(fresh)).stdout
    assert "0 rejected" in imported and "Flood response" in imported
    teams = meshchat(hq, "teams").stdout
    assert "Flood response" in teams
    from_hq = tmp_path / "from-hq"
    archived = meshchat(hq, "export", "--team", "flood response", "--out", str(from_hq)).stdout
    signer = re.search(r"--expect-signer ([0-9a-f]{32}) ", archived)
    assert signer, archived
    unpinned = meshchat(nobody, "verify", str(from_hq), ok=False)  # the archive is no member of the team
    assert unpinned.returncode == 1 and "signer-not-member" in unpinned.stdout
    assert "VERIFIED" in meshchat(nobody, "verify", "--expect-signer", signer.group(1), str(from_hq)).stdout


def test_clear_errors(tmp_path: Path) -> None:
    home = tmp_path / "h"
    meshchat(home, "init", "--team", "T")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    cases = [
        (("export", "--out", str(tmp_path / "full")), "not an empty directory"),
        (("export", "--out", str(tmp_path / "no" / "such" / "dir")), "does not exist"),
        (("export", "--out", str(tmp_path / "e"), "--room", "nowhere"), "no room 'nowhere'"),
        (("verify", str(tmp_path / "nothing")), "not a directory"),
        (("verify", str(tmp_path)), "not a meshchat export"),
        (("bundle", "import", str(tmp_path / "missing.bundle")), "does not exist"),
        (("import", str(tmp_path / "full")), "not a meshchat export"),
        (("export", "--out", str(tmp_path / "e2"), "--team", "zzzz"), "no team matches"),
    ]
    for args, message in cases:
        result = meshchat(home, *args, ok=False)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    bad_since = meshchat(home, "export", "--out", str(tmp_path / "e3"), "--since", "yesterday", ok=False)
    assert bad_since.returncode == 2 and "not a time" in bad_since.stderr


def test_progress_reports_large_stages_and_keeps_quiet_when_asked() -> None:
    stream = io.StringIO()
    progress = Progress(stream, delay=0)
    progress.stage("writing log.msgpack", 1000)
    for _ in range(1000):
        progress.advance()
    progress.done()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "writing log.msgpack: 1/1,000 (0%)"  # once the delay has passed
    assert lines[1] == "writing log.msgpack: 100/1,000 (10%)" and lines[-1].endswith("1,000/1,000 (100%)")
    assert len(lines) == 11  # then one line per 10%
    quiet = io.StringIO()
    progress = Progress(quiet, quiet=True, delay=0)
    progress.stage("x", 10)
    progress.advance(10)
    progress.done()
    assert quiet.getvalue() == ""
    slow_only = io.StringIO()
    progress = Progress(slow_only)  # the default: stages that finish within half a second print nothing
    progress.stage("quick", 10)
    progress.advance(10)
    progress.done()
    assert slow_only.getvalue() == ""


def test_an_hq_archive_reads_like_a_home(tmp_path: Path) -> None:
    """``--team`` opens one team of an archive for the reading commands; ``teams`` says how each was verified."""
    flood, fire, hq = tmp_path / "flood", tmp_path / "fire", tmp_path / "hq"
    meshchat(flood, "init", "--team", "Flood response", "--name", "Ana")
    meshchat(flood, "post", "general", "Water rising at the north levee")
    meshchat(flood, "incident", "open", "Levee breach", "--severity", "1")
    meshchat(flood, "checkin", "request", "general")
    meshchat(fire, "init", "--team", "Wildfire", "--name", "Bo")
    meshchat(fire, "post", "general", "Smoke over the ridge")
    meshchat(flood, "export", "--out", str(tmp_path / "flood-usb"), "--quiet")
    meshchat(fire, "export", "--out", str(tmp_path / "fire-usb"), "--quiet")
    forged = tmp_path / "fire-forged"
    shutil.copytree(tmp_path / "fire-usb", forged)
    (forged / "timeline.html").write_text("<p>nothing happened</p>")
    meshchat(fire, "bundle", "export", str(tmp_path / "fire.bundle"), "--quiet")
    imported = meshchat(hq, "import", str(tmp_path / "flood-usb"), str(forged), ok=False)
    assert imported.returncode == 1 and "FAILED verification (1 error)" in imported.stdout
    assert "verified, signed by" in imported.stdout

    log = meshchat(hq, "log", "--team", "flood response").stdout
    assert "Water rising at the north levee" in log and "Smoke" not in log
    board = meshchat(hq, "incident", "list", "--team", "Flood response").stdout
    assert "S1 critical" in board and "Levee breach" in board
    assert "Check in: are you safe?" in meshchat(hq, "checkin", "list", "--team", "flood response").stdout
    assert "Bo" in meshchat(hq, "members", "--team", "wild").stdout  # the start of a name is enough
    unsure = meshchat(hq, "log", ok=False)
    assert unsure.returncode == 2 and "archive of 2 teams: choose one with --team" in unsure.stderr

    meshchat(hq, "import", str(tmp_path / "fire.bundle"))
    teams = meshchat(hq, "teams").stdout
    flood_line, fire_line = (teams[teams.index(name) :].splitlines()[1] for name in ("Flood response", "Wildfire"))
    assert "verified: 1 export" in flood_line
    assert "FAILED: 1 of 1 exports did not verify" in fire_line
