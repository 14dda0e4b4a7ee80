"""Short fuzzing runs for CI: the seed corpus, then seeded mutations of it, then hypothesis, against each
target in ``targets`` (the frame reader, the entry decoder, the link with its handshake). Only the project's
own errors may escape; each input must finish quickly and within a bounded amount of memory.

The long, coverage-guided run is ``python bench/fuzz.py`` (atheris); a short one of it runs here too when
atheris is installed.
"""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import targets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutate import mutate

CORPUS = Path(__file__).parent / "corpus"
MUTATIONS = {"frames": 3000, "entry": 3000, "link": 1000}
SLOW_INPUT_S = 2.0  # a single input taking this long is a hang
MAX_PEAK = 16 * 1024 * 1024  # bytes one input may make the target allocate (frames are at most 1 MiB)
ROOT = Path(__file__).resolve().parents[2]


def corpus(target: str) -> list[bytes]:
    files = sorted((CORPUS / target).iterdir())
    assert files, f"no seed corpus for {target}"
    return [f.read_bytes() for f in files]


def run_bounded(target: str, data: bytes) -> None:
    tracemalloc.reset_peak()
    started = time.perf_counter()
    targets.TARGETS[target](data)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    assert elapsed < SLOW_INPUT_S, f"{target} took {elapsed:.1f} s on {data[:64].hex()}"
    assert peak < MAX_PEAK, f"{target} allocated {peak} bytes on {data[:64].hex()}"


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_corpus_and_mutations(target: str) -> None:
    seeds = corpus(target)
    rng = random.Random(f"meshchat-{target}")
    tracemalloc.start()
    try:
        for data in seeds:
            run_bounded(target, data)
        for _ in range(MUTATIONS[target]):
            run_bounded(target, mutate(rng.choice(seeds), rng, seeds))
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096))
def test_random_bytes(target: str, data: bytes) -> None:
    targets.TARGETS[target](data)


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris is not installed")
def test_short_atheris_run(tmp_path: Path) -> None:
    for target in sorted(targets.TARGETS):
        result = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "fuzz.py"), target, "--runs", "1000", "--scratch", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
