"""The signed log entry: one line of one author's append-only, hash-chained log.

Wire format (see docs/formats.md)::

    header = msgpack([1, team_id, author, seq, prev, clock, kind, body_len, body_hash])
    sig    = Ed25519(author secret, b"meshchat/v1/entry" + header)
    entry  = msgpack([header, sig, body])          # body = canonical msgpack map of the kind's fields
    id     = BLAKE2b-256(header + sig)

Decoding is strict and bounded, and every layer must be canonical, so an entry's bytes, and thus its id,
cannot be varied by anyone but its author. Signatures are checked over the exact bytes received.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, NamedTuple, Protocol

import libnacl
import msgpack

from meshchat.log.codec import Value, check_canonical, pack

ENTRY_VERSION = 1
MAX_ENTRY_SIZE = 64 * 1024
MAX_BODY_ITEMS = 256
SIGNING_CONTEXT = b"meshchat/v1/entry"
ID_SIZE = 32
KEY_SIZE = 32
SIG_SIZE = 64
ZERO_ID = bytes(ID_SIZE)
MAX_SEQ = 2**53
MAX_CLOCK = 2**53  # milliseconds: far beyond any real date, and exact in every JSON/JS consumer
_unpackb = msgpack.unpackb
_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,15}(\.[a-z][a-z0-9_]{0,15}){0,3}")
_COMMON_KINDS = frozenset({"msg.post", "msg.ack", "heads"})  # valid names; the hot ones skip the regex


class EntryError(ValueError):
    """An entry that is malformed or does not verify. The message says which rule it broke."""


class Signer(Protocol):
    """Whatever holds an Ed25519 secret key (see :class:`meshchat.identity.Identity`)."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


def entry_id(header: bytes, sig: bytes) -> bytes:
    """BLAKE2b-256 over header and signature: the id covers everything the author signed."""
    return hashlib.blake2b(header + sig, digest_size=ID_SIZE).digest()


def body_digest(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=ID_SIZE).digest()


class Entry(NamedTuple):
    """A decoded entry. ``raw`` is exactly what was received or written; everything else is derived from it.

    Immutable (a NamedTuple, which builds five times faster than a frozen dataclass on the ingest path).
    """

    raw: bytes
    header: bytes
    sig: bytes
    body_raw: bytes
    team_id: bytes
    author: bytes
    seq: int
    prev: bytes | None
    clock: int
    kind: str
    id: bytes
    decoded_body: dict[str, Value]

    def body(self) -> dict[str, Value]:
        """The body map, decoded strictly when the entry was. Shared: read it, do not change it."""
        return self.decoded_body

    @property
    def is_genesis(self) -> bool:
        return self.team_id == ZERO_ID

    def verify_signature(self) -> bool:
        """Check the Ed25519 signature over the exact header bytes received."""
        return verify_signature(self.author, self.header, self.sig)

    def __repr__(self) -> str:
        return f"Entry({self.kind} {self.author.hex()[:8]}#{self.seq} id={self.id.hex()[:12]})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and other.raw == self.raw

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.id)


def verify_signature(author: bytes, header: bytes, sig: bytes) -> bool:
    try:
        libnacl.crypto_sign_verify_detached(sig, SIGNING_CONTEXT + header, author)
    except ValueError:
        return False
    return True


def decode_entry(raw: bytes) -> Entry:
    """Decode and structurally validate ``raw``. Does not check the signature (see ``verify_signature``).

    Raises :class:`EntryError` naming the rule broken, and nothing else, whatever the input bytes. This is
    the ingest hot path: the checks are written out flat on purpose.
    """
    if type(raw) is not bytes:
        raise EntryError("an entry must be bytes")
    if len(raw) > MAX_ENTRY_SIZE:
        raise EntryError(f"entry of {len(raw)} bytes exceeds {MAX_ENTRY_SIZE}")
    # msgpack bounds every declared length by the size of its input, which is checked above; ext types
    # (timestamps included) come back as objects that the type checks below refuse.
    try:
        outer = _unpackb(raw)
        if type(outer) is not list or len(outer) != 3:
            raise EntryError("an entry is [header, sig, body]")
        header, sig, body_raw = outer
        if type(header) is not bytes or type(sig) is not bytes or type(body_raw) is not bytes:
            raise EntryError("an entry is [header, sig, body], three byte strings")
        if len(raw) != 1 + _bin_size(len(header)) + _bin_size(len(sig)) + _bin_size(len(body_raw)):
            # A 3-array of byte strings has one encoding per choice of length prefixes, and any
            # non-minimal choice is longer: the length alone proves the envelope canonical.
            raise EntryError("entry bytes are not canonical")
        fields = _unpackb(header)
        body_value = _unpackb(body_raw)
        check_canonical(body_value, body_raw)
    except EntryError:
        raise
    except (ValueError, TypeError) as exc:  # msgpack's errors and DecodeError derive from ValueError
        raise EntryError(f"not valid msgpack: {exc}") from exc
    if len(sig) != SIG_SIZE:
        raise EntryError("signature must be 64 bytes")
    if type(body_value) is not dict:
        raise EntryError("body must be a map")
    team_id, author, seq, prev, clock, kind = _check_header(fields, len(header), body_raw)
    return Entry(raw, header, sig, body_raw, team_id, author, seq, prev, clock, kind, entry_id(header, sig), body_value)


