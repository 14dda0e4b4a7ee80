"""timeline.html in a real browser (Debian chromium, headless): it opens from a file with no network and
shows the operation; hostile text stays text. The screenshot is kept in ``artifacts/`` for people to look at.

CI (``.ci/run``, as root) installs chromium first, so there this test fails rather than skips when chromium
is missing. A developer who is not root and has no chromium gets a skip saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from export_support import HOSTILE, Page, export, found_team, sync

from meshchat.export.reports.text import clean

ARTIFACTS = Path(os.environ.get("MESHCHAT_ARTIFACTS", Path(__file__).resolve().parent.parent / "artifacts"))
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("Debian chromium is not installed: 'sudo apt-get install -y chromium' (CI installs it)")
    pytest.fail("chromium is missing; .ci/run installs it with apt-get before 'make test'")


def browse(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def png_facts(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct bytes in the pixel data of a PNG (a blank page has ~2)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_timeline_opens_offline_in_chromium_and_shows_the_operation(tmp_path: Path) -> None:
    ana, ben, cy = found_team(tmp_path / "nodes")
    try:
        incident = ana.open_incident("Levee breach", 2, location="north dam")
        sync(ana, ben)
        sync(ana, cy)
        ben.post("general", "Water rising at the north levee")
        cy.post("general", HOSTILE)
        wrong = cy.post("general", "Wrong sector, ignore this")
        cy.retract(wrong.id)
        sync(ben, ana)
        sync(cy, ana)
        ana.post("general", "Evacuate sector 4", flash=True)
        checkin = ana.request_checkin("general", "Roll call: are you safe?")
        sync(ana, ben)
        ben.reply_checkin(checkin, "need_help", "stuck on the roof")
        sync(ben, ana)
        ana.update_incident(incident.hex(), {"status": "active", "commander": "Ana"})
        export(ana, tmp_path / "export")
    finally:
        for p in (ana, ben, cy):
            p.close()
    page = tmp_path / "export" / "timeline.html"

    dom = browse(page, tmp_path / "chrome-dom", "--dump-dom").stdout
    parsed = Page(dom)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    text = parsed.all_text
    for expected in (
        "Flood response",
        "Water rising at the north levee",
        "Evacuate sector 4",
        "FLASH",
        "Incident opened: Levee breach (S2 major) at north dam",
        "Incident Levee breach: status \u2192 active; commander \u2192 Ana",
        "Roll call: Roll call: are you safe?",
        "NEED HELP: stuck on the roof",
        "Wrong sector, ignore this",
        "RETRACTED by Cy",
        "acknowledged by nobody",
        clean(HOSTILE).splitlines()[0][:40],
    ):
        assert expected in text, expected
    assert '<tr class="message retracted">' in dom

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "timeline.png"
    shot.unlink(missing_ok=True)
    browse(page, tmp_path / "chrome-shot", f"--screenshot={shot}", "--window-size=1280,1600")
    width, height, distinct = png_facts(shot.read_bytes())
    assert (width, height) == (1280, 1600)
    assert distinct > 20, "the screenshot is blank"
