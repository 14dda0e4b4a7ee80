"""Export to HQ, offline verification, and bundles for sneakernet (see docs/hq.md and docs/formats.md).

Needs only the bundle (no store, no SQLite: an import-linter contract keeps it so):

- ``framing``: log streams, the one file format for raw entries (``log.msgpack``, ``forks.msgpack``, bundles).
- ``manifest``: the signed manifest of an export.
- ``summary``: facts about a log that the exporter states and the verifier recomputes.
- ``verify``: checks an export, with ``chains`` (per-author chains: gaps, links, forks) and ``crosscheck``
  (the manifest and the files against the log); ``problems``: what it finds; ``signatures``: parallel
  Ed25519 checks.

Work with a store:

- ``writer``: ``export_store``, an export directory from a store.
- ``reports``: the human reports (timeline, CSV, JSON, ICS-214, ICS-309).
- ``bundle``: frontiers, bundles of what a peer lacks, and import through the accept path.
- ``archive``: homes holding one store per team (the HQ archive).
- ``heads``: signed ``heads`` entries, the witnesses that make tails checkable.
- ``logs``, ``progress``, ``errors``: helpers.
"""
