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
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import libnacl
import msgpack

from meshchat.errors import MeshchatError
from meshchat.log.codec import Value, check_canonical, pack

ENTRY_VERSION = 1
MAX_ENTRY_SIZE = 64 * 1024
SIGNING_CONTEXT = b"meshchat/v1/entry"
ID_SIZE = 32
KEY_SIZE = 32
SIG_SIZE = 64
ZERO_ID = bytes(ID_SIZE)
MAX_SEQ = 2**53
MAX_CLOCK = 2**53  # milliseconds: far beyond any real date, and exact in every JSON/JS consumer
_unpackb = msgpack.unpackb
_new_hasher = hashlib.blake2b(digest_size=ID_SIZE).copy  # faster than parsing digest_size each time
_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,15}(\.[a-z][a-z0-9_]{0,15}){0,3}")
_COMMON_KINDS = frozenset({"msg.post", "msg.ack", "heads"})  # valid names; the hot ones skip the regex


class EntryError(MeshchatError, ValueError):
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
    the ingest hot path: the checks are written out flat, in one function, on purpose (each Python call
    costs about 0.1 us, a fifth of a BLAKE2b), but for the field rules, which :func:`entry_from_parts` shares.
    """
    if type(raw) is not bytes:
        raise EntryError("an entry must be bytes")
    size = len(raw)
    if size > MAX_ENTRY_SIZE:
        raise EntryError(f"entry of {size} bytes exceeds {MAX_ENTRY_SIZE}")
    # msgpack bounds every declared length by the size of its input, which is checked above; ext types
    # (timestamps included) come back as objects that the type checks below refuse.
    try:
        outer = _unpackb(raw)
        if type(outer) is not list or len(outer) != 3:
            raise EntryError("an entry is [header, sig, body]")
        header, sig, body_raw = outer
        if type(header) is not bytes or type(sig) is not bytes or type(body_raw) is not bytes:
            raise EntryError("an entry is [header, sig, body], three byte strings")
        header_size = len(header)
        body_len = len(body_raw)
        # A 3-array of byte strings has one encoding per choice of length prefixes, and any non-minimal
        # choice is longer: the length alone proves the envelope canonical. Each shortest prefix is 2 bytes
        # below 256 and 3 below 65536 (no part can be longer: the whole is at most MAX_ENTRY_SIZE).
        if size != 7 + header_size + len(sig) + body_len + (header_size > 0xFF) + (len(sig) > 0xFF) + (body_len > 0xFF):
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
    # The header, field by field (the order of the checks decides which rule an entry is said to break).
    if type(fields) is not list or len(fields) != 9:
        raise EntryError("header must be an array of 9 fields")
    version, team_id, author, seq, prev, clock, kind, claimed_len, body_hash = fields
    hasher = _new_hasher()
    hasher.update(body_raw)
    _check_fields(version, team_id, author, seq, prev, clock, kind, claimed_len, body_hash, body_len, hasher.digest())
    # Every field now has its one allowed type and a non-negative value, and every msgpack value has one
    # shortest encoding that all others are longer than: so the header is canonical iff it has that length.
    # 2 (fixarray(9), fixint version) + 3 * 34 (team_id, author, body_hash as bin8) + seq + prev + clock + kind
    # (ASCII, so one byte a character, after a fixstr or str8 prefix) + body_len. Integers in shortest form.
    canonical_size = (
        104
        + len(kind)
        + (1 if len(kind) < 32 else 2)
        + (1 if prev is None else ID_SIZE + 2)
        + (1 if seq < 0x80 else 2 if seq < 0x100 else 3 if seq < 0x10000 else 5 if seq < 0x100000000 else 9)
        + (1 if clock < 0x80 else 2 if clock < 0x100 else 3 if clock < 0x10000 else 5 if clock < 0x100000000 else 9)
        + (1 if body_len < 0x80 else 2 if body_len < 0x100 else 3 if body_len < 0x10000 else 5)
    )
    if canonical_size != header_size:
        raise EntryError("header bytes are not canonical")
    hasher = _new_hasher()
    hasher.update(header)
    hasher.update(sig)
    return _make_entry(
        Entry,
        (
            raw,
            header,
            sig,
            body_raw,
            team_id,
            author,
            seq,
            prev,
            clock,
            kind,
            hasher.digest(),  # entry_id(header, sig)
            body_value,
        ),
    )


def _check_fields(
    version: object,
    team_id: object,
    author: object,
    seq: object,
    prev: object,
    clock: object,
    kind: object,
    claimed_len: object,
    body_hash: object,
    body_len: int,
    digest: bytes,
) -> None:
    """The rules for a header's fields (for :func:`decode_entry` and :func:`entry_from_parts` alike), in the
    order that decides which rule an entry is said to break. ``digest`` is the body's BLAKE2b-256."""
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
    if type(claimed_len) is not int or claimed_len != body_len:
        raise EntryError("body_len does not match the body")
    if body_hash != digest:
        raise EntryError("body_hash does not match the body")
    if team_id == ZERO_ID and not (seq == 1 and kind == "team.create"):
        raise EntryError("only the team.create genesis entry has a zero team_id")


