"""Discovery over real mDNS between network namespaces that the test creates (and removes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.netlab import NetLab, lab_unavailable_reason

pytestmark = pytest.mark.skipif(bool(lab_unavailable_reason()), reason=lab_unavailable_reason() or "")
PROBE = str(Path(__file__).parent / "discovery_probe.py")


def lines(proc: subprocess.Popen[bytes]) -> list[dict[str, object]]:
    out, _ = proc.communicate(timeout=30)
    return [json.loads(line) for line in out.decode().splitlines()]


def test_teammates_find_each_other_strangers_do_not() -> None:
    team, other = "11" * 32, "22" * 32
    with NetLab() as lab:
        a, b, c = lab.add_host("a"), lab.add_host("b"), lab.add_host("c")
        pa = lab.start(a, sys.executable, PROBE, team, a.ip, "7001", "9", stdout=subprocess.PIPE)
        pb = lab.start(b, sys.executable, PROBE, team, b.ip, "7002", "4", stdout=subprocess.PIPE)
        pc = lab.start(c, sys.executable, PROBE, other, c.ip, "7003", "9", stdout=subprocess.PIPE)
        seen_by_a, seen_by_b, seen_by_c = lines(pa), lines(pb), lines(pc)
    b_instance = seen_by_b[0]["advertising"]
    a_instance = seen_by_a[0]["advertising"]
    assert {"seen": b_instance, "addresses": [b.ip], "port": 7002} in seen_by_a
    assert {"seen": a_instance, "addresses": [a.ip], "port": 7001} in seen_by_b
    assert {"lost": b_instance} in seen_by_a, "b said goodbye when it stopped"
    assert seen_by_c == [seen_by_c[0]], "a node of another team sees nobody"
    assert not any(event.get("addresses") == [c.ip] for event in seen_by_a + seen_by_b)
