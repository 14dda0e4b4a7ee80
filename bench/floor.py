"""The floor: the least work issue 17 requires to move a file between two processes on loopback, in the
leanest Python there is, beside a raw copy of the same file in the same run.

    python bench/floor.py                 # one 100 MB file, 5 rounds of every variant
    python bench/floor.py --mb 20 --repeat 3

The work a node cannot skip: the sender reads each 256 KiB piece and seals it with an AEAD (the link is
encrypted and authenticated); the receiver opens it, hashes it with BLAKE2b-256 (each chunk is checked on
arrival) and writes it, and fsyncs the file at the end (nothing is "here" until it is durable). Here that work
runs with nothing around it: fixed-size frames, no framing, no protocol, no event loop, no flow control, no
sync of entries beside it, buffers sealed and opened in place through libsodium. Whatever a node does on top
costs more, so on this machine this rate bounds what ``bench/blobs.py`` can show; its ratio to the raw copy
bounds the ratio issue 17 asks for (at least 0.5).

Variants, each a round in the same run, alternating (the machine is noisy):

- the raw copy (:func:`raw_copy`, the very baseline ``bench/blobs.py`` measures): read and send; receive,
  write, fsync;
- ``xchacha``: XChaCha20-Poly1305, meshchat's link cipher, the receiver in one thread, or in two (hashing and
  writing handed to a second thread, as a node's storing worker does);
- ``aes``: AES-256-GCM (libsodium has it only where the CPU has AES-NI), one or two receiver threads: what a
  negotiated faster cipher would allow.

The last lines give each variant's median and its ratio to the raw copy's median.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libnacl

MB = 1_000_000
PIECE = 256 * 1024  # meshchat's chunk
TAG = 16
KEY = bytes(range(32))  # a benchmark's key: the cost, not the secret, is measured

Aead = tuple[Callable[..., int], Callable[..., int], int]  # seal, open, nonce size
CIPHERS: dict[str, Aead] = {
    "xchacha": (
        libnacl.nacl.crypto_aead_xchacha20poly1305_ietf_encrypt,
        libnacl.nacl.crypto_aead_xchacha20poly1305_ietf_decrypt,
        24,
    ),
    "aes": (libnacl.nacl.crypto_aead_aes256gcm_encrypt, libnacl.nacl.crypto_aead_aes256gcm_decrypt, 12),
}
VARIANTS = (("xchacha", 1), ("xchacha", 2), ("aes", 1), ("aes", 2))
RAW = ("raw", 1)  # the raw copy, printed beside the variants


def send(path: str, port: int, cipher: str) -> None:
    """The sender process: each piece read into one buffer, sealed there and sent from there."""
    seal, _, nonce_size = CIPHERS[cipher]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.recv(1)
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    frame = bytearray(PIECE + TAG)
    view = memoryview(frame)
    text = (ctypes.c_char * len(frame)).from_buffer(frame)
    offset = counter = 0
    while offset < size:
        n = os.preadv(fd, [view[:PIECE]], offset)
        nonce = counter.to_bytes(nonce_size, "big")
        if seal(text, None, text, ctypes.c_ulonglong(n), None, ctypes.c_ulonglong(0), None, nonce, KEY):
            raise RuntimeError("sealing failed")
        sock.sendall(view[: n + TAG])
        offset += n
        counter += 1
    sock.close()
    os.close(fd)


def receive(conn: socket.socket, target: Path, size: int, cipher: str, threads: int) -> None:
    """Receive each piece into its own buffer and open it there; hash and write it (in a second thread if
    ``threads`` is 2); fsync at the end."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    work: queue.Queue[tuple[bytearray, int, int] | None] = queue.Queue(maxsize=16)

    def store(frame: bytearray, n: int, offset: int) -> None:
        piece = memoryview(frame)[:n]
        hashlib.blake2b(piece, digest_size=32).digest()
        os.pwrite(fd, piece, offset)

    def storer() -> None:
        while (job := work.get()) is not None:
            store(*job)

    worker = threading.Thread(target=storer) if threads == 2 else None
    if worker:
        worker.start()
    offset = counter = 0
    while offset < size:
        n = min(PIECE, size - offset)
        frame = bytearray(n + TAG)
        _receive_exactly(conn, memoryview(frame))
        _open(cipher, frame, counter)
        if worker:
            work.put((frame, n, offset))
        else:
            store(frame, n, offset)
        offset += n
        counter += 1
    if worker:
        work.put(None)
        worker.join()
    os.fsync(fd)
    os.close(fd)


