"""Log streams: the one file format that carries raw entries (``log.msgpack``, ``forks.msgpack``, bundles).

A log stream is a sequence of msgpack ``bin`` values, each with the shortest length prefix (``c4`` for
lengths below 256, ``c5`` below 65,536, ``c6`` otherwise). Frame 0 holds the stream's header, a canonical
msgpack map; every later frame holds one raw entry, exactly the bytes its author signed. Any msgpack library
can read it, and nothing is re-encoded on the way: an entry's bytes, and so its id, come out as they went in.

Reading is strict and bounded because a stream is untrusted input: every frame is at most
``MAX_ENTRY_SIZE`` bytes, a non-minimal length prefix or any other type byte is an error, a frame cut short is
an error, and so is a stream holding more or fewer entries than its header promises. Errors name the frame
and its byte offset.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from meshchat.export.errors import BundleFormatError
from meshchat.log.codec import DecodeError, pack, unpack_canonical
from meshchat.log.entry import ID_SIZE, MAX_ENTRY_SIZE, MAX_SEQ

FORMAT = "meshchat/log"
VERSION = 1
PARTS = ("chains", "forks", "bundle")
MAX_HEADER = 4096
_HEADER_KEYS = frozenset({"format", "v", "team", "part", "entries", "from", "made"})


@dataclass(frozen=True, slots=True)
class StreamHeader:
    """What frame 0 says: which team, which part of an export (or a sneakernet bundle), how many entries
    follow, which node wrote it and when (ms since the epoch)."""

    team: bytes
    part: str
    entries: int
    made_by: bytes
    made: int

    def encode(self) -> bytes:
        return pack(
            {
                "format": FORMAT,
                "v": VERSION,
                "team": self.team,
                "part": self.part,
                "entries": self.entries,
                "from": self.made_by,
                "made": self.made,
            }
        )

    @classmethod
    def decode(cls, data: bytes, *, where: str) -> StreamHeader:
        try:
            value = unpack_canonical(data, max_len=MAX_HEADER, max_items=16)
        except DecodeError as exc:
            raise BundleFormatError(f"{where}: the header is not canonical msgpack ({exc})") from None
        if not isinstance(value, dict) or value.get("format") != FORMAT:
            raise BundleFormatError(f"{where} is not a meshchat log stream")
        if value.get("v") != VERSION:
            raise BundleFormatError(f"{where}: log stream version {value.get('v')!r} is not supported (only {VERSION})")
        if set(value) != _HEADER_KEYS:
            raise BundleFormatError(f"{where}: the header has fields {sorted(value)}, expected {sorted(_HEADER_KEYS)}")
        team, part, entries, made_by, made = (value[k] for k in ("team", "part", "entries", "from", "made"))
        if not (isinstance(team, bytes) and len(team) == ID_SIZE and isinstance(made_by, bytes) and len(made_by) == 32):
            raise BundleFormatError(f"{where}: the header's team and from must be 32-byte keys")
        if part not in PARTS:
            raise BundleFormatError(f"{where}: unknown part {part!r} (one of {', '.join(PARTS)})")
        for name, number in (("entries", entries), ("made", made)):
            if type(number) is not int or not 0 <= number <= MAX_SEQ:
                raise BundleFormatError(f"{where}: the header's {name} must be a non-negative integer")
        assert isinstance(part, str) and isinstance(entries, int) and isinstance(made, int)
        return cls(team, part, entries, made_by, made)


@dataclass(frozen=True, slots=True)
class Frame:
    """One entry frame: its number (1 is the first entry; 0 is the header), where it starts, its bytes."""

    index: int
    offset: int
    data: bytes


def frame_prefix(length: int) -> bytes:
    """The shortest msgpack ``bin`` prefix for ``length`` bytes."""
    if length < 0x100:
        return b"\xc4" + bytes([length])
    if length < 0x10000:
        return b"\xc5" + struct.pack(">H", length)
    return b"\xc6" + struct.pack(">I", length)


class StreamWriter:
    """Writes a header and then entries. ``finish`` checks that as many entries went out as were promised."""

    def __init__(self, out: BinaryIO, header: StreamHeader) -> None:
        self.out = out
        self.header = header
        self.written = 0
        self.bytes = 0
        self._write(header.encode())

    def _write(self, data: bytes) -> None:
        prefix = frame_prefix(len(data))
        self.out.write(prefix)
        self.out.write(data)
        self.bytes += len(prefix) + len(data)

    def write(self, raw: bytes) -> None:
        if len(raw) > MAX_ENTRY_SIZE:
            raise ValueError(f"an entry of {len(raw)} bytes cannot be framed")
        self._write(raw)
        self.written += 1

    def finish(self) -> None:
        if self.written != self.header.entries:
            raise ValueError(f"promised {self.header.entries} entries, wrote {self.written}")


CHUNK = 1 << 20


class _Buffered:
    """Reads a stream in large chunks: one system call per megabyte, not three per frame. (Small reads
    release and retake the GIL each time, which starves the threads that check signatures meanwhile.)"""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.buf = b""
        self.pos = 0

    def take(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end of the stream."""
        if len(self.buf) - self.pos < n:
            parts = [self.buf[self.pos :]]
            have = len(parts[0])
            while have < n:
                chunk = self.stream.read(max(CHUNK, n - have))
                if not chunk:
                    break
                parts.append(chunk)
                have += len(chunk)
            self.buf, self.pos = b"".join(parts), 0
        data = self.buf[self.pos : self.pos + n]
        self.pos += len(data)
        return data


