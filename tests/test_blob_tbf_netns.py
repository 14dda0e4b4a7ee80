"""Text first, over a real slow link: while a 50 MB file crosses 256 kbit/s (``tc tbf`` between network
namespaces the test creates), short messages posted meanwhile arrive within a few seconds.

Two nodes as processes (``bench/lab_node.py``), A in one namespace, B in another, each one's uplink limited
to 256 kbit/s. A holds a post with a 50 MB file; B fetches it unasked (its limit raised to 60 MB) and, while
the file crosses (it would take about 27 minutes), A posts three short messages. The in-process version of
this, in virtual time, is ``tests/test_blob_sync.py``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netlab import NetLab, lab_unavailable_reason

from meshchat.blobs.attach import attach_files
from meshchat.blobs.settings import BlobSettings
from meshchat.blobs.store import BlobStore
from meshchat.profile import Profile
from meshchat.testing import team_homes, wait_until_sync

pytestmark = pytest.mark.skipif(bool(lab_unavailable_reason()), reason=lab_unavailable_reason() or "")
LAB_NODE = str(Path(__file__).resolve().parent.parent / "bench" / "lab_node.py")
PORT = 7000
SIZE = 50_000_000
POSTS_AT = (10.0, 14.0, 18.0)  # seconds after the start: the file is crossing by then
DEADLINE = 5.0  # "within a few seconds"


def test_messages_arrive_within_seconds_while_a_50_mb_file_crosses_256_kbit(tmp_path: Path) -> None:
    a_home, b_home = team_homes(tmp_path, 2)
    source = tmp_path / "survey.bin"
    with source.open("wb") as f:
        f.write(os.urandom(SIZE))
    with Profile.open(a_home) as a:
        (file,) = attach_files(BlobStore.of_home(a_home), [source], max_size=SIZE)
        a.post("general", "the survey", files=[file])
    source.unlink()
    with Profile.open(b_home) as b:
        BlobSettings(max_attach=SIZE, auto_fetch=60_000_000).save(b.store)
    go = tmp_path / "go"
    with NetLab() as lab:
        a_host, b_host = lab.add_host("a"), lab.add_host("b")
        lab.rate_limit(a_host, 256)
        lab.rate_limit(b_host, 256)
        spec_a = {"home": str(a_home), "listen": f"{a_host.ip}:{PORT}", "go": str(go), "at": list(POSTS_AT)}
        spec_b = {"home": str(b_home), "listen": f"{b_host.ip}:{PORT}", "peers": [f"{a_host.ip}:{PORT}"], "go": str(go)}
        node_a = lab.start(a_host, sys.executable, LAB_NODE, json.dumps(spec_a), stdout=subprocess.PIPE)
        assert node_a.stdout is not None and b"up" in node_a.stdout.readline()
        node_b = lab.start(b_host, sys.executable, LAB_NODE, json.dumps(spec_b), stdout=subprocess.PIPE)
        assert node_b.stdout is not None and b"up" in node_b.stdout.readline()
        go.touch()
        posted: dict[str, float] = {}
        for _ in POSTS_AT:
            event = json.loads(node_a.stdout.readline())
            posted[event["posted"]] = event["wall"]
            arrived = _wait_for(b_home, event["posted"], timeout=30.0)
            assert arrived - event["wall"] < DEADLINE, f"{arrived - event['wall']:.1f} s for {event['posted']!r}"
        blobs = BlobStore.of_home(b_home)
        held = blobs.fraction_held(file.blob, file.size)
        assert 0 < held < 0.2, f"the file was not crossing ({held:.0%} of it at B)"  # ~0.5 MB of 50 by now


def _wait_for(home: Path, text: str, *, timeout: float) -> float:
    """When B's store first held a post with ``text`` (polled every 50 ms)."""
    db = sqlite3.connect(f"file:{home / 'meshchat.db'}?mode=ro", uri=True, timeout=10)
    try:
        held = "SELECT 1 FROM entries WHERE instr(raw, ?) > 0"
        wait_until_sync(lambda: db.execute(held, (text.encode(),)).fetchone(), timeout, what=f"{text!r} at B")
        return time.time()
    finally:
        db.close()
