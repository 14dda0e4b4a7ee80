"""The log, pure: no sockets, no files, no database (a test enforces it).

- ``codec``: strict, canonical msgpack.
- ``entry``: the signed, hash-chained entry format.
- ``clock``: the hybrid logical clock.
- ``kinds``: entry kinds and their body fields.
- ``rules``: membership and roles, evaluated deterministically from membership entries (one table of kinds).
- ``effects``: whether a retraction, pin or acknowledgement takes effect; every reader calls it.
- ``netkeys``: the network key across rotations (sealed to each member; which keys a node accepts).
- ``views``: what each entry adds to the views, and the records the UI reads.
- ``safe_text``: untrusted text made safe to show; every reader (CLI, TUI, reports) calls it.
"""