def _check_header(fields: Value, header_size: int, body_raw: bytes) -> tuple[bytes, bytes, int, bytes | None, int, str]:
    if type(fields) is not list or len(fields) != 9:
        raise EntryError("header must be an array of 9 fields")
    version, team_id, author, seq, prev, clock, kind, body_len, body_hash = fields
    if type(version) is not int or version != ENTRY_VERSION:
        raise EntryError(f"unsupported entry version {version!r}")
    if type(team_id) is not bytes or len(team_id) != ID_SIZE:
        raise EntryError("team_id must be 32 bytes")
    if type(author) is not bytes or len(author) != KEY_SIZE:
        raise EntryError("author must be a 32-byte public key")
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
        raise EntryError("seq must be an integer from 1")
    if seq == 1:
        if prev is not None:
            raise EntryError("the first entry of a log has no prev")
    elif type(prev) is not bytes or len(prev) != ID_SIZE:
        raise EntryError("prev must be the 32-byte id of the entry before")
    if type(clock) is not int or not 0 <= clock <= MAX_CLOCK:
        raise EntryError("clock must be a non-negative integer (ms)")
    if type(kind) is not str or (kind not in _COMMON_KINDS and not _KIND_PATTERN.fullmatch(kind)):
        raise EntryError("kind must be a short dotted lower-case name")
    if type(body_len) is not int or body_len != len(body_raw):
        raise EntryError("body_len does not match the body")
    if body_hash != body_digest(body_raw):
        raise EntryError("body_hash does not match the body")
    if team_id == ZERO_ID and not (seq == 1 and kind == "team.create"):
        raise EntryError("only the team.create genesis entry has a zero team_id")
    # Every field now has its one allowed type and a non-negative value, and every msgpack value has one
    # shortest encoding that all others are longer than: so the header is canonical iff it has that length.
    canonical_size = (
        2  # fixarray(9), fixint version
        + 3 * (ID_SIZE + 2)  # team_id, author, body_hash
        + _uint_size(seq)
        + (1 if prev is None else ID_SIZE + 2)
        + _uint_size(clock)
        + len(kind)
        + (1 if len(kind) < 32 else 2)  # kind is ASCII
        + _uint_size(body_len)
    )
    if canonical_size != header_size:
        raise EntryError("header bytes are not canonical")
    return team_id, author, seq, prev, clock, kind


def _uint_size(value: int) -> int:
    """Encoded size of a non-negative msgpack integer in its shortest form."""
    return 1 if value < 0x80 else 2 if value < 0x100 else 3 if value < 0x10000 else 5 if value < 2**32 else 9


def _bin_size(length: int) -> int:
    """Encoded size of a msgpack bin of ``length`` bytes, with the shortest length prefix."""
    return length + (2 if length < 0x100 else 3 if length < 0x10000 else 5)


def sign_entry(
    signer: Signer,
    *,
    team_id: bytes,
    seq: int,
    prev: bytes | None,
    clock: int,
    kind: str,
    body: dict[str, Any],
) -> Entry:
    """Build, sign and return a new entry. The result is decoded back, so it obeys every rule it would be
    checked against on another node."""
    body_raw = pack(body)
    header = msgpack.packb(
        [
            ENTRY_VERSION,
            team_id,
            signer.public_key,
            seq,
            prev,
            clock,
            kind,
            len(body_raw),
            body_digest(body_raw),
        ],
        use_bin_type=True,
    )
    sig = signer.sign(SIGNING_CONTEXT + header)
    raw = msgpack.packb([header, sig, body_raw], use_bin_type=True)
    return decode_entry(raw)
