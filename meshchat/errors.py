"""The errors meshchat raises on purpose: one root, a branch for the person, and one branch per layer.

::

    MeshchatError                  everything below; anything else escaping is a bug
    +-- UserError                  what was asked cannot be done as asked: bad input, not allowed, not found.
    |   |                          The message says why and, where it can, what to do. The CLI prints it as
    |   |                          one line and exits 2; the TUI shows it and carries on.
    |   +-- ProfileError, InviteError (meshchat.profile, meshchat.invites)
    |   +-- ExportError, BundleFormatError (meshchat.export.errors): a file or directory that cannot be used
    +-- StoreError                 the store cannot be opened or written (busy, corrupt)
    |   +-- DiskFullError          the one disk-full error, wherever the write came from
    +-- IdentityError              the key file (meshchat.identity)
    +-- ProtocolError              a link broke the protocol (meshchat.proto.errors)
    +-- DecodeError, EntryError, BodyError, SealedKeyError (meshchat.log): bytes or values that do not fit

An error that says what the person must do is a :class:`UserError`; one about the machine (a full disk, a
corrupt file) belongs to its layer. Both end in one line on the command line, never a traceback.
"""

from __future__ import annotations


class MeshchatError(Exception):
    """The root of every error meshchat raises on purpose."""


class UserError(MeshchatError):
    """What the person asked for cannot be done as asked; the message says why in words they can act on."""


class StoreError(MeshchatError):
    """The store cannot be opened or used."""


class DiskFullError(StoreError):
    """The disk holding the store is full: nothing new can be written until space is freed. Everything already
    stored can still be read and served to peers; a later write succeeds once there is room again."""


def excerpt(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters for an error message: a message names what was wrong and the
    limit, and never echoes a whole (possibly huge, possibly hostile) input back."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(text)
