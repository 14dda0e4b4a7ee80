"""meshchat: a peer-to-peer, offline-first team messenger for field teams in a crisis.

Layers, imports pointing down only:

- ``cli``: the command line.
- ``node``: a running node: store + sync protocol + network, with a public async API and an event stream.
- ``replica``, ``admission``, ``status``: the store's side of links, who may link, the status for ``peers``.
- ``invites``: invite codes, and joining a team with one.
- ``net``: trio only: links, the peer manager, zeroconf discovery.
- ``store``: SQLite: entries, forks, quarantine, views.
- ``proto``: pure, sans-I/O: framing, handshake, sync.
- ``log``: pure: the entry format, clock, kinds, membership rules, views.
- ``identity``: Ed25519 keys and the key file.

``meshchat`` never imports textual; the UI lives in the separate ``tui`` package.
"""

__version__ = "0.1.0"
