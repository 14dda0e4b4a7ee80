"""Attachments, the format: blob ids over chunk hashes, descriptors in msg.post, the bitfield of held chunks."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshchat.log.attachments import (
    CHUNK_SIZE,
    MAX_BLOB_SIZE,
    MAX_CHUNKS,
    MAX_FILES,
    MAX_THUMB,
    Attachment,
    AttachmentError,
    ChunkSet,
    attachments_of,
    blob_id,
    check_index,
    chunk_count,
    chunk_span,
    hash_chunks,
    parse_descriptor,
)
from meshchat.log.kinds import BodyError, build_body, parse_body
from meshchat.store.queries import Views
from meshchat.testing import TestTeam

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


def _blob_of(data: bytes) -> tuple[bytes, bytes]:
    index = hash_chunks(data[o : o + CHUNK_SIZE] for o in range(0, len(data), CHUNK_SIZE))
    return blob_id(len(data), index), index


def test_blob_id_is_the_documented_hash_over_size_and_chunk_hashes() -> None:
    data = os.urandom(2 * CHUNK_SIZE + 5)
    blob, index = _blob_of(data)
    chunks = [data[:CHUNK_SIZE], data[CHUNK_SIZE : 2 * CHUNK_SIZE], data[2 * CHUNK_SIZE :]]
    expected_index = b"".join(hashlib.blake2b(c, digest_size=32).digest() for c in chunks)
    assert index == expected_index
    assert blob == hashlib.blake2b(b"meshchat/v1/blob" + len(data).to_bytes(8, "big") + index, digest_size=32).digest()
    check_index(blob, len(data), index)
    with pytest.raises(AttachmentError):
        check_index(blob, len(data), index[:-1] + bytes([index[-1] ^ 1]))
    with pytest.raises(AttachmentError):
        check_index(blob, len(data) + 1, index)  # the size is committed to as well


def test_chunks_cover_the_file_exactly() -> None:
    assert chunk_count(1) == 1 and chunk_count(CHUNK_SIZE) == 1 and chunk_count(CHUNK_SIZE + 1) == 2
    assert chunk_span(CHUNK_SIZE + 10, 2) == (CHUNK_SIZE, 10)
    assert chunk_count(MAX_BLOB_SIZE) * 32 <= CHUNK_SIZE  # the largest index is one part on the wire
    with pytest.raises(ValueError):
        chunk_span(10, 2)


def _descriptor(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {"blob": b"b" * 32, "size": 10, "name": "photo.jpg", "type": "image/jpeg"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "fits"),
    [
        ({}, True),
        ({"thumb": JPEG, "w": 4000, "h": 3000}, True),
        ({"name": "../../etc/passwd"}, False),
        ({"name": "a\\b"}, False),
        ({"name": ".."}, False),
        ({"name": "x" * 256}, False),
        ({"name": "  "}, False),
        ({"type": "Image/JPEG"}, False),
        ({"type": "text"}, False),
        ({"size": 0}, False),
        ({"size": MAX_BLOB_SIZE + 1}, False),
        ({"size": True}, False),
        ({"blob": b"short"}, False),
        ({"thumb": b"GIF89a..."}, False),
        ({"thumb": JPEG + b"\x00" * MAX_THUMB}, False),
        ({"w": 10}, False),
        ({"w": 0, "h": 10}, False),
        ({"extra": 1}, False),
    ],
)
def test_a_descriptor_fits_only_as_documented(changes: dict[str, object], fits: bool) -> None:
    assert (parse_descriptor(_descriptor(**changes)) is not None) is fits


def test_a_post_carries_up_to_eight_files_and_they_reach_the_view(store_for: object) -> None:
    team = TestTeam(members=1)
    ana = team.members[0]
    room = team.room
    files = [_descriptor(blob=bytes([i]) * 32, name=f"f{i}.jpg", thumb=JPEG, w=3, h=2) for i in range(MAX_FILES)]
    body = build_body("msg.post", room=room, text="photos", files=files)
    with pytest.raises(BodyError):
        build_body("msg.post", room=room, text="photos", files=[*files, files[0]])
    with pytest.raises(BodyError):
        build_body("msg.post", room=room, text="photos", files=[])
    team.post(ana, "photos", files=files)
    team.post(ana, "sneaky", files=[_descriptor(name="../x")])
    store = store_for(team.team_id)  # type: ignore[operator]
    store.accept_batch([e.raw for e in team.all_entries()])
    messages = Views(store).messages(room)
    assert [m.text for m in messages] == ["photos"]  # a post whose files do not fit has no effect, as any body
    got = messages[0].files
    assert [f.name for f in got] == [f"f{i}.jpg" for i in range(MAX_FILES)]
    assert got[0] == Attachment(b"\x00" * 32, 10, "f0.jpg", "image/jpeg", JPEG, 3, 2)
    assert parse_body("msg.post", body) is not None and attachments_of(body) == got


def test_chunk_sets_are_msb_first_bitfields() -> None:
    held = ChunkSet(10)
    assert held.encode() == b"" and not held.complete
    held.add(1)
    held.add(9)
    assert held.encode() == bytes([0b1000_0000, 0b1000_0000])
    assert list(held) == [1, 9] and len(held) == 2 and 2 not in held and 11 not in held
    assert ChunkSet(10, held.encode()) == held
    assert ChunkSet.full(10).complete and ChunkSet.full(10).missing() == []
    with pytest.raises(ValueError):
        ChunkSet(10, bytes([0, 0b0010_0000]))  # a bit past the last chunk
    with pytest.raises(ValueError):
        ChunkSet(10, b"\x00")  # the wrong length


def _bitfield(count: int, held: set[int]) -> bytes:
    """The documented layout, written plainly: chunk i at bit i - 1, most significant bit of each byte first."""
    out = bytearray(-(-count // 8))
    for i in held:
        out[(i - 1) // 8] |= 0x80 >> ((i - 1) % 8)
    return bytes(out)


@given(
    st.integers(1, MAX_CHUNKS).flatmap(
        lambda count: st.tuples(
            st.just(count),
            st.lists(st.tuples(st.booleans(), st.integers(-2, count + 2)), max_size=60),
        )
    )
)
def test_a_chunk_set_keeps_the_bitfield_semantics_under_any_adds_and_discards(
    case: tuple[int, list[tuple[bool, int]]],
) -> None:
    """The set is computed on an integer; what it says (membership, count, order, the bytes on the wire and on
    disk) is exactly what the bitfield says."""
    count, operations = case
    held, reference = ChunkSet(count), set()
    for add, index in operations:
        if add and 1 <= index <= count:
            held.add(index)
            reference.add(index)
        elif add:
            with pytest.raises(ValueError):
                held.add(index)
        else:
            held.discard(index)
            reference.discard(index)
    expected = _bitfield(count, reference)
    assert held.bits == expected and held.encode() == (expected if reference else b"")
    assert len(held) == len(reference) and list(held) == sorted(reference)
    assert held.missing() == [i for i in range(1, count + 1) if i not in reference]
    assert held.complete == (len(reference) == count)
    assert all((i in held) == (i in reference) for i in range(-1, count + 3))
    assert ChunkSet(count, expected) == held and ChunkSet(count, expected).bits == expected
    assert held.copy() == held and ChunkSet.full(count).bits == _bitfield(count, set(range(1, count + 1)))
