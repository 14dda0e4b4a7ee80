"""Per-author chains as the verifier finds them in ``log.msgpack``, and the checks over them.

Entries are recorded by seq as they are read, in any order, so that a reordering shows as one ``order``
finding and not as a cascade of gaps and broken links; the whole-chain checks run at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgpack

from meshchat.export import manifest
from meshchat.export.problems import Severity
from meshchat.log.entry import ID_SIZE, Entry, entry_id

E = Severity.ERROR
W = Severity.WARNING


class Add(Protocol):
    """Where findings go (``VerifyReport.add``)."""

    def __call__(self, severity: Severity, code: str, message: str, **entry: Any) -> None: ...


@dataclass
class Chain:
    """One author's entries as found in ``log.msgpack``, by seq."""

    key: bytes
    ids: dict[int, bytes] = field(default_factory=dict)
    prevs: dict[int, bytes | None] = field(default_factory=dict)
    clocks: dict[int, int] = field(default_factory=dict)
    frames: dict[int, str] = field(default_factory=dict)
    damaged: set[int] = field(default_factory=set)  # already reported as undecodable or badly signed
    last_seq: int = 0

    @property
    def head(self) -> int:
        return max(self.ids, default=0)


def identify(raw: bytes) -> tuple[bytes | None, int | None, bytes | None, bytes | None]:
    """Best-effort (author, seq, id, prev) of bytes that do not decode strictly, to name what is damaged."""
    author = seq = eid = prev = None
    try:
        # Read the envelope piece by piece: a frame cut short in the body still names its entry.
        unpacker = msgpack.Unpacker(max_buffer_size=max(len(raw), 1), max_array_len=16, max_map_len=0)
        unpacker.feed(raw)
        unpacker.read_array_header()
        header, sig = unpacker.unpack(), unpacker.unpack()
        if isinstance(header, bytes) and isinstance(sig, bytes):
            eid = entry_id(header, sig)
        fields = _first_value(header)
        if isinstance(fields[2], bytes) and len(fields[2]) == 32:
            author = fields[2]
        if type(fields[3]) is int and fields[3] >= 1:
            seq = fields[3]
        if isinstance(fields[4], bytes) and len(fields[4]) == ID_SIZE:
            prev = fields[4]
    except Exception:  # noqa: S110 - anything at all may be wrong with damaged bytes; we name what we can
        pass
    return author, seq, eid, prev


def _first_value(data: bytes) -> Any:
    """The first msgpack value in ``data``, ignoring what follows (a frame that grew by a byte still names
    the entry it holds)."""
    unpacker = msgpack.Unpacker(max_buffer_size=max(len(data), 1), max_array_len=16, max_map_len=0)
    unpacker.feed(data)
    return next(unpacker)


def check_chains(chains: Iterable[Chain], add: Add) -> None:
    """Gaps, links and clocks of every chain; entries already reported damaged are not reported again."""
    for chain in chains:
        seqs = sorted(chain.ids)
        missing_from = 1
        for seq in seqs:
            if seq > missing_from:
                _report_gap(chain, missing_from, seq - 1, add)
            missing_from = seq + 1
            if seq == 1 or seq - 1 not in chain.ids or {seq, seq - 1} & chain.damaged:
                continue
            if chain.prevs[seq] != chain.ids[seq - 1]:
                prev = chain.prevs[seq]
                add(
                    E,
                    "unlinked",
                    f"does not link to #{seq - 1}: its prev is {prev.hex() if prev else None}, "
                    f"the bundle's #{seq - 1} is {chain.ids[seq - 1].hex()}",
                    author=chain.key,
                    seq=seq,
                    id=chain.ids[seq],
                    where=chain.frames[seq],
                )
            elif chain.clocks[seq] <= chain.clocks[seq - 1]:
                add(
                    E,
                    "clock",
                    "clock does not increase along the log",
                    author=chain.key,
                    seq=seq,
                    id=chain.ids[seq],
                    where=chain.frames[seq],
                )


def _report_gap(chain: Chain, first: int, last: int, add: Add) -> None:
    after = chain.ids.get(last + 1)
    named = chain.prevs.get(last + 1) if after is not None else None
    span = f"#{first}" if first == last else f"#{first} to #{last} ({last - first + 1} entries)"
    text = f"missing from the log: {span}"
    if named is not None:
        text += f"; #{last + 1} names the id of #{last}: {named.hex()}"
    add(
        E,
        "gap",
        text,
        author=chain.key,
        seq=first,
        id=named if first == last else None,
        where=chain.frames.get(last + 1, ""),
    )


def check_forks(proofs: Iterable[Entry], chains: dict[bytes, Chain], add: Add) -> dict[tuple[bytes, int], set[bytes]]:
    """Each fork proof must be for a seq the chain holds, with another id. Returns the confirmed forks:
    ``{(author, seq): every id signed for it}``."""
    confirmed: dict[tuple[bytes, int], set[bytes]] = {}
    for proof in proofs:
        chain = chains.get(proof.author)
        chain_id = chain.ids.get(proof.seq) if chain else None
        where = manifest.FORKS_FILE
        if chain_id is None:
            add(
                E,
                "fork-proof",
                "fork proof for an entry the log does not hold",
                author=proof.author,
                seq=proof.seq,
                id=proof.id,
                where=where,
            )
        elif chain_id == proof.id:
            add(
                E,
                "fork-proof",
                "fork proof that is the log's own entry, not a fork",
                author=proof.author,
                seq=proof.seq,
                id=proof.id,
                where=where,
            )
        else:
            ids = confirmed.setdefault((proof.author, proof.seq), {chain_id})
            if proof.id in ids:
                add(
                    E,
                    "duplicate",
                    "the same fork proof appears twice",
                    author=proof.author,
                    seq=proof.seq,
                    id=proof.id,
                    where=where,
                )
            ids.add(proof.id)
    for (author, seq), ids in sorted(confirmed.items()):
        others = ", ".join(sorted(i.hex() for i in ids))
        add(
            W,
            "fork",
            f"the author signed {len(ids)} different entries for this seq ({others}); "
            "from here on their entries have no effect",
            author=author,
            seq=seq,
        )
    return confirmed
