"""The network shell, trio only: thin drivers around the pure protocol in ``meshchat.proto``.

- ``link``: one link: pumps a trio stream through a protocol ``Connection`` (reader, writer, ingest and
  watchdog tasks); talks to the node only through the ``Replica`` protocol.
- ``peers``: the peer manager: listener with limits on half-open connections, dialers with jittered
  exponential backoff, one link per peer, status and events. ``add_peer`` / ``remove_peer`` are where LAN
  discovery (``discovery``, issue 4) plugs in.
"""
