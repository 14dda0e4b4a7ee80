"""Checking many Ed25519 signatures on every core.

libnacl calls libsodium through ctypes, which releases the GIL for the duration of the call, so plain threads
verify in parallel. The verifier checks *every* signature (not one per chain-linked run, as the accept path
may), to name any individual entry whose signature is bad.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor

from meshchat.log.entry import verify_signature

BATCH = 512

Job = tuple[Hashable, bytes, bytes, bytes]  # (caller's tag, author, header, sig)


def _check(batch: list[Job]) -> list[Hashable]:
    return [tag for tag, author, header, sig in batch if not verify_signature(author, header, sig)]


class SignatureChecker:
    """``add`` signatures to check; ``failures`` waits for all and returns the tags of those that failed."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers if workers is not None else min(8, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="verify") if self.workers > 1 else None
        self._batch: list[Job] = []
        self._pending: deque[Future[list[Hashable]]] = deque()
        self._failed: list[Hashable] = []
        self.checked = 0

    def add(self, tag: Hashable, author: bytes, header: bytes, sig: bytes) -> None:
        self._batch.append((tag, author, header, sig))
        if len(self._batch) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        self.checked += len(batch)
        if self._pool is None:
            self._failed.extend(_check(batch))
            return
        self._pending.append(self._pool.submit(_check, batch))
        while len(self._pending) > 2 * self.workers:  # bounded memory: wait for the oldest
            self._failed.extend(self._pending.popleft().result())

    def failures(self) -> list[Hashable]:
        self._flush()
        while self._pending:
            self._failed.extend(self._pending.popleft().result())
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        return self._failed
