from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshchat.log.codec import DecodeError, pack, unpack, unpack_canonical


@pytest.mark.parametrize(
    "data",
    [
        msgpack.packb(1.5),  # floats
        msgpack.packb({"a": [1, 2.0]}),  # nested float
        msgpack.packb(msgpack.ExtType(1, b"abc")),  # ext types
        msgpack.packb(msgpack.ExtType(1, b"")),  # zero-length ext: slips past max_ext_len, caught anyway
        b"\xd6\xff\x00\x00\x00\x00",  # timestamp ext
        b"\x92\x01",  # truncated
        b"\x01\x02",  # trailing bytes
        b"\xc1",  # reserved byte
        b"\xa3\xff\xfe\xfd",  # invalid UTF-8
        b"\xdd\xff\xff\xff\xff\x01",  # array claiming 4 billion items
    ],
)
def test_strict_decoding_refuses(data: bytes) -> None:
    with pytest.raises(DecodeError):
        unpack(data, max_len=1000)


def test_lengths_are_bounded() -> None:
    with pytest.raises(DecodeError):
        unpack(msgpack.packb(b"x" * 200), max_len=100)
    with pytest.raises(DecodeError):
        unpack(msgpack.packb(list(range(20))), max_len=1000, max_items=10)


def test_canonical_rejects_unsorted_keys_and_long_encodings() -> None:
    unsorted = msgpack.packb({"b": 1, "a": 2})
    with pytest.raises(DecodeError, match="order"):
        unpack_canonical(unsorted, max_len=100)
    long_int = b"\x81\xa1a\xcd\x00\x05"  # {"a": 5} with 5 as a uint16
    assert unpack(long_int, max_len=100) == {"a": 5}
    with pytest.raises(DecodeError, match="canonical"):
        unpack_canonical(long_int, max_len=100)


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=20) | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_pack_is_canonical_and_round_trips(value: object) -> None:
    data = pack(value)  # type: ignore[arg-type]
    assert unpack_canonical(data, max_len=10_000) == value


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_decode_errors(data: bytes) -> None:
    try:
        unpack_canonical(data, max_len=1000)
    except DecodeError:
        pass
