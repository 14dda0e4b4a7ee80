"""The sealed channel that carries everything after the two hellos.

Each direction has its own 32-byte key (from the handshake). Every frame's payload is
``XChaCha20-Poly1305(key, nonce, kind || body)`` where the nonce is 16 zero bytes followed by a 64-bit
big-endian counter: 0 for the first frame in that direction, then 1, 2, ... The counter is never sent, so
a frame that is altered, dropped, replayed or reordered fails to open, and the link ends.

The first byte of every plaintext says what it is, so one kind can never be read as another:
``AUTH`` (the handshake's identity proofs), ``SYNC`` (one sync message, compressed: see ``compression``),
``PIECE`` (one Piece of a file, not compressed: files are photos, PDFs and archives, compressed already, and
zstd spent a tenth of a link's time failing to shrink them) and ``CLOSE`` (an authenticated end: the reason
follows as UTF-8; it tells a clean close from a cut). ``DATA`` carried an uncompressed sync message of link
protocol v1; a v2 node refuses it with a clear reason, and so is ``PIECE_V1``, a Piece as a msgpack message.

A frame is sealed and opened in place, through libsodium itself (``libnacl.nacl``): a quarter-megabyte piece
of a file is copied once into its frame and encrypted there, and a received frame is decrypted in the buffer
it arrived in (libnacl's wrappers copy each direction three times, a third of a transfer's CPU).
"""

from __future__ import annotations

import ctypes
from enum import IntEnum

import libnacl

from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError
from meshchat.proto.framing import HEADER, MAX_FRAME, prefix

KEY_SIZE = 32
TAG_SIZE = 16
NONCE_PREFIX = bytes(16)
MAX_COUNTER = 2**64 - 1
MAX_PLAINTEXT = MAX_FRAME - TAG_SIZE
MAX_CLOSE_REASON = 200

# The combined AEAD functions: ciphertext || tag, in place (libsodium allows the message and the ciphertext to
# be one buffer; the tag goes right after it).
_seal = libnacl.nacl.crypto_aead_xchacha20poly1305_ietf_encrypt
_open = libnacl.nacl.crypto_aead_xchacha20poly1305_ietf_decrypt


class Kind(IntEnum):
    AUTH = 1
    DATA = 2  # link protocol v1: refused
    CLOSE = 3
    SYNC = 4
    PIECE_V1 = 5  # a Piece message (msgpack), before pieces had their own layout: refused
    PIECE = 6


_TAG_ROOM = bytes(TAG_SIZE)


class SecureChannel:
    """Seals outgoing and opens incoming frame payloads, keeping the two nonce counters."""

    def __init__(self, send_key: bytes, receive_key: bytes) -> None:
        if len(send_key) != KEY_SIZE or len(receive_key) != KEY_SIZE or send_key == receive_key:
            raise LocalProtocolError("a channel needs two distinct 32-byte keys")
        self._send_key = send_key
        self._receive_key = receive_key
        self.sent = 0  # frames sealed so far: the next send counter
        self.received = 0  # frames opened so far: the next receive counter

    def seal(self, kind: Kind, *parts: bytes | bytearray | memoryview) -> bytearray:
        """One framed, sealed frame (length prefix included) whose body is ``parts`` one after the other."""
        size = 1 + sum(map(len, parts))
        if size > MAX_PLAINTEXT:
            raise LocalProtocolError(f"a sealed body of {size - 1} bytes does not fit in a frame")
        if self.sent > MAX_COUNTER:
            raise LocalProtocolError("nonce counter exhausted: open a new link")
        nonce = NONCE_PREFIX + self.sent.to_bytes(8, "big")
        # One allocation, each part copied once, no zeroing (bytearray(n) writes every byte first).
        out = bytearray().join((prefix(size + TAG_SIZE), bytes((kind,)), *parts, _TAG_ROOM))
        text = (ctypes.c_char * (size + TAG_SIZE)).from_buffer(out, HEADER)
        length, none = ctypes.c_ulonglong(size), ctypes.c_ulonglong(0)
        if _seal(text, None, text, length, None, none, None, nonce, self._send_key):
            raise LocalProtocolError("sealing a frame failed")
        self.sent += 1
        return out

    def open(self, payload: bytes) -> tuple[Kind, bytes]:
        """Open one frame payload; raises :class:`RemoteProtocolError` if it was not sealed by the peer for
        exactly this position in the stream."""
        kind, body = self.open_in_place(bytearray(payload))
        return kind, bytes(body)

    def open_in_place(self, payload: bytearray) -> tuple[Kind, memoryview]:
        """:meth:`open`, decrypting ``payload`` where it is: the body is a view of it (on a failure to
        authenticate, libsodium zeroes it)."""
        size = len(payload)
        if size < TAG_SIZE + 1:
            raise RemoteProtocolError("sealed frame too short")
        if self.received > MAX_COUNTER:
            raise RemoteProtocolError("nonce counter exhausted")
        nonce = NONCE_PREFIX + self.received.to_bytes(8, "big")
        text = (ctypes.c_char * size).from_buffer(payload)
        length, none = ctypes.c_ulonglong(size), ctypes.c_ulonglong(0)
        if _open(text, None, None, text, length, None, none, nonce, self._receive_key):
            raise RemoteProtocolError("a frame failed to authenticate (altered, replayed or out of order)")
        self.received += 1
        try:
            kind = Kind(payload[0])
        except ValueError:
            raise RemoteProtocolError(f"unknown frame kind {payload[0]}") from None
        return kind, memoryview(payload)[1 : size - TAG_SIZE]

    def close_frame(self, reason: str) -> bytearray:
        return self.seal(Kind.CLOSE, reason.encode()[:MAX_CLOSE_REASON])


def close_reason(body: bytes | memoryview) -> str:
    """The reason carried by a CLOSE frame, decoded leniently (it is only ever shown or logged)."""
    return bytes(body[:MAX_CLOSE_REASON]).decode("utf-8", "replace")
