"""What a running node tells its users (the TUI, the headless node's log): small, frozen, typed events.

Events are hints to re-read state, never the state itself: ``Node.views`` and ``Node.peers()`` are the truth.
A subscriber that falls far behind may miss events (they are dropped rather than let one slow reader stall
the node); re-reading state on the next event is always correct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from meshchat.log.positions import Report

FoundBy = Literal["static", "discovery", "incoming"]
LinkState = Literal["connecting", "handshaking", "syncing", "live", "backoff", "closed"]


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A peer as far as we know it: where it is, how we learned of it, and (after the handshake) who it is."""

    address: str  # "host:port"
    found_by: FoundBy
    key: bytes | None = None  # the peer's Ed25519 public key, once authenticated


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """One peer's link, for the peers screen and ``meshchat peers``."""

    peer: PeerInfo
    state: LinkState
    entries_in: int = 0
    entries_out: int = 0
    last_sync_ms: int | None = None  # wall time when we last caught up with it
    error: str = ""
    why: str = ""  # why this link exists (a static peer, a ring neighbour found on the LAN, dialled by the peer)
    duplicates_in: int = 0  # entries the peer sent that we held already
    bytes_in: int = 0  # bytes received on the link (compressed, encrypted: what the network carried)
    bytes_out: int = 0


@dataclass(frozen=True, slots=True)
class Heard:
    """When this node last heard from a member, and by which path: ``link`` (a link to that member's own node,
    at ``address``), ``relay`` (their entries came in through ``via``'s node) or ``log`` (nothing this run:
    ``at_ms`` is the clock of their newest entry held, their own clock)."""

    at_ms: int
    path: Literal["link", "relay", "log"]
    via: bytes | None = None
    address: str = ""


@dataclass(frozen=True, slots=True)
class EntriesAdded:
    """New entries are in the store (ours, or received). Re-read the views that ``kinds`` and ``rooms`` touch."""

    count: int
    kinds: frozenset[str]
    rooms: frozenset[bytes]
    authors: frozenset[bytes]
    local: bool  # all of them written by this node's own identity


@dataclass(frozen=True, slots=True)
class MembershipChanged:
    """Membership entries arrived: members, roles or invites may have changed."""


@dataclass(frozen=True, slots=True)
class ForkDetected:
    """An author signed two different entries with one seq. Impossible to miss in the UI; kept for HQ."""

    author: bytes
    seq: int


@dataclass(frozen=True, slots=True)
class PeerUp:
    status: PeerStatus


@dataclass(frozen=True, slots=True)
class PeerDown:
    status: PeerStatus
    reason: str


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Catch-up with a peer: ``received`` of about ``expected`` entries so far (``done`` when caught up)."""

    peer: PeerInfo
    received: int
    expected: int
    done: bool


@dataclass(frozen=True, slots=True)
class LinkRefused:
    """A peer proved who it is, then refused to link with us and said why (``reason``, its words)."""

    status: PeerStatus
    reason: str


@dataclass(frozen=True, slots=True)
class InviteRefused:
    """The node that issued our invite refused it: we are not admitted and will not be with this code.
    ``reason`` is the team's rule (``invite was already used``, ``invite was revoked``, ``invite had
    expired``); ``advice`` says what to do, in words to show as they are."""

    reason: str
    advice: str = "ask an admin of the team for a new invite code"

    @property
    def message(self) -> str:
        return f"The team refused your invite: {self.reason}. What to do: {self.advice}."


@dataclass(frozen=True, slots=True)
class WritingPaused:
    """Own writes are refused for now: ``message`` says why and what brings them back (the store lost the end
    of our own log, which the node is fetching back from peers; or our own key signed two entries with one
    seq). ``paused`` False: writing works again. ``forked``: the own key forked, which never heals by itself."""

    paused: bool
    message: str
    forked: bool = False


@dataclass(frozen=True, slots=True)
class NodeProblem:
    """Something the user must know about (the disk is full, the listen port is taken, ...)."""

    message: str


@dataclass(frozen=True, slots=True)
class AttachmentsChanged:
    """Files moved on: fetched whole, further along, started, or stopped (``Node.file_state`` says where each
    stands). Progress at most four times a second; a file that became whole at once."""

    blobs: frozenset[bytes]


@dataclass(frozen=True, slots=True)
class GpsStatus:
    """The GPS as the node reads it through gpsd (``meshchat node --gps``): connecting, up but without a fix
    (``waiting``), a fix (with it), or gpsd unreachable (``down``, and why: it is retried)."""

    state: Literal["connecting", "waiting", "fix", "down"]
    detail: str
    fix: Report | None = None


NodeEvent = (
    EntriesAdded
    | AttachmentsChanged
    | MembershipChanged
    | ForkDetected
    | PeerUp
    | PeerDown
    | SyncProgress
    | LinkRefused
    | InviteRefused
    | NodeProblem
    | WritingPaused
    | GpsStatus
)
