"""Blobs on disk and images: whole blobs only under their id, fetches checked chunk by chunk, bounded decoding."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from meshchat.blobs import store as store_module
from meshchat.blobs.attach import AttachError, attach_file, attach_files
from meshchat.blobs.images import decode_thumbnail, probe, thumbnail
from meshchat.blobs.store import BlobStore
from meshchat.log.attachments import CHUNK_SIZE, MAX_THUMB, AttachmentError, chunk_span
from meshchat.store import StorageFullError, StoreError


def _photo(path: Path, size: tuple[int, int] = (3000, 2000)) -> Path:
    image = Image.new("RGB", size, (30, 90, 160))
    for x in range(0, size[0], 37):
        image.paste((x % 256, 200, 40), (x, 0, x + 5, size[1]))
    image.save(path, "JPEG", quality=92)
    return path


def test_a_file_is_copied_in_under_its_id_and_served_by_parts(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = os.urandom(2 * CHUNK_SIZE + 100)
    (tmp_path / "f.bin").write_bytes(data)
    stored = store.add_file(tmp_path / "f.bin", max_size=10**9)
    (tmp_path / "f.bin").write_bytes(b"changed later")  # what was attached is the copy
    assert store.has(stored.blob) and stored.path.read_bytes() == data
    assert oct(stored.path.stat().st_mode & 0o777) == "0o600"
    assert store.read_part(stored.blob, len(data), 0, 0, 10**6) == stored.index
    assert store.read_part(stored.blob, len(data), 3, 0, 10**6) == data[2 * CHUNK_SIZE :]
    assert store.read_part(stored.blob, len(data), 2, 10, 5) == data[CHUNK_SIZE + 10 : CHUNK_SIZE + 15]
    assert store.holdings(stored.blob, len(data)).complete
    assert list(store.held()) == [stored.blob]
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_a_fetch_checks_every_chunk_and_moves_in_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "SAVE_INTERVAL", 0.0)  # the state file counts every chunk at once
    source = BlobStore(tmp_path / "a")
    data = os.urandom(3 * CHUNK_SIZE - 7)
    stored = source.add_bytes(data)
    store = BlobStore(tmp_path / "b")
    partial = store.partial(stored.blob, len(data))
    assert partial.needs_index
    with pytest.raises(AttachmentError):
        partial.store_chunk(1, data[:CHUNK_SIZE])  # nothing to check it against yet
    with pytest.raises(AttachmentError):
        partial.set_index(b"\x00" * len(stored.index))
    partial.set_index(stored.index)
    with pytest.raises(AttachmentError):
        partial.store_chunk(2, b"\x00" * CHUNK_SIZE)  # a hostile peer's chunk
    assert partial.store_chunk(3, data[2 * CHUNK_SIZE :]) is False
    assert partial.store_chunk(1, data[:CHUNK_SIZE]) is False
    assert not store.has(stored.blob) and len(store.holdings(stored.blob, len(data))) == 2
    assert store.read_part(stored.blob, len(data), 1, 0, 10) == data[:10]  # what is checked is served
    assert store.read_part(stored.blob, len(data), 2, 0, 10) is None
    # A restart resumes from what the disk holds.
    again = BlobStore(tmp_path / "b").partial(stored.blob, len(data))
    assert list(again.held) == [1, 3] and again.index == stored.index
    assert again.store_chunk(2, data[CHUNK_SIZE : 2 * CHUNK_SIZE]) is True
    path = again.finish()
    assert path is not None and path.read_bytes() == data
    assert store.has(stored.blob) and store.partial_blobs() == []


def test_a_chunk_lost_in_a_crash_is_found_before_the_blob_moves_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "SAVE_INTERVAL", 0.0)
    data = os.urandom(3 * CHUNK_SIZE)
    stored = BlobStore(tmp_path / "a").add_bytes(data)
    partial = BlobStore(tmp_path / "b").partial(stored.blob, len(data))
    partial.set_index(stored.index)
    partial.store_chunk(1, data[:CHUNK_SIZE])
    partial.store_chunk(2, data[CHUNK_SIZE : 2 * CHUNK_SIZE])
    with partial.data_path.open("r+b") as f:  # a crash: the state file counts chunk 2, which never reached the disk
        f.seek(CHUNK_SIZE + 5)
        f.write(b"\x00\x00")
    store = BlobStore(tmp_path / "b")  # the node starts again and resumes the fetch
    resumed = store.partial(stored.blob, len(data))
    assert list(resumed.held) == [1, 2]
    assert resumed.store_chunk(3, data[2 * CHUNK_SIZE :]) is True
    assert resumed.finish() is None
    assert not store.has(stored.blob) and list(resumed.held) == [1, 3]
    resumed.store_chunk(2, data[CHUNK_SIZE : 2 * CHUNK_SIZE])
    assert resumed.finish() is not None and store.path_of(stored.blob).read_bytes() == data


def test_the_state_of_a_fetch_is_saved_every_half_second_not_every_chunk(tmp_path: Path) -> None:
    """Rewriting the state file per chunk cost more than hashing the chunk (a rename over a file flushes it on
    ext4); chunks since the last save are only fetched again after a crash."""
    data = os.urandom(4 * CHUNK_SIZE)
    stored = BlobStore(tmp_path / "a").add_bytes(data)
    partial = BlobStore(tmp_path / "b").partial(stored.blob, len(data))
    partial.set_index(stored.index)  # saved at once: without it no chunk can be checked
    partial.store_chunk(1, data[:CHUNK_SIZE])
    partial.store_chunk(2, data[CHUNK_SIZE : 2 * CHUNK_SIZE])
    assert list(BlobStore(tmp_path / "b").partial(stored.blob, len(data)).held) == []
    partial._saved_at -= store_module.SAVE_INTERVAL  # half a second later
    partial.store_chunk(3, data[2 * CHUNK_SIZE : 3 * CHUNK_SIZE])
    assert list(BlobStore(tmp_path / "b").partial(stored.blob, len(data)).held) == [1, 2, 3]
    assert partial.store_chunk(4, data[3 * CHUNK_SIZE :]) is True  # whole: saved, whatever the time
    assert BlobStore(tmp_path / "b").partial(stored.blob, len(data)).held.complete


def test_a_crash_between_moving_a_blob_in_and_clearing_its_fetch_leaves_no_fetch_behind(tmp_path: Path) -> None:
    data = os.urandom(CHUNK_SIZE + 3)
    stored = BlobStore(tmp_path / "a").add_bytes(data)
    store = BlobStore(tmp_path / "b")
    partial = store.partial(stored.blob, len(data))
    partial.set_index(stored.index)
    partial.store_chunk(1, data[:CHUNK_SIZE])
    assert partial.store_chunk(2, data[CHUNK_SIZE:]) is True
    state = partial.data_path.with_suffix(".state").read_bytes()
    assert partial.finish() is not None
    partial.data_path.with_suffix(".state").write_bytes(state)  # as if the crash came before it was cleared
    again = BlobStore(tmp_path / "b")
    assert again.partial_blobs() == [] and again.has(stored.blob)
    assert list((tmp_path / "b" / "partial").iterdir()) == []


def test_one_chunk_blobs_are_checked_against_the_id_itself(tmp_path: Path) -> None:
    stored = BlobStore(tmp_path / "a").add_bytes(b"small file")
    partial = BlobStore(tmp_path / "b").partial(stored.blob, 10)
    assert not partial.needs_index
    with pytest.raises(AttachmentError):
        partial.store_chunk(1, b"small fil!")
    assert partial.store_chunk(1, b"small file") is True
    assert partial.finish() is not None


def test_attaching_refuses_what_it_cannot_carry_and_says_the_limit(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    (tmp_path / "big.bin").write_bytes(b"x" * 5000)
    with pytest.raises(AttachError, match=r"5 KB; attachments are at most 4 KB"):
        attach_file(store, tmp_path / "big.bin", max_size=4000)
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(AttachError, match="empty"):
        attach_file(store, tmp_path / "empty", max_size=4000)
    with pytest.raises(AttachError, match="does not exist"):
        attach_file(store, tmp_path / "nope.jpg", max_size=4000)
    with pytest.raises(AttachError, match="directory"):
        attach_file(store, tmp_path, max_size=4000)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(AttachError, match="not a regular file"):  # and does not hang waiting for a writer
        attach_file(store, tmp_path / "fifo", max_size=4000)
    with pytest.raises(AttachError, match="at most 8 files"):
        attach_files(store, [tmp_path / "big.bin"] * 9, max_size=10**6)
    assert list(store.held()) == []


def test_no_room_on_the_disk_is_said_before_copying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = BlobStore(tmp_path / "blobs")
    (tmp_path / "f.bin").write_bytes(b"x" * 5000)
    monkeypatch.setattr(store, "free_bytes", lambda: 100)
    with pytest.raises(StorageFullError, match=r"too full for 5 KB \(free: 100 B"):
        store.add_file(tmp_path / "f.bin", max_size=10**6)
    with pytest.raises(AttachError, match="too full"):
        attach_file(store, tmp_path / "f.bin", max_size=10**6)


def test_a_photo_gets_its_type_size_and_a_small_thumbnail(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    photo = _photo(tmp_path / "IMG_0001.JPG")
    attachment = attach_file(store, photo, max_size=10**8)
    assert (attachment.type, attachment.width, attachment.height) == ("image/jpeg", 3000, 2000)
    assert attachment.thumb is not None and len(attachment.thumb) <= MAX_THUMB
    small = decode_thumbnail(attachment.thumb)
    assert small is not None and max(small.size) <= 192 and small.size[0] > small.size[1]
    tight = thumbnail(photo, budget=1500)
    assert tight is not None and len(tight) <= 1500
    # A file named .jpg that is no image is a plain file; a PNG named .jpg is a PNG.
    (tmp_path / "fake.jpg").write_bytes(b"not an image at all" * 10)
    assert attach_file(store, tmp_path / "fake.jpg", max_size=10**6).type == "application/octet-stream"
    Image.new("RGB", (10, 10)).save(tmp_path / "real.jpg", "PNG")
    assert attach_file(store, tmp_path / "real.jpg", max_size=10**6).type == "image/png"
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4 ...")
    assert attach_file(store, tmp_path / "notes.pdf", max_size=10**6).type == "application/pdf"


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's opening)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(100_000, 100_000))
    assert probe(bomb) is None and thumbnail(bomb) is None
    attachment = attach_file(BlobStore(tmp_path / "blobs"), bomb, max_size=10**6)
    assert attachment.type == "application/octet-stream" and attachment.thumb is None
    (tmp_path / "cut.jpg").write_bytes(_photo(tmp_path / "whole.jpg").read_bytes()[:2000])  # truncated
    assert thumbnail(tmp_path / "cut.jpg") is None


def test_a_peers_thumbnail_is_decoded_only_if_small_and_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGB", (600, 10)).save(out, "JPEG")
    assert decode_thumbnail(out.getvalue()) is None  # wider than any thumbnail
    out = io.BytesIO()
    Image.new("RGB", (60, 10)).save(out, "PNG")
    assert decode_thumbnail(out.getvalue()) is None
    assert decode_thumbnail(b"\xff\xd8\xff garbage") is None
    out = io.BytesIO()
    Image.new("RGB", (60, 10), (255, 0, 0)).save(out, "JPEG")
    image = decode_thumbnail(out.getvalue())
    assert image is not None and image.size == (60, 10)


def test_reading_parts_never_reads_outside_the_chunk(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = os.urandom(CHUNK_SIZE + 10)
    stored = store.add_bytes(data)
    start, length = chunk_span(len(data), 2)
    assert store.read_part(stored.blob, len(data), 2, 0, 10**6) == data[start : start + length]
    assert store.read_part(stored.blob, len(data), 2, 11, 10) is None
    with pytest.raises(ValueError):
        store.read_part(stored.blob, len(data), 3, 0, 10)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _opened(monkeypatch: pytest.MonkeyPatch, suffix: str = "") -> list[str]:
    """The paths (ending with ``suffix``) the blob store opens from now on, in order."""
    opened: list[str] = []
    real_open = os.open

    def counted(path: str | Path, flags: int, mode: int = 0o777) -> int:
        if str(path).endswith(suffix):
            opened.append(str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(store_module.os, "open", counted)
    return opened


def test_a_fetch_opens_its_file_once_and_closes_it_when_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each chunk opened and closed the fetch's file: two system calls per chunk in the worker thread, each
    dropping the GIL that the node's trio thread then had to hand back. Now once per fetch."""
    data = os.urandom(5 * CHUNK_SIZE)
    stored = BlobStore(tmp_path / "a").add_bytes(data)
    store = BlobStore(tmp_path / "b")
    opened = _opened(monkeypatch, ".part")
    before = _open_fds()
    partial = store.partial(stored.blob, len(data))
    partial.set_index(stored.index)
    whole = [partial.store_chunk(i, data[(i - 1) * CHUNK_SIZE : i * CHUNK_SIZE]) for i in range(1, 6)]
    assert whole == [False] * 4 + [True] and len(opened) == 1
    assert partial.finish() == store.path_of(stored.blob) and store.path_of(stored.blob).read_bytes() == data
    assert _open_fds() == before


