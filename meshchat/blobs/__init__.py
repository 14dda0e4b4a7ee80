"""Attachments on this node: files on disk, what to fetch, and fetching them from peers.

- ``store``: blobs under the home, by content; fetches written aside and moved in whole and checked.
- ``images``: image type, size and thumbnails with Pillow, under strict bounds (untrusted pixels).
- ``attach``: a person's file made into a message's attachment (copied, hashed, typed, thumbnailed).
- ``settings``: the per-node limits (largest file to attach, largest to fetch without being asked).

The format (descriptors, blob ids, chunks) is ``meshchat.log.attachments``; the wire, ``meshchat.proto.blobs``.
"""
