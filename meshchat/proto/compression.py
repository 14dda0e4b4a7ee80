"""One zstd stream per direction of a link: every sync message is compressed with all that went before.

A link's messages repeat themselves (author keys in notes and runs, room ids, kinds, words), so each side
keeps one compression context for the link's life and flushes it at the end of every message: a message is
a whole number of zstd blocks that the peer's decompressor turns back into exactly that message. The window
is 128 KiB (about 1 MB of memory per direction), and the receiver refuses a stream that asks for more or a
message that would grow past :data:`~meshchat.proto.messages.MAX_MESSAGE` (a decompression bomb ends the
link, it never fills memory).

Compressing before encrypting can leak, through the size of frames, a secret that shares a compression
context with data an attacker chooses. Everything on a sync stream is something every member of the team
receives anyway (entries, what a node holds), and only members can put data into it, so there is no such
secret to leak here; the handshake, which carries none of it, is not compressed.
"""

from __future__ import annotations

import sys

from meshchat.proto.errors import RemoteProtocolError
from meshchat.proto.messages import MAX_MESSAGE

if sys.version_info >= (3, 14):
    from compression.zstd import (
        CompressionParameter,
        DecompressionParameter,
        ZstdCompressor,
        ZstdDecompressor,
        ZstdError,
    )
else:
    from backports.zstd import CompressionParameter, DecompressionParameter, ZstdCompressor, ZstdDecompressor, ZstdError

LEVEL = 3
WINDOW_LOG = 17  # 128 KiB of history


class StreamCompressor:
    def __init__(self) -> None:
        options: dict[int, int] = {
            CompressionParameter.compression_level: LEVEL,
            CompressionParameter.window_log: WINDOW_LOG,
        }
        self._zstd = ZstdCompressor(options=options)

    def compress(self, message: bytes) -> bytes:
        """The next piece of the stream: exactly ``message``, flushed so that it can be decompressed now."""
        return self._zstd.compress(message, mode=ZstdCompressor.FLUSH_BLOCK)


class StreamDecompressor:
    def __init__(self) -> None:
        self._zstd = ZstdDecompressor(options={DecompressionParameter.window_log_max: WINDOW_LOG})

    def decompress(self, piece: bytes | memoryview) -> bytes:
        """The one message that ``piece`` carries; :class:`RemoteProtocolError` if it is not exactly that."""
        zstd = self._zstd
        try:
            message = zstd.decompress(piece, max_length=MAX_MESSAGE + 1)
        except ZstdError as exc:
            raise RemoteProtocolError(f"the compressed stream is damaged: {exc}") from None
        if len(message) > MAX_MESSAGE or not zstd.needs_input:
            raise RemoteProtocolError(f"a compressed message grows past {MAX_MESSAGE} bytes")
        if zstd.eof:
            raise RemoteProtocolError("the peer ended its compressed stream")
        return message
