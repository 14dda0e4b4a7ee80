"""The entry format: signing, strict decoding, and that no tampering goes unnoticed."""

from __future__ import annotations

import os

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshchat.identity import Identity
from meshchat.log.entry import (
    MAX_ENTRY_SIZE,
    SIGNING_CONTEXT,
    ZERO_ID,
    EntryError,
    body_digest,
    decode_entry,
    entry_id,
    sign_entry,
)

TEAM = bytes(range(32))


def make(identity: Identity | None = None, **overrides: object) -> bytes:
    args: dict[str, object] = dict(
        team_id=TEAM,
        seq=2,
        prev=b"\x11" * 32,
        clock=1_790_000_000_000,
        kind="msg.post",
        body={"room": b"r" * 16, "text": "hello"},
    )
    args.update(overrides)
    return sign_entry(identity or Identity.generate(), **args).raw  # type: ignore[arg-type]


def test_signed_entry_decodes_and_verifies() -> None:
    who = Identity.generate()
    entry = decode_entry(make(who))
    assert entry.author == who.public_key
    assert entry.seq == 2 and entry.kind == "msg.post"
    assert entry.body() == {"room": b"r" * 16, "text": "hello"}
    assert entry.id == entry_id(entry.header, entry.sig)
    assert entry.verify_signature()


def test_layout_is_exactly_the_documented_one() -> None:
    """A second implementation can be written from docs/formats.md: check the bytes here."""
    who = Identity.generate()
    raw = make(who)
    header, sig, body = msgpack.unpackb(raw)
    fields = msgpack.unpackb(header)
    assert fields == [
        1,
        TEAM,
        who.public_key,
        2,
        b"\x11" * 32,
        1_790_000_000_000,
        "msg.post",
        len(body),
        body_digest(body),
    ]
    who_verifies = Identity(who.seed)
    assert who_verifies.sign(SIGNING_CONTEXT + header) == sig  # Ed25519 is deterministic


def test_forged_signature_is_refused() -> None:
    """pyssb's bug was comparing signature strings: here the check is the real one."""
    raw = make()
    header, sig, body = msgpack.unpackb(raw)
    other = Identity.generate().sign(SIGNING_CONTEXT + header)
    forged = decode_entry(msgpack.packb([header, other, body]))
    assert not forged.verify_signature()


def test_every_single_byte_change_is_rejected() -> None:
    raw = make()
    original = decode_entry(raw)
    for i in range(len(raw)):
        for delta in (1, 0x80):
            mutated = bytearray(raw)
            mutated[i] = (mutated[i] + delta) % 256
            try:
                entry = decode_entry(bytes(mutated))
            except EntryError:
                continue
            # It decoded: it must be a different entry whose signature fails.
            assert entry.id != original.id or entry.raw != raw
            assert not entry.verify_signature(), f"byte {i} changed by {delta} still verifies"


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    try:
        decode_entry(data)
    except EntryError:
        pass


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seq": 1}, "first entry"),  # seq 1 with a prev
        ({"seq": 0}, "seq"),
        ({"prev": None}, "prev"),
        ({"kind": "Bad Kind"}, "kind"),
        ({"team_id": ZERO_ID}, "genesis"),
        ({"clock": -1}, "clock"),
    ],
)
def test_header_rules(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(EntryError, match=message):
        make(**overrides)


def test_size_limit() -> None:
    with pytest.raises(EntryError, match="exceeds"):
        decode_entry(b"\x93" + b"\x00" * MAX_ENTRY_SIZE)


def test_non_canonical_envelope_and_header_are_refused() -> None:
    raw = make()
    header, sig, body = msgpack.unpackb(raw)
    # The same three byte strings with a wider length prefix on the header (bin16 instead of bin8).
    wide = b"\x93\xc5" + len(header).to_bytes(2, "big") + header + raw[3 + len(header) :]
    with pytest.raises(EntryError, match="canonical"):
        decode_entry(wide)
    # A header whose seq is encoded as uint16: same value, other bytes.
    fields = msgpack.unpackb(header)
    who = Identity.generate()
    fields[2] = who.public_key
    h = msgpack.packb(fields)
    seq_at = h.index(b"\x02\xc4\x20")  # seq 2 as a fixint, followed by prev's bin8 header
    h2 = h[:seq_at] + b"\xcd\x00\x02" + h[seq_at + 1 :]
    assert msgpack.unpackb(h2) == fields
    forged = msgpack.packb([h2, who.sign(SIGNING_CONTEXT + h2), body])
    with pytest.raises(EntryError, match="canonical"):
        decode_entry(forged)


def test_body_must_be_a_canonical_map() -> None:
    who = Identity.generate()
    body = msgpack.packb({"text": "x", "room": b"r" * 16})  # keys out of order
    header = msgpack.packb([1, TEAM, who.public_key, 1, None, 5, "msg.post", len(body), body_digest(body)])
    raw = msgpack.packb([header, who.sign(SIGNING_CONTEXT + header), body])
    with pytest.raises(EntryError, match="order"):
        decode_entry(raw)


def test_body_hash_binds_the_body() -> None:
    raw = make()
    header, sig, body = msgpack.unpackb(raw)
    other_body = msgpack.packb({"room": b"r" * 16, "text": "HELLO"})
    with pytest.raises(EntryError, match="body"):
        decode_entry(msgpack.packb([header, sig, other_body]))


def test_ids_differ_for_different_entries() -> None:
    who = Identity.generate()
    a, b = (
        make(who, body={"room": os.urandom(16), "text": "a"}),
        make(who, body={"room": os.urandom(16), "text": "a"}),
    )
    assert decode_entry(a).id != decode_entry(b).id
