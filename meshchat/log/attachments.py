"""Attachments: what a message says about its files, and how a file's bytes are named and checked.

A file travels apart from the message that carries it. The message (``msg.post``, field ``files``) holds a
small *descriptor* for each file: its blob id, size, name, MIME type and, for an image, a thumbnail of a few
KB, so everyone sees the picture with the message, however slow the link. The file itself is a *blob*, named
by its content and split into chunks of :data:`CHUNK_SIZE` bytes::

    h_i     = BLAKE2b-256(chunk_i)                          i = 1 .. n, n = ceil(size / CHUNK_SIZE)
    index   = h_1 || h_2 || ... || h_n
    blob id = BLAKE2b-256(b"meshchat/v1/blob" || size as 8 bytes big-endian || index)

The signed entry commits to the blob id, the blob id to every chunk's hash: a node that fetches a file checks
each chunk as it arrives (a bad one is caught before the next, and its sender is known), resumes after a cut
with the chunks it has, and takes chunks from several peers at once. The index is fetched first (it is part
0 of a blob, checked against the id); a file of one chunk needs none.

Pure: hashing and checking only (no files, no network). Blobs on disk are ``meshchat.blobs``; on the wire,
``meshchat.proto.blobs``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from meshchat.log.codec import Value

CHUNK_SIZE = 256 * 1024
HASH_SIZE = 32
MAX_BLOB_SIZE = 2 * 1024**3  # the format's limit: the index of the largest blob is one chunk (8,192 hashes)
MAX_CHUNKS = -(-MAX_BLOB_SIZE // CHUNK_SIZE)
MAX_FILES = 8  # files on one message
MAX_THUMB = 8 * 1024  # bytes of thumbnail in a descriptor (the whole entry is at most 64 KiB)
MAX_FILE_NAME = 255  # characters
MAX_TYPE = 127
MAX_PIXELS_SIDE = 65_535
BLOB_CONTEXT = b"meshchat/v1/blob"
THUMB_MAGIC = b"\xff\xd8\xff"  # a thumbnail is a JPEG
MIME_PATTERN = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")


class AttachmentError(ValueError):
    """Bytes that do not match what an attachment's descriptor commits to."""


