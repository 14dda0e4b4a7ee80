"""The network shell, trio only: thin drivers around the pure protocol in ``meshchat.proto``.

- ``address``: ``host:port`` as text, read and written (plain functions, no trio).
- ``link``: one link: pumps a trio stream through a protocol ``Connection`` (reader, writer, ingest and
  watchdog tasks); talks to the node only through the ``Replica`` protocol.
- ``peers``: the peer manager: listener with limits on half-open connections, dialers with jittered
  exponential backoff, one link per peer, one source per author across links, status and events.
  ``add_peer`` / ``retire_peer`` / ``remove_peer`` are where LAN discovery plugs in.
- ``discovery``: zeroconf on trio: advertisements of our team in, ours out.
- ``topology``: which discovered nodes to dial (a ring with chords, pure), so a LAN is never a full mesh.
"""
