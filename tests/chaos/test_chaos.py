"""Chaos, short form (the long one is ``bench/chaos.py``): five nodes in namespaces write while links are
rate-limited to 256 kbit/s, cut and restored at random, and partly run through a proxy that delays, stalls
and resets connections. Once healed, every node holds the union of all entries: views identical, nothing
lost or shown twice, each author's seqs contiguous (see ``harness.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import run_chaos
from netlab import lab_unavailable_reason

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(bool(lab_unavailable_reason()), reason=lab_unavailable_reason() or ""),
]


def test_five_nodes_converge_after_faults(tmp_path: Path) -> None:
    result = run_chaos(tmp_path, fault_seconds=15, posts=15, seed=1, converge_timeout=40)
    assert result.written == 75
    assert result.cuts > 0, "the fault phase cut no link"
    assert result.resets > 0, "the proxy reset no connection"