def _receive_exactly(conn: socket.socket, into: memoryview) -> None:
    got = 0
    while got < len(into):
        n = conn.recv_into(into[got:])
        if not n:
            raise EOFError("the sender closed early")
        got += n


def _open(cipher: str, frame: bytearray, counter: int) -> None:
    _, opener, nonce_size = CIPHERS[cipher]
    text: Any = (ctypes.c_char * len(frame)).from_buffer(frame)
    size, none = ctypes.c_ulonglong(len(frame)), ctypes.c_ulonglong(0)
    if opener(text, None, None, text, size, None, none, counter.to_bytes(nonce_size, "big"), KEY):
        raise ValueError("a piece failed to authenticate")


def raw_copy(source: Path, target: Path) -> float:
    """Seconds to copy ``source`` to ``target`` over plain TCP on loopback: a sender process reads the file and
    sends it, this one receives it, writes it and fsyncs it. Timed from the moment the sender is connected and
    told to go (the start of a Python process is not part of a copy) until the copy is durable."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        sender = (
            "import socket\n"
            f"s=socket.create_connection(('127.0.0.1',{port}))\n"
            "s.recv(1)\n"
            f"f=open({str(source)!r},'rb')\n"
            "while b:=f.read(1<<20): s.sendall(b)\n"
            "s.close()\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", sender])
        conn, _ = listener.accept()
        started = time.perf_counter()
        conn.sendall(b"g")
        with conn, target.open("wb") as out:
            while block := conn.recv(1 << 20):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        seconds = time.perf_counter() - started
        proc.wait(timeout=60)
    return seconds


def floor_rate(source: Path, target: Path, cipher: str = "xchacha", threads: int = 2) -> float:
    """MB/s of one copy of ``source`` to ``target`` (a sender process, this one receiving), timed from the
    connection (a Python process's start is not a copy) until the copy is durable."""
    size = source.stat().st_size
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        sender = subprocess.Popen([sys.executable, __file__, "--send", str(source), str(port), cipher])
        try:
            listener.settimeout(30)
            conn, _ = listener.accept()
            with conn:
                started = time.perf_counter()
                conn.sendall(b"g")
                receive(conn, target, size, cipher, threads)
                seconds = time.perf_counter() - started
        finally:
            if sender.wait(timeout=60):
                raise RuntimeError(f"the sender failed ({sender.returncode})")
    return size / MB / seconds


def main() -> None:
    if sys.argv[1:2] == ["--send"]:
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=100, help="the file's size in MB (default 100)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of every variant (default 5)")
    args = parser.parse_args()
    rates: dict[tuple[str, int], list[float]] = {variant: [] for variant in (RAW, *VARIANTS)}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "file.bin"
        source.write_bytes(os.urandom(args.mb * MB))
        target = Path(tmp) / "copy.bin"
        for run in range(args.repeat):
            os.sync()  # the dirty pages of the copy before are not this copy's to write
            rates[RAW].append(args.mb / raw_copy(source, target))
            for cipher, threads in VARIANTS:
                os.sync()
                rates[(cipher, threads)].append(floor_rate(source, target, cipher, threads))
            print(f"run {run + 1}: " + ", ".join(f"{c}/{t} {rates[(c, t)][-1]:.0f}" for c, t in rates), flush=True)
    raw = statistics.median(rates[RAW])
    print(f"load after: {os.getloadavg()[0]:.2f}")
    for (cipher, threads), found in rates.items():
        median = statistics.median(found)
        print(f"{cipher:8} receiver threads {threads}: {median:7.1f} MB/s, ratio to the raw copy {median / raw:.2f}")


if __name__ == "__main__":
    main()