def test_fetches_keep_few_files_open_and_one_given_up_is_never_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MAX_OPEN_FETCHES", 2)
    source = BlobStore(tmp_path / "a")
    files = [os.urandom(1000 + i) for i in range(3)]
    blobs = [source.add_bytes(data).blob for data in files]
    store = BlobStore(tmp_path / "b")
    before = _open_fds()
    partials = [store.partial(blob, len(data)) for blob, data in zip(blobs, files, strict=True)]
    assert all(p.store_chunk(1, data) for p, data in zip(partials, files, strict=True))
    assert _open_fds() == before + 2  # the least recently written was closed
    store.forget_partial(blobs[2])
    assert _open_fds() == before + 1
    with pytest.raises(StoreError):
        partials[2].store_chunk(1, files[2])  # a chunk that was under way when the fetch was given up
    assert not partials[2].data_path.exists()
    store.close()  # the node stops
    assert _open_fds() == before
    assert partials[0].finish() == store.path_of(blobs[0])  # opened again when needed
    assert store.path_of(blobs[0]).read_bytes() == files[0] and _open_fds() == before


def test_a_fetch_hands_its_chunks_to_the_disk_as_it_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole file waited in the page cache for the fsync after its last chunk: 46 ms of a 100 MB file's
    ~470 ms on loopback, with nothing else to do. The disk is now asked to start writing every few MB."""
    started: list[int] = []
    monkeypatch.setattr(store_module, "WRITEBACK_BYTES", 2 * CHUNK_SIZE)
    monkeypatch.setattr(store_module, "_start_writeback", started.append)
    data = os.urandom(5 * CHUNK_SIZE)
    stored = BlobStore(tmp_path / "a").add_bytes(data)
    partial = BlobStore(tmp_path / "b").partial(stored.blob, len(data))
    partial.set_index(stored.index)
    for i in range(1, 6):
        partial.store_chunk(i, data[(i - 1) * CHUNK_SIZE : i * CHUNK_SIZE])
        assert len(started) == i // 2  # after chunks 2 and 4
    assert partial.finish() is not None and partial.store.path_of(stored.blob).read_bytes() == data


def test_serving_a_whole_blob_opens_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each piece served was a stat, an open, a seek, a read and a close on the sender's trio thread: now one
    pread on a file kept open (a whole blob never changes), closed with the store."""
    data = os.urandom(3 * CHUNK_SIZE + 9)
    store = BlobStore(tmp_path / "a")
    stored = store.add_bytes(data)
    opened = _opened(monkeypatch)
    before = _open_fds()
    for part in (1, 2, 3, 4):
        start, length = chunk_span(len(data), part)
        for offset in range(0, length, 100_000):
            piece = store.read_part(stored.blob, len(data), part, offset, 100_000)
            assert piece == data[start + offset : start + min(length, offset + 100_000)]
    assert opened == [str(stored.path)] and _open_fds() == before + 1
    store.close()
    assert _open_fds() == before
