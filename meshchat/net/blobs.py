"""Fetching blobs over the node's links: the trio side of ``meshchat.proto.blobs`` and ``proto.fetching``.

The peer manager hands every link this exchange (``Link.blobs``). For each link it:

- asks the peer what it holds of the blobs the node wants (when the link starts, and for each blob wanted
  later), and answers the same question from the peer with what the disk holds;
- keeps the :class:`~meshchat.proto.fetching.Fetcher` told (who holds what, what arrived, what stalled)
  and sends each link the parts it is given, and the cancellations;
- gathers the pieces of each part (in memory: a part is at most one chunk) and, once a part is whole, has
  the disk check and store it. A part that does not match its hash ends the link it came from (the peer
  lied, or its disk did: either way it is the peer's fault), and the part is fetched elsewhere;
- serves reads of parts for the peers that fetch from us.

What the disk is, and what the node wants, is the node's side (``meshchat.blobs.service`` implements
:class:`BlobDisk`); this module holds no storage, as the rest of ``meshchat.net``.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import trio

from meshchat.log.attachments import ChunkSet
from meshchat.proto.blobs import NeedPart, PieceReceived
from meshchat.proto.fetching import Fetcher

log = logging.getLogger(__name__)

CHECK_INTERVAL = 1.0  # how often stalled parts and link rates are looked at

Buffer = bytes | memoryview  # a whole part: the frame's own bytes (a piece that was the whole part), or a copy


@dataclass(frozen=True, slots=True)
class Stored:
    """What became of a whole part: stored (``complete``: the blob is now whole), or not (``bad``: the peer's
    fault, end its link; ``problem``: ours, e.g. a full disk: stop fetching the blob for now)."""

    complete: bool = False
    bad: str | None = None
    problem: str | None = None


class BlobDisk(Protocol):
    """The node's blobs, as links need them."""

    def holdings(self, blobs: Iterable[bytes]) -> dict[bytes, bytes]:
        """What we hold of each blob (a bitfield; empty: none or unknown)."""
        ...

    def read_part(self, request: NeedPart) -> tuple[bytes | None, bool]:
        """``(data, done)``: up to ``request.max_bytes`` of the part from its offset (``None``: not held), and
        whether that reaches the part's end."""
        ...

    def part_length(self, blob: bytes, part: int) -> int | None:
        """How long part ``part`` of a blob we fetch is (``None``: we do not fetch that blob)."""
        ...

    async def store_parts(self, parts: Sequence[tuple[bytes, int, Buffer]]) -> list[Stored]:
        """Check and store whole parts ``(blob, part, data)``; one outcome for each, in order. ``data`` may be
        a view of the frame it came in: read it, keep no reference to it."""
        ...


class BlobLink(Hashable, Protocol):
    """What the exchange needs of a link (``meshchat.net.link.Link``)."""

    @property
    def peer_key(self) -> bytes | None: ...

    def ask_blobs(self, want: Iterable[bytes], drop: Iterable[bytes] = ()) -> None: ...

    def fetch_parts(self, add: Mapping[bytes, list[tuple[int, int]]], cancel: Mapping[bytes, list[int]]) -> None: ...

    def blobs_advanced(self, held: Mapping[bytes, bytes]) -> None: ...


@dataclass
class _Part:
    """A part arriving: from whom, and what came so far."""

    key: bytes
    data: bytearray = field(default_factory=bytearray)