def chunk_count(size: int) -> int:
    """How many chunks a blob of ``size`` bytes has (at least one)."""
    return max(1, -(-size // CHUNK_SIZE))


def chunk_span(size: int, index: int) -> tuple[int, int]:
    """``(offset, length)`` of chunk ``index`` (from 1) in a blob of ``size`` bytes."""
    if not 1 <= index <= chunk_count(size):
        raise ValueError(f"a blob of {size} bytes has no chunk {index}")
    offset = (index - 1) * CHUNK_SIZE
    return offset, min(CHUNK_SIZE, size - offset)


def chunk_hash(data: bytes | memoryview) -> bytes:
    return hashlib.blake2b(data, digest_size=HASH_SIZE).digest()


def blob_id(size: int, index: bytes) -> bytes:
    """The id of a blob of ``size`` bytes whose chunk hashes, in order, are ``index``."""
    hasher = hashlib.blake2b(BLOB_CONTEXT, digest_size=HASH_SIZE)
    hasher.update(size.to_bytes(8, "big"))
    hasher.update(index)
    return hasher.digest()


def check_index(blob: bytes, size: int, index: bytes) -> None:
    """Raise :class:`AttachmentError` unless ``index`` is the chunk hash list that ``blob`` commits to."""
    if len(index) != chunk_count(size) * HASH_SIZE or blob_id(size, index) != blob:
        raise AttachmentError("the chunk list does not match the blob id")


def hash_chunks(chunks: Iterable[bytes | memoryview]) -> bytes:
    """The index of a blob from its chunks, in order."""
    return b"".join(chunk_hash(c) for c in chunks)


@dataclass(frozen=True, slots=True)
class Attachment:
    """One file of a message, as its descriptor says (the file itself is the blob ``blob``)."""

    blob: bytes
    size: int
    name: str
    type: str
    thumb: bytes | None = None  # a JPEG of a few KB, for images
    width: int | None = None  # the image's size in pixels, if it is one
    height: int | None = None

    @property
    def chunks(self) -> int:
        return chunk_count(self.size)

    @property
    def is_image(self) -> bool:
        return self.type.startswith("image/")

    def descriptor(self) -> dict[str, Value]:
        """The descriptor as the entry carries it (a map; optional fields left out when absent)."""
        out: dict[str, Value] = {"blob": self.blob, "size": self.size, "name": self.name, "type": self.type}
        if self.thumb is not None:
            out["thumb"] = self.thumb
        if self.width is not None and self.height is not None:
            out["w"], out["h"] = self.width, self.height
        return out


def _is_name(v: object) -> bool:
    """A file's name, not a path: no separators, no NUL, not ``.`` or ``..``. Other characters are kept as the
    sender wrote them (readers show them through ``safe_text``, and saving makes its own safe name)."""
    return (
        isinstance(v, str)
        and 0 < len(v) <= MAX_FILE_NAME
        and v.strip() != ""
        and not any(c in v for c in "/\\\x00")
        and v not in (".", "..")
    )


def _is_dimension(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_PIXELS_SIDE


def parse_descriptor(v: object) -> Attachment | None:
    """A descriptor from an entry body, or ``None`` if it does not fit (never raises)."""
    if not isinstance(v, dict) or not {"blob", "size", "name", "type"} <= v.keys() <= _DESCRIPTOR_KEYS:
        return None
    blob, size, name, mime = v["blob"], v["size"], v["name"], v["type"]
    thumb, width, height = v.get("thumb"), v.get("w"), v.get("h")
    if not (isinstance(blob, bytes) and len(blob) == HASH_SIZE):
        return None
    if not (isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= MAX_BLOB_SIZE):
        return None
    if not _is_name(name) or not (isinstance(mime, str) and len(mime) <= MAX_TYPE and MIME_PATTERN.fullmatch(mime)):
        return None
    if thumb is not None and not (
        isinstance(thumb, bytes) and len(thumb) <= MAX_THUMB and thumb.startswith(THUMB_MAGIC)
    ):
        return None
    if ("w" in v) != ("h" in v) or ("w" in v and not (_is_dimension(width) and _is_dimension(height))):
        return None
    assert isinstance(name, str)
    return Attachment(blob, size, name, mime, thumb, width, height)


_DESCRIPTOR_KEYS = frozenset({"blob", "size", "name", "type", "thumb", "w", "h"})


def is_file_list(v: object) -> bool:
    """The ``files`` field of a ``msg.post``: 1 to :data:`MAX_FILES` descriptors that each fit."""
    return isinstance(v, list) and 0 < len(v) <= MAX_FILES and all(parse_descriptor(d) is not None for d in v)


def attachments_of(body: Mapping[str, Value]) -> tuple[Attachment, ...]:
    """The attachments of a ``msg.post`` body (none if it has none, or its ``files`` field does not fit)."""
    files = body.get("files")
    if not isinstance(files, list) or not is_file_list(files):
        return ()
    return tuple(a for a in map(parse_descriptor, files) if a is not None)


def _reversed_bits(byte: int) -> int:
    return int(f"{byte:08b}"[::-1], 2)


_BIT_REVERSED = bytes(_reversed_bits(b) for b in range(256))  # a byte with its bits in the other order


class ChunkSet:
    """Which chunks of a blob of ``count`` chunks someone holds: a bitfield, chunk ``i`` (from 1) at bit
    ``i - 1``, most significant bit of each byte first, ``ceil(count / 8)`` bytes (the wire and the disk
    both carry it so). An empty bitfield holds nothing.

    Held in memory as one integer, :attr:`mask`, chunk ``i`` at its bit ``i - 1``: counting, testing and
    walking the chunks are then integer operations done in C (a count per stored chunk was a Python loop
    over the bytes), and a fetch plans with whole sets at once (what is missing, unasked and held by a peer
    with room). The bytes are made only to be sent or saved."""

    __slots__ = ("count", "mask")

    def __init__(self, count: int, bits: bytes | bytearray = b"") -> None:
        if not 1 <= count <= MAX_CHUNKS:
            raise ValueError(f"a blob has 1 to {MAX_CHUNKS} chunks")
        size = -(-count // 8)
        if bits and len(bits) != size:
            raise ValueError(f"a bitfield of {count} chunks is {size} bytes")
        mask = int.from_bytes(bytes(bits).translate(_BIT_REVERSED), "little") if bits else 0
        if mask >> count:
            raise ValueError("a bitfield names chunks past the blob's end")
        self.count = count
        self.mask = mask  # chunk i at bit i - 1

    @classmethod
    def full(cls, count: int) -> ChunkSet:
        held = cls(count)
        held.mask = (1 << count) - 1
        return held

    def copy(self) -> ChunkSet:
        other = ChunkSet(self.count)
        other.mask = self.mask
        return other

    @property
    def bits(self) -> bytes:
        """The bitfield, all ``ceil(count / 8)`` bytes of it (what the disk keeps)."""
        return self.mask.to_bytes(-(-self.count // 8), "little").translate(_BIT_REVERSED)

    @property
    def missing_mask(self) -> int:
        """The chunks not held, as a :attr:`mask`."""
        return ((1 << self.count) - 1) & ~self.mask

    def __contains__(self, index: object) -> bool:
        if not isinstance(index, int) or not 1 <= index <= self.count:
            return False
        return bool(self.mask >> (index - 1) & 1)

    def add(self, index: int) -> None:
        if not 1 <= index <= self.count:
            raise ValueError(f"no chunk {index} in a blob of {self.count}")
        self.mask |= 1 << (index - 1)

    def discard(self, index: int) -> None:
        if 1 <= index <= self.count:
            self.mask &= ~(1 << (index - 1))

    def __len__(self) -> int:
        return self.mask.bit_count()

    def __iter__(self) -> Iterator[int]:
        return chunks_in(self.mask)

    def missing(self) -> list[int]:
        return list(chunks_in(self.missing_mask))

    @property
    def complete(self) -> bool:
        return self.mask == (1 << self.count) - 1

    def encode(self) -> bytes:
        """The bitfield to send: empty when nothing is held."""
        return self.bits if self.mask else b""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChunkSet) and (self.count, self.mask) == (other.count, other.mask)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ChunkSet({self.count}, {len(self)} held)"


def chunks_in(mask: int) -> Iterator[int]:
    """The chunks of a :attr:`ChunkSet.mask`, in order (chunk ``i`` at bit ``i - 1``)."""
    while mask:
        lowest = mask & -mask
        yield lowest.bit_length()
        mask ^= lowest
