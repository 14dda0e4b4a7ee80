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
protocol v1; a v2 node refuses it with a clear reason.
"""

from __future__ import annotations

from enum import IntEnum

import libnacl

from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError
from meshchat.proto.framing import MAX_FRAME, frame

KEY_SIZE = 32
TAG_SIZE = 16
NONCE_PREFIX = bytes(16)
MAX_COUNTER = 2**64 - 1
MAX_PLAINTEXT = MAX_FRAME - TAG_SIZE
MAX_CLOSE_REASON = 200

_seal = libnacl.crypto_aead_xchacha20poly1305_ietf_encrypt
_open = libnacl.crypto_aead_xchacha20poly1305_ietf_decrypt


class Kind(IntEnum):
    AUTH = 1
    DATA = 2  # link protocol v1: refused
    CLOSE = 3
    SYNC = 4
    PIECE = 5


class SecureChannel:
    """Seals outgoing and opens incoming frame payloads, keeping the two nonce counters."""

    def __init__(self, send_key: bytes, receive_key: bytes) -> None:
        if len(send_key) != KEY_SIZE or len(receive_key) != KEY_SIZE or send_key == receive_key:
            raise LocalProtocolError("a channel needs two distinct 32-byte keys")
        self._send_key = send_key
        self._receive_key = receive_key
        self.sent = 0  # frames sealed so far: the next send counter
        self.received = 0  # frames opened so far: the next receive counter

    def seal(self, kind: Kind, body: bytes) -> bytes:
        """One framed, sealed frame (length prefix included)."""
        if len(body) + 1 > MAX_PLAINTEXT:
            raise LocalProtocolError(f"a sealed body of {len(body)} bytes does not fit in a frame")
        if self.sent > MAX_COUNTER:
            raise LocalProtocolError("nonce counter exhausted: open a new link")
        nonce = NONCE_PREFIX + self.sent.to_bytes(8, "big")
        self.sent += 1
        return frame(_seal(bytes((kind,)) + body, b"", nonce, self._send_key))

    def open(self, payload: bytes) -> tuple[Kind, bytes]:
        """Open one frame payload; raises :class:`RemoteProtocolError` if it was not sealed by the peer for
        exactly this position in the stream."""
        if len(payload) < TAG_SIZE + 1:
            raise RemoteProtocolError("sealed frame too short")
        if self.received > MAX_COUNTER:
            raise RemoteProtocolError("nonce counter exhausted")
        nonce = NONCE_PREFIX + self.received.to_bytes(8, "big")
        try:
            plaintext = _open(payload, b"", nonce, self._receive_key)
        except ValueError:
            raise RemoteProtocolError("a frame failed to authenticate (altered, replayed or out of order)") from None
        self.received += 1
        try:
            kind = Kind(plaintext[0])
        except ValueError:
            raise RemoteProtocolError(f"unknown frame kind {plaintext[0]}") from None
        return kind, plaintext[1:]

    def close_frame(self, reason: str) -> bytes:
        return self.seal(Kind.CLOSE, reason.encode()[:MAX_CLOSE_REASON])


def close_reason(body: bytes) -> str:
    """The reason carried by a CLOSE frame, decoded leniently (it is only ever shown or logged)."""
    return body[:MAX_CLOSE_REASON].decode("utf-8", "replace")
