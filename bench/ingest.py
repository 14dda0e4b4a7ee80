"""Ingest benchmark: how fast entries get into a store.

    python bench/ingest.py --n 100000

Prints the raw libsodium verify rate, the sign+append rate of own posts (durable: synchronous=FULL), the
per-entry accept rate (each entry alone, its signature checked), and the batch accept rate (entries from 20
authors into a fresh store, in batches as sync delivers them, one signature per chain-linked run).
Last line: ``batch_accept_per_s=<number>``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import libnacl

from meshchat.identity import Identity
from meshchat.log.entry import SIGNING_CONTEXT
from meshchat.store import Outcome, Store
from meshchat.testing import synthetic_history


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="entries in the history (default 100000)")
    parser.add_argument("--authors", type=int, default=20)
    parser.add_argument("--batch", type=int, default=5000, help="entries per accept_batch call")
    parser.add_argument("--single", type=int, default=5000, help="entries accepted one by one")
    parser.add_argument("--own", type=int, default=500, help="own posts signed and appended durably")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="meshchat-bench-"))

    print(f"building a history of {args.n} entries from {args.authors} authors ...", flush=True)
    started = time.perf_counter()
    team = synthetic_history(args.n, authors=args.authors)
    entries = sorted(team.all_entries(), key=lambda e: e.clock)  # arrival interleaved across authors
    print(f"  built in {time.perf_counter() - started:.1f} s")

    sample = entries[: min(20_000, len(entries))]
    started = time.perf_counter()
    for entry in sample:
        libnacl.crypto_sign_verify_detached(entry.sig, SIGNING_CONTEXT + entry.header, entry.author)
    verify = rate(len(sample), time.perf_counter() - started)
    print(f"raw libsodium verify:        {verify:>10,.0f} entries/s")

    founder = Identity.generate()
    own_store = Store.found(work / "own.db", founder, "Bench")
    started = time.perf_counter()
    for i in range(args.own):
        own_store.append_own(founder, "room.create", {"room": i.to_bytes(16, "big"), "name": f"r{i}", "topic": ""})
    own = rate(args.own, time.perf_counter() - started)
    own_store.close()
    print(f"sign+append own (FULL sync): {own:>10,.0f} entries/s")

    single = entries[: args.single]
    each_store = Store.create(work / "each.db", team.team_id)
    started = time.perf_counter()
    for i in range(0, len(single), 100):  # live pushes arrive in bursts; each entry verified on its own
        result = each_store.accept_batch([e.raw for e in single[i : i + 100]], verify_each=True)
        assert not result.others, result.others[:3]
    per_entry = rate(len(single), time.perf_counter() - started)
    each_store.close()
    print(
        f"per-entry accept:            {per_entry:>10,.0f} entries/s ({per_entry / verify:.0%} of raw verify;"
        " every signature checked, bursts of 100 per transaction)"
    )

    alone_store = Store.create(work / "alone.db", team.team_id)
    started = time.perf_counter()
    appended = sum(alone_store.accept(e.raw).outcome is Outcome.APPENDED for e in single)
    alone = rate(len(single), time.perf_counter() - started)
    alone_store.close()
    assert appended == len(single), f"only {appended} of {len(single)} appended"
    print(f"one entry per transaction:   {alone:>10,.0f} entries/s ({alone / verify:.0%} of raw verify)")

    batch_store = Store.create(work / "batch.db", team.team_id)
    raws = [e.raw for e in entries]
    started = time.perf_counter()
    for i in range(0, len(raws), args.batch):
        batch_store.accept_batch(raws[i : i + args.batch])
    seconds = time.perf_counter() - started
    held = batch_store.count()
    batch_store.close()
    assert held == len(raws), f"only {held} of {len(raws)} stored"
    size_mb = sum(p.stat().st_size for p in work.glob("batch.db*")) / 1e6
    batch = rate(len(raws), seconds)
    detail = f"{len(raws)} entries in {seconds:.2f} s, {size_mb:.0f} MB"
    print(f"batch accept:                {batch:>10,.0f} entries/s ({detail})")
    print(f"batch_accept_per_s={batch:.0f}")


if __name__ == "__main__":
    main()
