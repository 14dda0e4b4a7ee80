"""Invite codes: how a newcomer on another machine joins a team.

An admin's node makes a one-time invite key pair and authorises its public half in its log
(``member.invite {invite_pk, role, expires}``). The code carries what the newcomer needs: the team id and
name, the network key (to pass the handshake), where the inviter can be reached, the invite secret (to sign
the proof in its ``member.join``), the role, and the clock of the ``member.invite`` entry, so that the
join sorts after the invite on every node.

Text form (docs/formats.md): ``MC1`` followed by the RFC 4648 base32 (no padding) of
``msgpack([1, team_id, team_name, network_key, invite_seed, invite_clock, role, [address, ...]])`` and a
4-byte BLAKE2b checksum of the version tag and payload. A mistyped or truncated code fails the checksum and
says so; a code from a newer format says that instead. The version is in the tag, so later formats (issue 6:
expiry shown, QR) can coexist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from meshchat.identity import Identity
from meshchat.log.clock import wall_ms
from meshchat.log.codec import DecodeError, pack, unpack
from meshchat.log.kinds import ROLES, build_body
from meshchat.log.rules import join_message
from meshchat.net.peers import parse_address
from meshchat.profile import Profile, ProfileError

TAG = "MC1"
VERSION = 1
CHECKSUM_SIZE = 4
CHECKSUM_CONTEXT = b"meshchat/v1/invite-code"
DEFAULT_TTL_MS = 7 * 24 * 3600 * 1000  # a week; issue 6 makes it configurable
MAX_ADDRESSES = 8
INVITE_ROLES = ROLES[:3]  # observer, member, admin: nobody is invited as owner
PEERS_KEY = "invite.peers"  # local state: the inviter's addresses, dialled by the joiner's node
_TYPO_FIXES = str.maketrans({"0": "O", "1": "I", "8": "B"})


class InviteError(ProfileError):
    """An invite code that cannot be used; the message says why in words a person can act on."""


@dataclass(frozen=True)
class InviteCode:
    team_id: bytes
    team_name: str
    network_key: bytes
    invite_seed: bytes  # the one-time invite secret (an Ed25519 seed)
    invite_clock: int  # clock of the member.invite entry
    role: str
    addresses: tuple[str, ...] = ()  # "host:port" where the inviter listens

    def __post_init__(self) -> None:
        if len(self.team_id) != 32 or len(self.network_key) != 32 or len(self.invite_seed) != 32:
            raise InviteError("an invite holds 32-byte team id, network key and invite secret")
        if self.role not in INVITE_ROLES or not 0 <= self.invite_clock < 2**53:
            raise InviteError("an invite holds a role (observer, member or admin) and a clock")
        if not 0 < len(self.team_name) <= 80 or len(self.addresses) > MAX_ADDRESSES:
            raise InviteError("an invite holds the team's name and at most 8 addresses")
        for address in self.addresses:
            try:
                parse_address(address)
            except ValueError as exc:
                raise InviteError(f"an invite address is not valid: {exc}") from None

    def encode(self) -> str:
        payload = pack(
            [
                VERSION,
                self.team_id,
                self.team_name,
                self.network_key,
                self.invite_seed,
                self.invite_clock,
                self.role,
                list(self.addresses),
            ]
        )
        data = payload + _checksum(payload)
        return TAG + base64.b32encode(data).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> InviteCode:
        """Parse a code as a person may have typed or pasted it (spaces, dashes, line breaks, any case)."""
        compact = "".join(text.split()).replace("-", "").upper()
        if not compact.startswith("MC"):
            raise InviteError("that is not a meshchat invite code (a code starts with MC1)")
        if not compact.startswith(TAG):
            raise InviteError(f"this invite code has format {compact[2:3]!r}, newer than this meshchat: update it")
        body = compact[len(TAG) :].translate(_TYPO_FIXES)
        try:
            data = base64.b32decode(body + "=" * (-len(body) % 8))
        except (binascii.Error, ValueError):
            raise InviteError("this invite code is damaged or mistyped: copy it again") from None
        payload, checksum = data[:-CHECKSUM_SIZE], data[-CHECKSUM_SIZE:]
        if len(data) <= CHECKSUM_SIZE or _checksum(payload) != checksum:
            raise InviteError("this invite code is damaged or mistyped (its checksum does not match): copy it again")
        try:
            fields = unpack(payload, max_len=4096, max_items=MAX_ADDRESSES + 1)
        except DecodeError:
            raise InviteError("this invite code is damaged: its contents do not decode") from None
        if type(fields) is not list or len(fields) != 8 or type(fields[0]) is not int or fields[0] != VERSION:
            raise InviteError("this invite code is damaged: its contents do not decode")
        _, team_id, name, key, seed, clock, role, addresses = fields
        typed = (
            isinstance(team_id, bytes)
            and isinstance(name, str)
            and isinstance(key, bytes)
            and isinstance(seed, bytes)
            and type(clock) is int
            and isinstance(role, str)
            and isinstance(addresses, list)
            and all(isinstance(a, str) for a in addresses)
        )
        if not typed:
            raise InviteError("this invite code is damaged: its contents do not decode")
        return cls(team_id, name, key, seed, clock, role, tuple(addresses))  # type: ignore[arg-type]


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(CHECKSUM_CONTEXT + TAG.encode() + payload, digest_size=CHECKSUM_SIZE).digest()


def create_invite(
    profile: Profile, *, role: str = "member", addresses: Sequence[str] = (), ttl_ms: int = DEFAULT_TTL_MS
) -> InviteCode:
    """Authorise a new one-time invite key in our log (``member.invite``) and return its code."""
    if role not in INVITE_ROLES:
        raise InviteError(f"cannot invite as {role!r} (observer, member or admin)")
    seed = secrets.token_bytes(32)
    invite = Identity(seed)
    entry = profile.write(
        "member.invite", {"invite_pk": invite.public_key, "role": role, "expires": wall_ms() + ttl_ms}
    )
    return InviteCode(
        profile.team_id, profile.team_name, profile.network_key, seed, entry.clock, role, tuple(addresses)
    )


def join_team(home: Path, code: InviteCode, *, display_name: str = "", callsign: str = "") -> Profile:
    """Create a home for the newcomer: a new identity whose first entry proves the invite (``member.join``).

    Other nodes admit the newcomer once they hold both the invite and the join; until its own node has seen
    its join admitted, the profile reports the promised role (meta ``pending_role``).
    """
    profile = Profile.create_joining(home, code.team_id, code.team_name, code.network_key)
    try:
        invite = Identity(code.invite_seed)
        proof = invite.sign(join_message(code.team_id, profile.me))
        body = build_body("member.join", invite_pk=invite.public_key, proof=proof)
        profile.store.append_own(profile.identity, "member.join", body, wall=max(wall_ms(), code.invite_clock + 1))
        profile.store.set_meta("pending_role", code.role)
        profile.store.set_local(PEERS_KEY, pack(list(code.addresses)))
        if display_name:
            profile.set_profile(display_name, callsign)
    except BaseException:
        profile.close()
        raise
    return profile


def remembered_peers(profile: Profile) -> list[tuple[str, int]]:
    """The inviter's addresses from the code this home joined with (dialled by its node)."""
    raw = profile.store.get_local(PEERS_KEY)
    if raw is None:
        return []
    try:
        addresses = unpack(raw, max_len=4096)
    except DecodeError:
        return []
    out = []
    for text in addresses if isinstance(addresses, list) else []:
        try:
            out.append(parse_address(str(text)))
        except ValueError:
            continue
    return out


def reachable_addresses(listen: Iterable[str]) -> list[str]:
    """Where others can reach a node listening on ``listen``: a wildcard host (0.0.0.0, ::) becomes this
    machine's interface addresses, loopback last."""
    out: list[str] = []
    for text in listen:
        host, port = parse_address(text)
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 (reading a bind address, not binding)
            out += [f"{ip}:{port}" for ip in _interface_addresses()]
        else:
            out.append(text)
    return list(dict.fromkeys(out))[:MAX_ADDRESSES]


def _interface_addresses() -> list[str]:
    import ifaddr

    addresses = [str(ip.ip) for adapter in ifaddr.get_adapters() for ip in adapter.ips if isinstance(ip.ip, str)]
    return sorted(addresses, key=lambda a: a.startswith("127."))
