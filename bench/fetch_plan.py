"""What planning a file's fetch costs (``meshchat.proto.fetching.Fetcher``), alone: no network, no disk.

    python bench/fetch_plan.py                    # 100 MB, 1 GB and 2 GB files, from two peers
    python bench/fetch_plan.py --mb 1000 --links 4

A node plans after every batch of pieces a link hands over (``BlobExchange.received``): this replays a whole
fetch the way a fast LAN drives it (each link at its full pipeline of parts, pieces stored in batches of
``STORE_BATCH``, a plan after each batch) and prints, per file size, the CPU seconds all those plans took and
how many times a part's source was chosen (``Fetcher._choose``). A planner that walks every missing chunk on
each plan grows with the square of the file's chunks; one that gives only what it gives grows with them.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from meshchat.log.attachments import CHUNK_SIZE, ChunkSet, chunk_count
from meshchat.proto.fetching import MAX_OUTSTANDING, Fetcher

MB = 1_000_000
BATCH = 4  # meshchat.net.link.STORE_BATCH: pieces stored (and a plan made) together


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def replay(size: int, links: int) -> tuple[float, int]:
    """(CPU seconds in plan(), choices made) for a whole fetch of a ``size``-byte file from ``links`` peers."""
    clock = Clock()
    fetcher: Fetcher[str] = Fetcher(clock)
    count = chunk_count(size)
    blob = b"f" * 32
    names = [f"peer{i}" for i in range(links)]
    for name in names:
        fetcher.link_up(name, name.encode())
    fetcher.want(blob, size, rank=(1,), held=ChunkSet(count), index_known=True)
    for name in names:
        fetcher.held_by(name, blob, ChunkSet.full(count).encode())
        fetcher.links[name].rate = MAX_OUTSTANDING * CHUNK_SIZE  # measured fast: a full pipeline each
    choices = 0
    choose = Fetcher._choose

    def counted(self: Fetcher[str], *args: Any) -> str | None:
        nonlocal choices
        choices += 1
        return choose(self, *args)

    Fetcher._choose = counted  # type: ignore[method-assign]
    try:
        wanted = fetcher.blobs[blob]
        planning = 0.0
        started = time.process_time()
        fetcher.plan()
        planning += time.process_time() - started
        while wanted.assigned:
            for name in names:  # each link hands over a batch of the parts it was asked for
                batch = sorted(p for p, a in wanted.assigned.items() if a.link == name)[:BATCH]
                for part in batch:
                    fetcher.received(name, blob, part, CHUNK_SIZE, CHUNK_SIZE)
                    fetcher.part_done(blob, part)
                clock.now += 0.001
                started = time.process_time()
                fetcher.plan()
                planning += time.process_time() - started
        assert wanted.held.complete
    finally:
        Fetcher._choose = choose  # type: ignore[method-assign]
    return planning, choices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, action="append", help="file size in MB (repeatable; 100, 1000, 2000)")
    parser.add_argument("--links", type=int, default=2, help="peers that hold the whole file (2)")
    args = parser.parse_args()
    for mb in args.mb or [100, 1000, 2000]:
        seconds, choices = replay(mb * MB, args.links)
        chunks = chunk_count(mb * MB)
        print(
            f"{mb} MB ({chunks} chunks) from {args.links} peers: planning {seconds:.3f} s of CPU "
            f"({seconds / (mb / 100):.3f} s per 100 MB), {choices} choices ({choices / chunks:.1f} per chunk)",
            flush=True,
        )


if __name__ == "__main__":
    main()