class BlobExchange:
    """Create with the node's :class:`BlobDisk`; run :meth:`run` in a nursery (stall checks)."""

    def __init__(self, disk: BlobDisk) -> None:
        self.disk = disk
        self.fetcher: Fetcher[BlobLink] = Fetcher(trio.current_time)
        self.links: list[BlobLink] = []
        self._parts: dict[tuple[bytes, int], _Part] = {}  # parts arriving (kept across a cut, to resume)

    async def run(self) -> None:
        while True:
            await trio.sleep(CHECK_INTERVAL)
            try:
                self.fetcher.check()
                self._plan()
            except Exception:  # a bug here must not take the node down: say so, try again next round
                log.exception("fetching blobs failed")

    # ---- the node's side ---------------------------------------------------------------------------------

    def want(self, blob: bytes, size: int, *, rank: tuple[int, ...], held: ChunkSet, index_known: bool) -> None:
        """Fetch ``blob`` from whichever peers hold it (``rank``: lower first)."""
        new = blob not in self.fetcher.blobs
        self.fetcher.want(blob, size, rank=rank, held=held, index_known=index_known)
        if new:
            for link in self.links:
                link.ask_blobs([blob])
        self._plan()

    def drop(self, blob: bytes) -> None:
        """Stop fetching ``blob`` (it is whole, or nobody wants it any more)."""
        if blob not in self.fetcher.blobs:
            return
        self.fetcher.drop(blob)
        for key in [k for k in self._parts if k[0] == blob]:
            del self._parts[key]
        for link in self.links:
            link.ask_blobs((), [blob])
        self._plan()

    def advanced(self, held: Mapping[bytes, bytes]) -> None:
        """We hold more of these blobs: tell the peers that asked about them."""
        for link in self.links:
            link.blobs_advanced(held)

    def wanted(self) -> list[bytes]:
        return self.fetcher.wanted()

    def progress(self, blob: bytes) -> tuple[int, int]:
        """``(parts held, parts in all)`` of a blob being fetched, counting bytes of parts under way."""
        wanted = self.fetcher.blobs.get(blob)
        if wanted is None:
            return 0, 0
        return len(wanted.held), wanted.count

    def sources(self, blob: bytes) -> int:
        """How many linked peers hold some of ``blob``."""
        return len(list(self.fetcher.links_holding(blob)))

    # ---- links -------------------------------------------------------------------------------------------

    def link_up(self, link: BlobLink) -> None:
        key = link.peer_key
        assert key is not None
        self.links.append(link)
        self.fetcher.link_up(link, key)
        if self.fetcher.wanted():
            link.ask_blobs(self.fetcher.wanted())

    def link_down(self, link: BlobLink) -> None:
        if link in self.links:
            self.links.remove(link)
        self.fetcher.link_down(link)
        self._plan()

    def asked(self, link: BlobLink, blobs: Iterable[bytes]) -> dict[bytes, bytes]:
        return self.disk.holdings(blobs)

    def held(self, link: BlobLink, held: Mapping[bytes, bytes]) -> str | None:
        """A peer's Have; returns a reason to end the link if it cannot be true."""
        for blob, bits in held.items():
            if not self.fetcher.held_by(link, blob, bits):
                return "the peer's list of chunks does not fit the blob"
        self._plan()
        return None

    def read_part(self, request: NeedPart) -> tuple[bytes | None, bool]:
        return self.disk.read_part(request)

    async def received(self, link: BlobLink, pieces: list[PieceReceived]) -> str | None:
        """Take pieces from ``link``; returns a reason to end the link if it sent what no honest node sends.
        The parts they complete are stored together (one worker-thread round trip for several chunks)."""
        key = link.peer_key
        assert key is not None
        try:
            whole: list[tuple[bytes, int, Buffer]] = []
            reason = None
            for piece in pieces:
                reason = self._piece(link, key, piece, whole)
                if reason is not None:
                    break
            stored = await self.disk.store_parts(whole) if whole else []
            for (blob, part, _), result in zip(whole, stored, strict=True):
                if result.bad is not None:
                    self.fetcher.part_failed(link, blob, part)
                    reason = reason or f"the peer sent a bad part of a file ({result.bad})"
                elif result.problem is not None:
                    self.drop(blob)
                else:
                    self.fetcher.part_done(blob, part)
                    if result.complete:
                        self.drop(blob)
            return reason
        finally:
            self._plan()

    def _piece(
        self, link: BlobLink, key: bytes, piece: PieceReceived, whole: list[tuple[bytes, int, Buffer]]
    ) -> str | None:
        """Add ``piece`` to its part; a part now whole goes to ``whole``."""
        blob, part = piece.blob, piece.part
        wanted = self.fetcher.blobs.get(blob)
        assignment = wanted.assigned.get(part) if wanted is not None else None
        length = self.disk.part_length(blob, part)
        if assignment is None or assignment.link is not link or length is None:
            return None  # sent before our cancel reached the peer: not ours to keep
        end = piece.offset + len(piece.data)
        if end > length:
            return f"the peer sent more of a part than it holds ({end} of {length} bytes)"
        if any(b == blob and p == part for b, p, _ in whole):
            return None  # that part is whole already (a peer that sends it twice): stored once
        if piece.offset == 0 and end == length:  # the whole part in one piece (on a LAN): the frame's bytes
            self._parts.pop((blob, part), None)
            self.fetcher.received(link, blob, part, length, length)
            whole.append((blob, part, piece.data))
            return None
        arriving = self._parts.get((blob, part))
        if arriving is None or arriving.key != key:
            arriving = self._parts[(blob, part)] = _Part(key)
        kept = len(arriving.data)
        if piece.offset > kept:  # a cancel and a new ask crossed, or a cut: ask for the part again from its start
            del self._parts[(blob, part)]
            self.fetcher.restart(blob, part)
            return None
        if end > kept:
            arriving.data += piece.data[kept - piece.offset :]
        self.fetcher.received(link, blob, part, len(arriving.data), len(piece.data))
        if len(arriving.data) == length:
            del self._parts[(blob, part)]
            whole.append((blob, part, bytes(arriving.data)))
        return None

    # ---- internals ---------------------------------------------------------------------------------------

    def _plan(self) -> None:
        for link, change in self.fetcher.plan().items():
            link.fetch_parts(change.add, change.cancel)
