"""Coverage-guided fuzzing with atheris (libFuzzer) of the targets in ``tests/fuzz/targets.py``: the frame
reader, the entry decoder and the link (handshake and sync). Starts from the seed corpus; new interesting
inputs go to a scratch directory (copy the good ones into ``tests/fuzz/corpus/`` to keep them).

    python bench/fuzz.py link --seconds 600
    python bench/fuzz.py entry --runs 100000

Needs ``pip install atheris`` (Linux wheels for CPython 3.11). Exits non-zero, with the crashing input
saved by libFuzzer, if a target raises anything but the project's own errors.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

FUZZ = Path(__file__).resolve().parent.parent / "tests" / "fuzz"
sys.path.insert(0, str(FUZZ))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=["frames", "entry", "link"])
    parser.add_argument("--runs", type=int, default=0, help="stop after this many inputs (0: no limit)")
    parser.add_argument("--seconds", type=int, default=0, help="stop after this long (0: no limit)")
    parser.add_argument("--scratch", type=Path, default=None, help="where new inputs go (default: a temp dir)")
    args = parser.parse_args()

    import atheris

    with atheris.instrument_imports(include=["meshchat"]):
        import targets

    scratch = Path(tempfile.mkdtemp(dir=args.scratch, prefix=f"fuzz-{args.target}-"))
    seeds = scratch / "corpus"
    shutil.copytree(FUZZ / "corpus" / args.target, seeds)
    flags = [sys.argv[0], str(seeds), f"-artifact_prefix={scratch}/", "-rss_limit_mb=1024", "-timeout=10"]
    if args.runs:
        flags.append(f"-runs={args.runs}")
    if args.seconds:
        flags.append(f"-max_total_time={args.seconds}")
    print(f"fuzzing {args.target}; new inputs and crashes in {scratch}", flush=True)
    atheris.Setup(flags, targets.TARGETS[args.target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
