"""The team's network key across rotations: sealing a new key to each member, and which keys a node accepts.

The network key gates the handshake's first message and the LAN discovery tag. A removed member still knows
it, so a removal rotates it: the remover writes ``key.rotate {keys: {member: sealed}}`` where each member's
copy is a libsodium sealed box to the X25519 form of the member's Ed25519 key. Only remaining members can open
their copy, and every node agrees (through the membership rules) on which rotations count and in what order.

A node's keys, oldest first, are the key it started with (the founder's, or the one its ``member.admit``
sealed to it) and then the key of each effective rotation sealed to it. The newest is *current*: it dials with
it and advertises with it. The one before stays accepted for :data:`GRACE_MS` after the rotation, so that
members who have not seen the rotation yet can still link and learn it (and then switch).

For the same time a node also answers hellos made with the key each refused newcomer holds (the one current
where its admission sits in the order), as it answers a newcomer at the door (an invite hello): such a
newcomer, away while two admins rotated at once, would otherwise find every hello refused and never learn
why. It reaches only the identity check, which tells it why it is not a member (``StoreReplica.authorize``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import libnacl

from meshchat.errors import MeshchatError
from meshchat.log.rules import Membership, OrderKey

NETWORK_KEY_SIZE = 32
GRACE_MS = 7 * 24 * 3600 * 1000  # a week: longer than a member is likely to be out of reach of every other


class SealedKeyError(MeshchatError, ValueError):
    """A sealed key that does not open with our identity."""


def seal_network_key(network_key: bytes, members: Iterable[bytes]) -> dict[bytes, bytes]:
    """``{member: sealed box of network_key}`` for each member whose key converts to X25519."""
    if len(network_key) != NETWORK_KEY_SIZE:
        raise ValueError("a network key is 32 bytes")
    out: dict[bytes, bytes] = {}
    for member in members:
        try:
            curve = libnacl.crypto_sign_ed25519_pk_to_curve25519(member)
        except (ValueError, libnacl.CryptError):  # not a valid Ed25519 point: nobody can open it anyway
            continue
        out[member] = bytes(libnacl.crypto_box_seal(network_key, curve))
    return out


def open_network_key(sealed: bytes, curve_public: bytes, curve_secret: bytes) -> bytes:
    """Open our copy of a rotated key (``curve_*``: our identity's X25519 form)."""
    try:
        key = bytes(libnacl.crypto_box_seal_open(sealed, curve_public, curve_secret))
    except (ValueError, libnacl.CryptError):
        raise SealedKeyError("a sealed network key does not open with this identity") from None
    if len(key) != NETWORK_KEY_SIZE:
        raise SealedKeyError("a sealed network key is not 32 bytes")
    return key


@dataclass(frozen=True, slots=True)
class NetworkKeys:
    """The keys a node uses: ``current`` to dial and advertise; ``previous`` still accepted until
    ``previous_until`` (ms since the epoch)."""

    current: bytes
    previous: bytes | None = None
    previous_until: int = 0
    epoch: int = 0  # how many rotations this node has taken part in
    refused: tuple[tuple[bytes, bytes], ...] = ()  # (key a refused newcomer holds, its invite's key): see above

    def accepted(self, now_ms: int) -> tuple[bytes, ...]:
        """The keys a handshake or an advertisement may use now, current first."""
        if self.previous is not None and now_ms <= self.previous_until and self.previous != self.current:
            return (self.current, self.previous)
        return (self.current,)

    def refused_hellos(self, now_ms: int) -> dict[bytes, bytes]:
        """``{key: invite_pk}``: the keys refused newcomers hold that a hello may use now (none of ours), each
        with the invite it was admitted with; answered like an invite's hello, to be told why."""
        if now_ms > self.previous_until:
            return {}
        ours = self.accepted(now_ms)
        return {key: invite for key, invite in self.refused if key not in ours}


def network_keys(
    membership: Membership, me: bytes, base: bytes | None, curve_public: bytes, curve_secret: bytes
) -> NetworkKeys | None:
    """Our keys after every effective rotation sealed to ``me``; ``base`` is the key we started with, or
    ``None`` for a newcomer, whose first key is the one its admission sealed to it. ``None`` when we hold no
    key at all (a newcomer not admitted yet, as far as this membership knows)."""
    if base is None:
        member = membership.members.get(me)
        sealed = member.sealed_key if member is not None else None
        if sealed is None:
            return None
        try:
            base = open_network_key(sealed, curve_public, curve_secret)
        except SealedKeyError:
            return None
    keys = [base]
    since: list[OrderKey | None] = [None]  # where in the order each of ``keys`` became ours
    last_clock = 0
    for rotation in membership.rotations:
        sealed = rotation.keys.get(me)
        if sealed is None:
            continue
        try:
            key = open_network_key(sealed, curve_public, curve_secret)
        except SealedKeyError:
            continue  # an admin sealed garbage to us: that rotation does not move us
        keys.append(key)
        since.append(rotation.at)
        last_clock = rotation.at.clock
    if len(keys) == 1:
        return NetworkKeys(base)
    refused = tuple(
        (_key_at(keys, since, r.key), r.invite) for r in membership.refused_admissions.values() if r.invite is not None
    )
    return NetworkKeys(keys[-1], keys[-2], last_clock + GRACE_MS, len(keys) - 1, refused)


def _key_at(keys: list[bytes], since: list[OrderKey | None], at: OrderKey) -> bytes:
    """Our key where ``at`` sits in the order: the one an admission written there sealed to its newcomer (as far
    as this node can tell: an issuer that had not yet seen the rotation before it sealed an older one)."""
    held = keys[0]
    for key, start in zip(keys, since, strict=True):
        if start is None or start < at:
            held = key
    return held


def stale_rotation(membership: Membership) -> bool:
    """Whether the network key should be rotated (again); an admin's node then does so. See
    :func:`rotation_reason`."""
    return rotation_reason(membership) is not None


def rotation_reason(membership: Membership) -> str | None:
    """Why the current key will not do, or ``None``:

    - a removed member may know it: it was removed after the latest rotation (or there is none), or the latest
      rotation, written concurrently with its removal, was sealed to it;
    - a refused newcomer may know it: an admission sealed it to the newcomer but a revocation came first;
    - a member holds only an older key: it is not among the latest rotation's recipients although it got its
      key before that rotation (it joined concurrently, or with an invite made before it).
    """
    latest = membership.rotations[-1] if membership.rotations else None
    if any(latest is None or refused.key > latest.at for refused in membership.refused_admissions.values()):
        return "a refused newcomer may know the current key"
    for key, member in membership.members.items():
        if member.role is None and member.removed_at is not None:
            if latest is None or member.removed_at > latest.at or key in latest.keys:
                return "a removed member may know the current key"
        elif member.role is not None and latest is not None and key not in latest.keys:
            older = member.key_from is None or member.key_from < latest.at
            if older and _sealable(key):
                return "a member has only an older key"
    return None


def _sealable(member: bytes) -> bool:
    """Whether a key can receive a sealed network key (a valid Ed25519 point; ``member.add`` takes any 32 bytes)."""
    try:
        libnacl.crypto_sign_ed25519_pk_to_curve25519(member)
    except (ValueError, libnacl.CryptError):
        return False
    return True
