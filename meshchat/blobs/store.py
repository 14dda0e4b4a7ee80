"""Blobs on disk: the files of attachments, under the home, by content.

Layout (``HOME/blobs``)::

    ab/<id hex>          a whole blob, checked against its id (mode 0600)
    ab/<id hex>.idx      its chunk hash list (part 0 of the blob on the wire), written before the blob
    partial/<id>.part    a blob being fetched: each chunk written at its offset once it was checked
    partial/<id>.state   what of it is held: msgpack [size, bitfield, index or nil], replaced atomically
                         (with the index, then at most every SAVE_INTERVAL seconds, and when whole)
    tmp/                 files being written; emptied when the store opens

A blob appears under its id only whole and checked: a fetch writes into ``partial/`` each chunk it checked,
and when its last chunk is in, the file is made durable (fsync) and renamed into place. A fetch resumed from
disk (after a restart) trusts nothing the state file counts: a crash may have lost chunks that were written
but never reached the disk, so those chunks are read and hashed again before the blob moves in (chunks
checked on arrival in this run need not be: what was written is what was checked). The state file is not
rewritten for every chunk: a rename over a file costs ~0.7 ms on ext4 (it flushes the new file's data), more
than hashing the chunk; losing its last half second costs only those chunks, fetched again. A file attached
by this node is copied into ``tmp/`` while its chunks are hashed, then renamed. So nothing half-written ever
sits under a blob's name, and a reader of ``ab/<id>`` never needs to check it again.

Chunks are checked against the index as they arrive (``PartialBlob.store_chunk``); the index itself against
the blob id. A blob of one chunk has no index to fetch: its one chunk is checked against the id directly.

The disk filling up raises :class:`~meshchat.store.StorageFullError` with what was needed and what is free;
a fetch is not started without room for the whole blob and :data:`RESERVE` bytes to spare.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import math
import os
import shutil
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar

from meshchat.log.attachments import (
    CHUNK_SIZE,
    HASH_SIZE,
    MAX_BLOB_SIZE,
    AttachmentError,
    ChunkSet,
    blob_id,
    check_index,
    chunk_count,
    chunk_hash,
    chunk_span,
)
from meshchat.log.codec import DecodeError, pack, unpack
from meshchat.store import StorageFullError, StoreError

BLOBS_DIR = "blobs"
RESERVE = 64 * 1024 * 1024  # bytes a fetch leaves free on the disk (the store and the system need room too)
SAVE_INTERVAL = 0.5  # seconds between rewrites of a fetch's state file (its loss costs only chunks to fetch)
MAX_OPEN_FETCHES = 16  # files kept open between uses, of fetches and of whole blobs served, each (least recent closed)
WRITEBACK_BYTES = 8 * 1024 * 1024  # a fetch's written chunks are handed to the disk every this many bytes

_K = TypeVar("_K")


class BlobTooLarge(ValueError):
    """A file over the size this node attaches (or over the format's limit)."""


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A file added to the store: its id, size and chunk hashes, and where it now is."""

    blob: bytes
    size: int
    index: bytes
    path: Path


def human_size(size: int) -> str:
    """``size`` bytes as people say it: 812 B, 4.2 KB, 17 MB, 1.4 GB (powers of 1000, as file managers do)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1000
    raise AssertionError("unreachable")


class BlobStore:
    """The blobs of one home. Safe to use from several threads (each partial blob has its own lock)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._partial_dir = root / "partial"
        self._partials: dict[bytes, PartialBlob] = {}
        self._lock = threading.Lock()
        self._open = _OpenFiles()
        self._served = _ServedFiles()
        self._ready = False  # folders made (on the first write: a home on a read-only medium still reads)

    def _prepare(self) -> None:
        if self._ready:
            return
        try:
            for folder in (self.root, self._tmp, self._partial_dir):
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            for leftover in self._tmp.iterdir():  # an interrupted write: never anyone's blob
                with contextlib.suppress(OSError):
                    leftover.unlink()
        except OSError as exc:
            raise _storage_problem(exc, 0) from None
        self._ready = True

    @classmethod
    def of_home(cls, home: Path) -> BlobStore:
        return cls(home / BLOBS_DIR)

    # ---- whole blobs -------------------------------------------------------------------------------------

    def path_of(self, blob: bytes) -> Path:
        name = blob.hex()
        return self.root / name[:2] / name

    def has(self, blob: bytes) -> bool:
        return self.path_of(blob).is_file()

    def held(self) -> Iterator[bytes]:
        """Every whole blob in the store."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for path in folder.iterdir():
                if len(path.name) == 2 * HASH_SIZE and path.name.startswith(folder.name):
                    with contextlib.suppress(ValueError):
                        yield bytes.fromhex(path.name)

    def holdings(self, blob: bytes, size: int) -> ChunkSet:
        """The chunks of ``blob`` this node holds (and can serve): all, some (a fetch under way), or none."""
        count = chunk_count(size)
        if self.has(blob):
            return ChunkSet.full(count)
        partial = self._partials.get(blob) or self._load_partial(blob, size)
        return partial.held.copy() if partial is not None else ChunkSet(count)

    def fraction_held(self, blob: bytes, size: int) -> float:
        """How much of ``blob`` is here: 1.0 whole, 0.0 none of it."""
        if self.has(blob):
            return 1.0
        held = self.holdings(blob, size)
        return len(held) / held.count

    def index(self, blob: bytes, size: int) -> bytes | None:
        """The chunk hash list of a blob we hold whole or in part (``None`` if we hold none of it)."""
        path = self.path_of(blob)
        if path.is_file():
            try:
                index = path.with_name(path.name + ".idx").read_bytes()
                check_index(blob, size, index)
            except (OSError, AttachmentError):  # lost or damaged: the blob itself is checked, so hash it again
                index = self._hash_file(path, size)
                self._write_atomic(path.with_name(path.name + ".idx"), index)
            return index
        partial = self._partials.get(blob) or self._load_partial(blob, size)
        return partial.index if partial is not None else None

    def read_part(self, blob: bytes, size: int, part: int, offset: int, max_bytes: int) -> bytes | None:
        """Up to ``max_bytes`` of part ``part`` (0: the index, i >= 1: chunk i) from ``offset``, or ``None``
        if we do not hold that part."""
        if part == 0:
            index = self.index(blob, size)
            return None if index is None else index[offset : offset + max_bytes]
        start, length = chunk_span(size, part)
        if not 0 <= offset <= length:
            return None
        wanted = min(max_bytes, length - offset)
        data = self._served.read(self.path_of(blob), start + offset, wanted)
        if data is not None:
            return data
        partial = self._partials.get(blob) or self._load_partial(blob, size)
        if partial is None or part not in partial.held:
            return None
        try:  # opened for each read: the file is renamed when whole, and made anew if its fetch starts again
            with partial.data_path.open("rb") as f:
                f.seek(start + offset)
                return f.read(wanted)
        except OSError:
            return None

    def open(self, blob: bytes) -> BinaryIO:
        """A whole blob, for reading (opening with a viewer, saving a copy, an export)."""
        try:
            return self.path_of(blob).open("rb")
        except OSError as exc:
            raise StoreError(f"blob {blob.hex()[:16]} is not here: {exc.strerror or exc}") from None

    # ---- adding a file of ours ---------------------------------------------------------------------------

    def add_file(self, source: Path, *, max_size: int) -> StoredBlob:
        """Copy ``source`` into the store, hashing its chunks on the way (the copy is what gets attached,
        so the file may change afterwards). Raises :class:`BlobTooLarge`, ``OSError`` for a file that cannot
        be read, :class:`StorageFullError`."""
        limit = min(max_size, MAX_BLOB_SIZE)
        with _open_regular(source) as src:
            size_now = os.fstat(src.fileno()).st_size
            if size_now > limit:
                raise BlobTooLarge(
                    f"{source.name} is {human_size(size_now)}; attachments are at most {human_size(limit)}"
                )
            if size_now == 0:
                raise BlobTooLarge(f"{source.name} is empty: nothing to attach")
            self.check_room(size_now, reserve=0)
            too_long = BlobTooLarge(f"{source.name} is larger than {human_size(limit)}, the attachment limit")
            with self._copied_in(src, limit=limit, too_long=too_long, needed=size_now) as (tmp, size, index):
                if size == 0:
                    raise BlobTooLarge(f"{source.name} is empty: nothing to attach")
                blob = blob_id(size, index)
                path = self._install(blob, index, tmp)
        return StoredBlob(blob, size, index, path)

    def add_checked(self, src: BinaryIO, blob: bytes, size: int) -> Path:
        """Take in the blob ``blob`` of ``size`` bytes from ``src`` (a file on a stick: untrusted), hashing
        every chunk on the way; it moves in only if its size and its chunks make exactly ``blob``. Raises
        :class:`AttachmentError` (and keeps nothing) otherwise, :class:`StorageFullError`."""
        if self.has(blob):
            return self.path_of(blob)
        if not 0 < size <= MAX_BLOB_SIZE:
            raise AttachmentError(f"a blob is 1 byte to {human_size(MAX_BLOB_SIZE)}")
        self.check_room(size, reserve=0)
        too_long = AttachmentError(f"longer than the {size:,} bytes its message says")
        with self._copied_in(src, limit=size, too_long=too_long, needed=size) as (tmp, read, index):
            if read != size:
                raise AttachmentError(f"{read:,} bytes where its message says {size:,}")
            if blob_id(size, index) != blob:
                raise AttachmentError("its chunks do not make the file its message names")
            return self._install(blob, index, tmp)

    def add_bytes(self, data: bytes) -> StoredBlob:
        """Store ``data`` as a blob (what a bundle carries, and tests)."""
        if not 0 < len(data) <= MAX_BLOB_SIZE:
            raise BlobTooLarge("a blob is 1 byte to 2 GiB")
        too_long = BlobTooLarge("a blob is 1 byte to 2 GiB")
        with self._copied_in(io.BytesIO(data), limit=len(data), too_long=too_long, needed=len(data)) as copied:
            tmp, size, index = copied
            blob = blob_id(size, index)
            path = self._install(blob, index, tmp)
        return StoredBlob(blob, size, index, path)

    @contextlib.contextmanager
    def _copied_in(
        self, src: BinaryIO, *, limit: int, too_long: Exception, needed: int
    ) -> Iterator[tuple[Path, int, bytes]]:
        """Copy ``src`` into ``tmp/``, hashing its chunks on the way, and make the copy durable: gives
        ``(the copy, its size, its chunk hash list)`` for the caller to check and :meth:`_install`; the copy
        is removed afterwards unless it was moved in. Raises ``too_long`` as soon as ``src`` passes ``limit``
        bytes, :class:`StorageFullError` (``needed``: the size to name) if the disk fills up."""
        self._prepare()
        fd, tmp_name = _temp_in(self._tmp)
        tmp = Path(tmp_name)
        try:
            hashes, size = [], 0
            try:
                with os.fdopen(fd, "wb") as out:
                    while block := src.read(CHUNK_SIZE):
                        size += len(block)
                        if size > limit:
                            raise too_long
                        hashes.append(chunk_hash(block))
                        out.write(block)
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as exc:
                raise _storage_problem(exc, needed) from None
            yield tmp, size, b"".join(hashes)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _install(self, blob: bytes, index: bytes, data_file: Path) -> Path:
        """Move a checked file in under the blob's name (its index first). Nothing if it is there already."""
        path = self.path_of(blob)
        if path.is_file():
            return path
        path.parent.mkdir(mode=0o700, exist_ok=True)
        self._write_atomic(path.with_name(path.name + ".idx"), index)
        os.chmod(data_file, 0o600)
        os.replace(data_file, path)
        _fsync_dir(path.parent)
        return path

    # ---- fetching ----------------------------------------------------------------------------------------

    def partial(self, blob: bytes, size: int) -> PartialBlob:
        """The fetch of ``blob`` (resumed from what the disk holds of it, or new). Check the room first
        (:meth:`check_room`)."""
        self._prepare()
        with self._lock:
            partial = self._partials.get(blob)
            if partial is None:
                partial = self._load_partial(blob, size) or PartialBlob(self, blob, size)
                self._partials[blob] = partial
            return partial

    def forget_partial(self, blob: bytes) -> None:
        """Drop a fetch and what it held (nobody wants the blob any more)."""
        with self._lock:
            partial = self._partials.pop(blob, None)
        if partial is not None:
            self._open.close(partial, dropped=True)
        for suffix in (".part", ".state"):
            with contextlib.suppress(OSError):
                (self._partial_dir / (blob.hex() + suffix)).unlink()

    def partial_blobs(self) -> list[bytes]:
        """Blobs with a fetch under way on disk (to resume after a restart). A fetch whose blob is already in
        (finished just now, or a crash came between moving it in and clearing its state) is cleared here."""
        out: list[bytes] = []
        if not self._partial_dir.is_dir():
            return out
        for path in self._partial_dir.glob("*.state"):
            with contextlib.suppress(ValueError):
                blob = bytes.fromhex(path.stem)
                if self.has(blob):
                    self.forget_partial(blob)
                else:
                    out.append(blob)
        return out

    def _load_partial(self, blob: bytes, size: int) -> PartialBlob | None:
        state = self._partial_dir / (blob.hex() + ".state")
        try:
            raw = state.read_bytes()
        except OSError:
            return None
        try:
            fields = unpack(raw, max_len=MAX_BLOB_SIZE // CHUNK_SIZE * HASH_SIZE + 4096)
            if not (isinstance(fields, list) and len(fields) == 3 and fields[0] == size):
                raise DecodeError("not a partial blob's state")
            _, bits, index = fields
            if not isinstance(bits, bytes) or not (index is None or isinstance(index, bytes)):
                raise DecodeError("not a partial blob's state")
            held = ChunkSet(chunk_count(size), bits)
            if index is not None:
                check_index(blob, size, index)
        except (DecodeError, ValueError):  # damaged: start again rather than trust it
            self.forget_partial(blob)
            return None
        partial = PartialBlob(self, blob, size)
        partial.held, partial.index = held, index
        partial.unchecked = set(held)  # counted by an earlier run: checked again before the blob moves in
        return partial

    def close(self) -> None:
        """Close the files kept open (the node stops): a later chunk or read opens its file again."""
        self._open.close_all()
        self._served.close_all()

    def free_bytes(self) -> int:
        where = self.root if self.root.exists() else self.root.parent
        try:
            return shutil.disk_usage(where).free
        except OSError:
            return 0

    def check_room(self, size: int, *, reserve: int = RESERVE) -> None:
        """Raise :class:`StorageFullError` unless the disk has room for ``size`` more bytes and ``reserve``."""
        free = self.free_bytes()
        if free < size + reserve:
            raise StorageFullError(
                f"the disk is too full for {human_size(size)} (free: {human_size(free)}"
                + (f", and meshchat keeps {human_size(reserve)} free" if reserve else "")
                + "): free some space, then try again"
            )

    # ---- internals ---------------------------------------------------------------------------------------

    def _hash_file(self, path: Path, size: int) -> bytes:
        hashes = []
        with path.open("rb") as f:
            for index in range(1, chunk_count(size) + 1):
                hashes.append(chunk_hash(f.read(chunk_span(size, index)[1])))
        return b"".join(hashes)

    def _write_atomic(self, path: Path, data: bytes, *, durable: bool = True) -> None:
        self._prepare()
        fd, tmp_name = _temp_in(self._tmp)
        try:
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    if durable:
                        out.flush()
                        os.fsync(out.fileno())
                os.chmod(tmp_name, 0o600)
                os.replace(tmp_name, path)
            except OSError as exc:
                raise _storage_problem(exc, len(data)) from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise


class PartialBlob:
    """A blob being fetched: the chunks held so far, checked, and the index once known."""

    def __init__(self, store: BlobStore, blob: bytes, size: int) -> None:
        self.store = store
        self.blob = blob
        self.size = size
        self.count = chunk_count(size)
        self.held = ChunkSet(self.count)
        self.index: bytes | None = None
        self.unchecked: set[int] = set()  # chunks held that this run did not check (a resumed fetch's)
        self.data_path = store._partial_dir / (blob.hex() + ".part")
        self._state_path = store._partial_dir / (blob.hex() + ".state")
        self._lock = threading.Lock()
        self._saved_at = -math.inf  # when the state file was last written (time.monotonic)
        self.dropped = False  # the fetch was given up (its files removed): a chunk arriving now is not written

    @property
    def needs_index(self) -> bool:
        """Whether part 0 must be fetched before chunks can be checked (not for a blob of one chunk)."""
        return self.index is None and self.count > 1

    def set_index(self, index: bytes) -> None:
        """Part 0 arrived: raises :class:`AttachmentError` if it is not the list the blob id commits to."""
        check_index(self.blob, self.size, index)
        with self._lock:
            self.index = index
            self._save()

    def check_chunk(self, part: int, data: bytes | memoryview) -> None:
        """Raise :class:`AttachmentError` unless ``data`` is chunk ``part`` of the blob."""
        _, length = chunk_span(self.size, part)
        if len(data) != length:
            raise AttachmentError(f"chunk {part} is {length} bytes, not {len(data)}")
        digest = chunk_hash(data)
        if self.count == 1:
            if blob_id(self.size, digest) != self.blob:
                raise AttachmentError("the file does not match its blob id")
            return
        if self.index is None:
            raise AttachmentError("a chunk came before the chunk list")
        if self.index[(part - 1) * HASH_SIZE : part * HASH_SIZE] != digest:
            raise AttachmentError(f"chunk {part} does not match its hash")

    def store_chunk(self, part: int, data: bytes | memoryview) -> bool:
        """Check chunk ``part`` and write it; returns whether the blob is now whole (then call
        :meth:`finish`). Raises :class:`AttachmentError` for a bad chunk, :class:`StorageFullError`."""
        self.check_chunk(part, data)
        offset, _ = chunk_span(self.size, part)
        try:
            self.store._open.write(self, data, offset)
        except OSError as exc:
            raise _storage_problem(exc, len(data)) from None
        with self._lock:
            if self.count == 1:
                self.index = chunk_hash(data)
            self.held.add(part)
            self.unchecked.discard(part)
            if self.held.complete or time.monotonic() - self._saved_at >= SAVE_INTERVAL:
                self._save()
            return self.held.complete

    def finish(self) -> Path | None:
        """The last chunk is in: make the file durable, check again the chunks an earlier run counted (a
        crash may have lost them), and move it in under its id if they match (returns its path). Chunks a
        crash lost are dropped from what is held (returns ``None``: fetch them again)."""
        assert self.index is not None
        with self._lock:
            try:
                with self.data_path.open("rb") as f:
                    os.fsync(f.fileno())
                    bad = []
                    for part in sorted(self.unchecked):
                        offset, length = chunk_span(self.size, part)
                        f.seek(offset)
                        if chunk_hash(f.read(length)) != self.index[(part - 1) * HASH_SIZE : part * HASH_SIZE]:
                            bad.append(part)
            except OSError as exc:
                raise _storage_problem(exc, 0) from None
            self.unchecked.clear()
            self.store._open.close(self)
            if bad:
                for part in bad:
                    self.held.discard(part)
                self._save()
                return None
            path = self.store._install(self.blob, self.index, self.data_path)
        self.store.forget_partial(self.blob)
        return path

    def _save(self) -> None:
        self._saved_at = time.monotonic()
        state = pack([self.size, self.held.bits, self.index])
        try:
            self.store._write_atomic(self._state_path, state, durable=False)
        except OSError as exc:
            raise _storage_problem(exc, len(state)) from None


class _KeptOpen(Generic[_K]):
    """Files kept open between uses, at most :data:`MAX_OPEN_FETCHES` of them: the least recently used is
    closed, and opened again when next used. The caller holds :attr:`lock` around every use (and whatever it
    does with the descriptor), so no file is closed under a write or a read."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._fds: OrderedDict[_K, int] = OrderedDict()

    def fd(self, key: _K, path: Path, flags: int) -> int:
        """The descriptor of ``key``'s file, opened (``path``, ``flags``) if it is not open: raises OSError."""
        fd = self._fds.get(key)
        if fd is None:
            fd = self._fds[key] = os.open(path, flags | _CLOEXEC, 0o600)
            if len(self._fds) > MAX_OPEN_FETCHES:
                os.close(self._fds.popitem(last=False)[1])
        else:
            self._fds.move_to_end(key)
        return fd

    def close(self, key: _K) -> None:
        fd = self._fds.pop(key, None)
        if fd is not None:
            os.close(fd)

    def close_all(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


class _OpenFiles:
    """The data files of fetches, kept open between their chunks: one open and one close per file, not per
    chunk (each a system call that drops the GIL, and its return waits for it). At most
    :data:`MAX_OPEN_FETCHES` at once (fetches that stall keep none for long): the least recently written is
    closed, and opened again at its next chunk. All writes take one lock (a write is ~50 us; the hashing
    before it, the long part, runs outside), and so does a fetch being dropped: a chunk that comes after
    never writes, nor recreates, the removed file.

    Every :data:`WRITEBACK_BYTES` written, the disk is asked to start writing them (without waiting): the
    fsync after the last chunk then finds little left to do, where it wrote the whole file (46 ms of a 100 MB
    file's ~470 ms on loopback, with nothing else to do meanwhile)."""

    def __init__(self) -> None:
        self._files: _KeptOpen[PartialBlob] = _KeptOpen()
        self._unsent: dict[PartialBlob, int] = {}  # bytes written since the disk was last asked to take them

    def write(self, partial: PartialBlob, data: bytes | memoryview, offset: int) -> None:
        with self._files.lock:
            if partial.dropped:
                raise StoreError("the fetch of this file was given up")
            fd = self._files.fd(partial, partial.data_path, os.O_WRONLY | os.O_CREAT)
            view = memoryview(data)
            while view:
                written = os.pwrite(fd, view, offset)
                view, offset = view[written:], offset + written
            unsent = self._unsent.get(partial, 0) + len(data)
            if unsent >= WRITEBACK_BYTES and _start_writeback is not None:
                _start_writeback(fd)
                unsent = 0
            self._unsent[partial] = unsent

    def close(self, partial: PartialBlob, *, dropped: bool = False) -> None:
        """Close the file of ``partial`` (it is whole, or ``dropped``: then nothing more is written to it)."""
        with self._files.lock:
            partial.dropped = partial.dropped or dropped
            self._files.close(partial)
            self._unsent.pop(partial, None)

    def close_all(self) -> None:
        with self._files.lock:
            self._files.close_all()
            self._unsent.clear()


class _ServedFiles:
    """Whole blobs being read for peers, kept open between their pieces (at most :data:`MAX_OPEN_FETCHES`,
    the least recently read closed first): a piece is one ``pread``, where it was a ``stat``, an open, a seek,
    a read and a close. Only whole blobs: one never changes nor moves once under its id."""

    def __init__(self) -> None:
        self._files: _KeptOpen[Path] = _KeptOpen()

    def read(self, path: Path, offset: int, length: int) -> bytes | None:
        """``length`` bytes of ``path`` from ``offset`` (fewer at its end), or ``None`` if it is not there."""
        with self._files.lock:
            try:
                return os.pread(self._files.fd(path, path, os.O_RDONLY), length, offset)
            except OSError:
                return None

    def close_all(self) -> None:
        with self._files.lock:
            self._files.close_all()


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _writeback_starter() -> Callable[[int], None] | None:
    """Linux's ``sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)``: start writing a file's dirty pages to the
    disk, without waiting for them (Python's ``os`` lacks it). ``None`` elsewhere: the final fsync does it all."""
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return lambda fd: call(fd, 0, 0, 2)  # a hint: its failure costs only the final fsync's time


_start_writeback = _writeback_starter()


def _open_regular(path: Path) -> BinaryIO:
    """A file the person named (links followed: it is their own file), refusing what is not a regular file
    (a FIFO would hang the read) with a message they can act on."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path} is a directory: attach a file") from None
    except PermissionError:
        raise PermissionError(f"{path}: permission denied") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"{path} is a directory: attach a file")
        if not stat.S_ISREG(mode):
            raise OSError(f"{path} is not a regular file (a pipe, a device or a socket)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _temp_in(folder: Path) -> tuple[int, str]:
    try:
        return tempfile.mkstemp(dir=folder, prefix="blob-")
    except OSError as exc:
        raise _storage_problem(exc, 0) from None


def _storage_problem(exc: OSError, needed: int) -> StoreError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = f" for {human_size(needed)}" if needed else ""
        return StorageFullError(f"the disk is full{what}: free some space, then try again")
    return StoreError(f"cannot write a blob: {exc.strerror or exc}")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
