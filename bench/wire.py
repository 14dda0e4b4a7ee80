"""The CPU a file's pieces cost on the wire, each side, in one process: beside the AEAD alone (the floor).

    python bench/wire.py                  # 100 MiB of 256 KiB pieces, best of 5

Sender: a Piece sealed into its frame (``SecureChannel.seal``) and the frames gathered as the link's writer
gets them (``coalesced``). Receiver: the stream read as a link reads its socket, into the ``FrameReader``'s
own buffer (``receive_buffer``, reads of at most 256 KiB), each frame opened in place and its Piece decoded
(``decode_piece``: a view of the frame); and, beside it, the same fed as bytes (a stream that cannot
``recv_into``, e.g. the tests' in-memory ones: one copy).
The floor: XChaCha20-Poly1305 over the same bytes with nothing else (libsodium through ctypes, in place).
No sockets: the kernel's share (a send and a receive per frame or so) is not counted.

Last line: ``send_s=<n> receive_s=<n> receive_fed_s=<n> aead_s=<n>`` (CPU seconds per 100 MiB).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import time

import libnacl

from meshchat.net.sending import coalesced
from meshchat.proto.blobs import Piece, decode_piece, piece_header
from meshchat.proto.channel import Kind, SecureChannel
from meshchat.proto.framing import FrameReader

PIECE = 256 * 1024
READ = 256 * 1024


def send(tx: SecureChannel, pieces: list[Piece]) -> tuple[float, bytes]:
    """Each frame is dropped once "sent" (appended to the stream, untimed: the kernel's copy), as the link's
    writer drops it, so its memory is reused as it would be."""
    stream, spent = bytearray(), 0.0
    for piece in pieces:
        start = time.process_time()
        frames = list(coalesced([tx.seal(Kind.PIECE, piece_header(piece), piece.data)]))
        spent += time.process_time() - start
        for frame in frames:
            stream += frame
    return spent, bytes(stream)


def receive(rx: SecureChannel, stream: bytes, count: int) -> float:
    """As a link reads a socket: into the reader's own buffer (``recv_into``: the frame under way, or a small
    scratch buffer between frames), reads of at most 256 KiB; the copy into the buffer stands for the
    kernel's and is not counted."""
    reader, got, spent = FrameReader(), 0, 0.0
    reader.trusted = True  # after the handshake
    view, at = memoryview(stream), 0
    while at < len(view):
        start = time.process_time()
        buffer = reader.receive_buffer()
        spent += time.process_time() - start
        count_in = min(len(buffer), READ, len(view) - at)
        buffer[:count_in] = view[at : at + count_in]
        at += count_in
        start = time.process_time()
        reader.received(count_in)
        got += _open_all(rx, reader)
        spent += time.process_time() - start
    assert got == count
    return spent


def receive_fed(rx: SecureChannel, stream: bytes, count: int) -> float:
    """As a stream that hands out bytes (no ``recv_into``) is read: each read's bytes fed, and copied."""
    reads = [stream[i : i + READ] for i in range(0, len(stream), READ)]  # what the socket hands over
    reader, got = FrameReader(), 0
    start = time.process_time()
    for data in reads:
        reader.feed(data)
        got += _open_all(rx, reader)
    spent = time.process_time() - start
    assert got == count
    return spent


def _open_all(rx: SecureChannel, reader: FrameReader) -> int:
    got = 0
    while (payload := reader.next_frame()) is not None:
        kind, body = rx.open_in_place(payload)
        assert kind is Kind.PIECE
        decode_piece(body)
        got += 1
    return got


def aead_alone(buffers: list[bytearray], key: bytes) -> float:
    seal = libnacl.nacl.crypto_aead_xchacha20poly1305_ietf_encrypt
    start = time.process_time()
    for i, buffer in enumerate(buffers):
        text = (ctypes.c_char * len(buffer)).from_buffer(buffer)
        size = ctypes.c_ulonglong(len(buffer) - 16)
        seal(text, None, text, size, None, ctypes.c_ulonglong(0), None, i.to_bytes(24, "big"), key)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    count = args.mib * 1024 * 1024 // PIECE
    data = os.urandom(PIECE)
    pieces = [Piece(os.urandom(32), i % 8192 + 1, 0, data) for i in range(count)]
    best = [float("inf")] * 4
    for _ in range(args.repeat):
        k1, k2 = os.urandom(32), os.urandom(32)
        sent, stream = send(SecureChannel(k1, k2), pieces)
        received = receive(SecureChannel(k2, k1), stream, count)
        fed = receive_fed(SecureChannel(k2, k1), stream, count)
        floor = aead_alone([bytearray(PIECE + 16) for _ in range(count)], k1)
        best = [min(b, s) for b, s in zip(best, (sent, received, fed, floor), strict=True)]
    scale = 100 / args.mib
    send_s, receive_s, fed_s, aead_s = (b * scale for b in best)
    print(f"per 100 MiB of {PIECE // 1024} KiB pieces, CPU seconds (best of {args.repeat}):")
    print(f"  sender   (seal into the frame, gather)                     {send_s:.3f}")
    print(f"  receiver (read into the frame, open in place, view)        {receive_s:.3f}")
    print(f"  receiver fed bytes (a stream without recv_into: one copy)  {fed_s:.3f}")
    print(f"  XChaCha20-Poly1305 alone, one way                          {aead_s:.3f}")
    print(f"send_s={send_s:.3f} receive_s={receive_s:.3f} receive_fed_s={fed_s:.3f} aead_s={aead_s:.3f}")


if __name__ == "__main__":
    main()
