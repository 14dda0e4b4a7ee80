"""The link protocol, pure and sans-I/O: bytes in, events out (no sockets, no trio, no storage).

- ``framing``: 4-byte length prefix; frames over 1 MiB are a protocol error.
- ``handshake``: network-key-gated ephemeral key exchange, then mutual Ed25519 proofs; yields the channel.
- ``channel``: XChaCha20-Poly1305 frames under counter nonces, one key per direction; authenticated close.
- ``messages``: the sync messages (frozen dataclasses) and their strict codec; entries travel compact.
- ``compression``: one zstd stream per direction of a link, flushed at every message.
- ``sync``: replication between two nodes: notes, pushes of what the peer asked for, flow control, live
  entries ahead of backlogs, fork proofs.
- ``pacing``: how much a link may have in flight, from the rate it is measured to deliver.
- ``sources``: which peer pushes us which author (one at a time), switched when it falls behind or stalls.
- ``connection``: all of the above for one link, as the network shell drives it.
- ``events``, ``errors``: what a connection reports, and LocalProtocolError / RemoteProtocolError.
"""
