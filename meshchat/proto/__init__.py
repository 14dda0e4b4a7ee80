"""The link protocol, pure and sans-I/O: bytes in, events out (no sockets, no trio, no storage).

- ``framing``: 4-byte length prefix; frames over 1 MiB are a protocol error.
- ``handshake``: network-key-gated ephemeral key exchange, then mutual Ed25519 proofs; yields the channel.
- ``channel``: XChaCha20-Poly1305 frames under counter nonces, one key per direction; authenticated close.
- ``messages``: the sync messages (frozen dataclasses) and their strict codec.
- ``sync``: replication between two nodes: frontiers, batches with flow control, live push, fork proofs.
- ``connection``: all of the above for one link, as the network shell drives it.
- ``events``, ``errors``: what a connection reports, and LocalProtocolError / RemoteProtocolError.
"""
