"""Export benchmark: export and verify times, and bytes per entry of bundles.

    python bench/export.py --n 100000

Builds a synthetic operation (20 authors, mostly posts, acks, incident updates and pins), stores it, signs a
heads entry, then times ``export`` (whole log, fork proofs, reports, signed manifest), ``verify`` (every
signature and chain, heads, manifest, file digests), a full sneakernet bundle and its import into an empty
store. Last line: ``export_s=<n> verify_s=<n> bundle_bytes_per_entry=<n>``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from pathlib import Path

from meshchat.export.bundle import import_bundle, write_bundle
from meshchat.export.fullverify import verify_all
from meshchat.export.heads import heads_bodies
from meshchat.export.progress import Progress
from meshchat.export.verify import verify_export
from meshchat.export.writer import export_store
from meshchat.store import Store
from meshchat.testing import synthetic_history


class Stages(Progress):
    """Records when each stage starts, to print a breakdown."""

    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.marks: list[tuple[str, float]] = []

    def stage(self, label: str, total: int = 0) -> None:
        self.marks.append((label, time.perf_counter()))
        super().stage(label, total)

    def breakdown(self, end: float) -> str:
        times = [*self.marks, ("", end)]
        return ", ".join(f"{label} {b - a:.2f}s" for (label, a), (_, b) in itertools.pairwise(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="entries in the history (default 100000)")
    parser.add_argument("--authors", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="meshchat-bench-export-"))

    print(f"building a history of {args.n:,} entries from {args.authors} authors ...", flush=True)
    team = synthetic_history(args.n, authors=args.authors)
    store = Store.create(work / "node.db", team.team_id)
    raws = [e.raw for e in sorted(team.all_entries(), key=lambda e: e.clock)]
    for i in range(0, len(raws), 5000):
        store.accept_batch(raws[i : i + 5000])
    for body in heads_bodies(store):
        store.append_own(team.founder.identity, "heads", body)
    entries = store.count()
    print(f"  stored {entries:,} entries")

    stages = Stages()
    started = time.perf_counter()
    result = export_store(store, team.founder.identity, work / "export", progress=stages)
    export_s = time.perf_counter() - started
    print(f"export:  {export_s:6.2f} s  ({entries / export_s:,.0f} entries/s)")
    print(f"         {stages.breakdown(started + export_s)}")
    sizes = {p.relative_to(result.out).as_posix(): p.stat().st_size for p in result.out.rglob("*") if p.is_file()}
    total = sum(sizes.values())
    print(
        f"         {total / 1e6:.1f} MB in {len(sizes)} files; log.msgpack {sizes['log.msgpack'] / entries:.1f} B/entry"
    )
    big = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
    print("         largest: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in big))

    started = time.perf_counter()
    report = verify_export(result.out)
    verify_s = time.perf_counter() - started
    assert report.ok, report.errors[:5]
    assert report.signatures_checked == entries
    workers = os.cpu_count() or 1
    print(
        f"verify:  {verify_s:6.2f} s  ({entries / verify_s:,.0f} entries/s, every signature checked, "
        f"{workers} threads; {report.heads_checked} heads checked)"
    )

    started = time.perf_counter()
    checked = verify_all(result.out, progress=(stages := Stages()))
    full_s = time.perf_counter() - started
    assert checked.ok, checked.errors[:5]
    compared = ", ".join(f"{name} {count:,}" for name, count in checked.data_checked.items())
    print(f"verify_all: {full_s:4.2f} s  (verify, then the data files compared with the log: {compared})")
    print(f"         {stages.breakdown(started + full_s)}")

    started = time.perf_counter()
    bundle = write_bundle(store, team.founder.identity.public_key, work / "full.bundle")
    bundle_s = time.perf_counter() - started
    per_entry = bundle.bytes / entries
    print(f"bundle:  {bundle_s:6.2f} s  {bundle.bytes / 1e6:.1f} MB, {per_entry:.1f} bytes/entry (framing: 2-3 B)")
    fresh = Store.create(work / "fresh.db", team.team_id)
    started = time.perf_counter()
    imported = import_bundle(fresh, work / "full.bundle")
    import_s = time.perf_counter() - started
    assert fresh.count() == entries, imported.counts
    print(f"import:  {import_s:6.2f} s  ({entries / import_s:,.0f} entries/s into an empty store, accept path)")
    store.close()
    fresh.close()
    print(f"export_s={export_s:.2f} verify_s={verify_s:.2f} bundle_bytes_per_entry={per_entry:.1f}")


if __name__ == "__main__":
    main()