def entry_from_parts(
    team_id: bytes,
    author: bytes,
    seq: int,
    prev: bytes | None,
    clock: int,
    kind: str,
    sig: bytes,
    body_raw: bytes,
    *,
    pack: Callable[[Any], bytes] | None = None,
) -> Entry:
    """The entry these fields make, its bytes built canonically: what a compact sync message carries (see
    ``meshchat.proto.messages``). Checked by the same rules as :func:`decode_entry`, without parsing again
    the bytes just built; raises :class:`EntryError` likewise. Does not check the signature. ``pack``: a
    ``msgpack.Packer(use_bin_type=True).pack`` the caller reuses for many entries (one per thread)."""
    if type(sig) is not bytes or len(sig) != SIG_SIZE:
        raise EntryError("signature must be 64 bytes")
    if type(body_raw) is not bytes or len(body_raw) > MAX_ENTRY_SIZE:
        raise EntryError("body must be at most 64 KiB of bytes")
    try:
        body_value = _unpackb(body_raw)
        check_canonical(body_value, body_raw)
    except (ValueError, TypeError) as exc:
        raise EntryError(f"not valid msgpack: {exc}") from exc
    if type(body_value) is not dict:
        raise EntryError("body must be a map")
    hasher = _new_hasher()
    hasher.update(body_raw)
    digest = hasher.digest()
    body_len = len(body_raw)
    _check_fields(ENTRY_VERSION, team_id, author, seq, prev, clock, kind, body_len, digest, body_len, digest)
    header = (pack or _pack)([ENTRY_VERSION, team_id, author, seq, prev, clock, kind, body_len, digest])
    raw = b"".join((b"\x93", _bin_prefix(len(header)), header, b"\xc4\x40", sig, _bin_prefix(body_len), body_raw))
    if len(raw) > MAX_ENTRY_SIZE:
        raise EntryError(f"entry of {len(raw)} bytes exceeds {MAX_ENTRY_SIZE}")
    hasher = _new_hasher()
    hasher.update(header)
    hasher.update(sig)
    return _make_entry(
        Entry, (raw, header, sig, body_raw, team_id, author, seq, prev, clock, kind, hasher.digest(), body_value)
    )


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def _bin_prefix(size: int) -> bytes:
    """The shortest msgpack bin header for ``size`` bytes (an entry's parts are under 64 KiB)."""
    return b"\xc4" + size.to_bytes(1, "big") if size < 0x100 else b"\xc5" + size.to_bytes(2, "big")


_make_entry = tuple.__new__  # what Entry._make does, without a Python-level call in between
assert MAX_ENTRY_SIZE < 0x10000 + 7, "decode_entry assumes no part of an entry needs a 32-bit length prefix"


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
