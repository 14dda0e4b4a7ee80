"""Two kinds of protocol error, as in h11: ours and the peer's.

A :class:`RemoteProtocolError` means the peer broke the protocol (or is not a peer of ours at all): the link
is closed and the reason logged, and the node carries on serving everyone else. A
:class:`LocalProtocolError` means this side asked the state machine for something the protocol forbids: a
bug in the caller, never something a peer can cause.
"""

from __future__ import annotations

from meshchat.errors import MeshchatError


class ProtocolError(MeshchatError):
    """A violation of the meshchat link protocol. Not raised itself: see the two subclasses."""


class LocalProtocolError(ProtocolError):
    """This side tried to do something the protocol does not allow (a bug in the caller)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow: close this link, keep the node running."""
