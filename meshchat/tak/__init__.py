"""The bridge to TAK (Cursor on Target): ``meshchat tak`` makes the team visible on the TAK maps partner
agencies run, and brings TAK users' positions and chat into a room of their own, marked as outsiders.

- ``cot``: pure: the CoT events we send (pytak's helpers) and the ones we read (defusedxml, bounded).
- ``stream``: pure: a TAK TCP stream split into events, bounded.
- ``transport``: trio: a TAK server over TCP (TLS with a certificate) or the SA multicast group.
- ``bridge``: trio: what goes out (members' positions, open incidents, FLASH) and what comes in, with the
  rules of the trust boundary (see docs/tak.md).
"""
