"""What a :class:`~meshchat.proto.connection.Connection` tells the code that drives it.

Small frozen dataclasses, validated when built. Only :class:`NeedEntries` and :class:`EntriesReceived` ask
something of the caller (see ``Connection``); the others report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from meshchat.log.entry import KEY_SIZE
from meshchat.proto.blobs import BlobEvent  # what a link's files bring: see meshchat.proto.blobs
from meshchat.proto.errors import LocalProtocolError
from meshchat.proto.messages import ReceivedEntries, rebuilt


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    """Both identities are proven and admitted. Call ``Connection.start_sync`` next."""

    peer_key: bytes
    peer_evidence: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class SyncStarted:
    """The peer's first notes arrived: it holds about ``expected`` entries that we lack."""

    expected: int


@dataclass(frozen=True, slots=True)
class NotesReceived:
    """The peer says it holds ``heads`` (``{author: seq}``, some authors or all): for the choice of sources,
    and for the store's own checks (a peer holding more of our own log than we do)."""

    heads: Mapping[bytes, int]


@dataclass(frozen=True, slots=True)
class NeedEntries:
    """Read ``author``'s entries with seq in ``(after, upto]``, in seq order, at most ``max_entries`` of them
    and ``max_bytes`` in all (but at least one, whatever its size), and hand them to
    ``Connection.send_entries`` (an empty list if there are none)."""

    author: bytes
    after: int
    upto: int
    max_entries: int
    max_bytes: int

    def __post_init__(self) -> None:
        if len(self.author) != KEY_SIZE or not 0 <= self.after < self.upto or self.max_entries < 1:
            raise LocalProtocolError(f"invalid request {self!r}")


@dataclass(frozen=True, slots=True)
class EntriesReceived:
    """An Entries message from the peer, as it arrived: ``batch`` (its entries' signatures unchecked, and, if
    it came compact, not yet rebuilt: ``meshchat.proto.messages.rebuilt`` does that where the driver likes, a
    :class:`RemoteProtocolError` if the peer sent an invalid entry). Accept them, then call
    ``Connection.entries_processed``."""

    batch: ReceivedEntries

    @property
    def raws(self) -> tuple[bytes, ...]:
        """The entries' bytes (rebuilt now if they came compact)."""
        return rebuilt(self.batch).raws


@dataclass(frozen=True, slots=True)
class CaughtUp:
    """The peer has sent everything it had that we lacked, and we have processed all of it."""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The link is over. ``clean``: the peer said goodbye (an authenticated close), rather than vanishing."""

    reason: str
    clean: bool


Event = (
    HandshakeComplete
    | SyncStarted
    | NotesReceived
    | NeedEntries
    | EntriesReceived
    | CaughtUp
    | ConnectionClosed
    | BlobEvent
)