def read_header(stream: BinaryIO, *, where: str) -> StreamHeader:
    """Read frame 0 of a log stream. Reads exactly the header's bytes, so the entries can follow."""
    data = _read_frame(stream.read, 0, 0, MAX_HEADER, where)
    if data is None:
        raise BundleFormatError(f"{where} is empty (not a meshchat log stream)")
    return StreamHeader.decode(data, where=where)


def read_entries(stream: BinaryIO, header: StreamHeader, *, where: str) -> Iterator[Frame]:
    """The entry frames following the header, checked against the count the header promises."""
    position = stream.tell()
    take = _Buffered(stream).take
    index = 0
    while True:
        data = _read_frame(take, index + 1, position, MAX_ENTRY_SIZE, where)
        if data is None:
            break
        index += 1
        if index > header.entries:
            raise BundleFormatError(
                f"{where}: frame {index} at byte {position}: more entries than the {header.entries} the header promises"
            )
        yield Frame(index, position, data)
        position += len(frame_prefix(len(data))) + len(data)
    if index != header.entries:
        raise BundleFormatError(
            f"{where} is truncated: the header promises {header.entries} entries, it holds {index} "
            f"(ends at byte {position})"
        )


def _read_frame(take: Callable[[int], bytes], index: int, offset: int, limit: int, where: str) -> bytes | None:
    tag = take(1)
    if not tag:
        return None
    here = f"{where}: frame {index} at byte {offset}"
    if tag == b"\xc4":
        size_bytes, minimum = 1, 0
    elif tag == b"\xc5":
        size_bytes, minimum = 2, 0x100
    elif tag == b"\xc6":
        size_bytes, minimum = 4, 0x10000
    else:
        raise BundleFormatError(f"{here} is not a msgpack bin frame (type byte 0x{tag[0]:02x})")
    size_raw = take(size_bytes)
    if len(size_raw) != size_bytes:
        raise BundleFormatError(f"{here} is truncated inside its length prefix")
    size = int.from_bytes(size_raw, "big")
    if size < minimum:
        raise BundleFormatError(f"{here} has a non-minimal length prefix")
    if size > limit:
        raise BundleFormatError(f"{here} declares {size} bytes, more than the limit of {limit}")
    data = take(size)
    if len(data) != size:
        raise BundleFormatError(f"{here} is truncated: it declares {size} bytes, {len(data)} remain")
    return data
