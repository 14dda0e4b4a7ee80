"""Invite codes: how a newcomer on another machine joins a team.

An admin's node makes a one-time invite key pair, authorises its public half in its log (``member.invite
{invite_pk, role, expires}``) and keeps the secret half in its own local state. The code carries what the
newcomer needs to reach that node and nothing more: the team id and name, the issuer's key and addresses, the
role, the expiry and the one-time secret. It carries no network key.

The newcomer's node dials the issuer with a hello MACed under a key derived from the secret
(``meshchat.proto.handshake.invite_hello_key``). The issuer's node, and only it, knows that key; while the
invite is open in its own evaluation it admits the newcomer by writing ``member.admit {member, invite_pk,
sealed_key}``, the current network key sealed to the newcomer's key, and serves it the team's log. A used,
revoked or expired invite is refused with the rules' reason, so an honest newcomer whose code was used by
someone else is told, and the holder of a stolen code learns only what the code already says. See
docs/formats.md ("Invite code", "Joining") and docs/threat-model.md.

Text form: ``MC2`` followed by the RFC 4648 base32 (no padding) of
``msgpack([2, team_id, team_name, issuer, invite_secret, role, [address, ...], expires])`` and a 4-byte
BLAKE2b checksum of the version tag and payload. A mistyped or truncated code fails the checksum and says so;
a code of another format version says that instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from meshchat.errors import excerpt
from meshchat.identity import Identity
from meshchat.log.clock import wall_ms
from meshchat.log.codec import DecodeError, pack, unpack
from meshchat.log.kinds import ROLES
from meshchat.log.netkeys import seal_network_key
from meshchat.log.rules import Invite
from meshchat.net.address import parse_address
from meshchat.profile import PendingInvite, Profile, ProfileError
from meshchat.proto.handshake import invite_hello_key

TAG = "MC2"
VERSION = 2
CHECKSUM_SIZE = 4
CHECKSUM_CONTEXT = b"meshchat/v2/invite-code"
DEFAULT_TTL_MS = 7 * 24 * 3600 * 1000  # a week (``meshchat invite --expires`` changes it)
MAX_TTL_MS = 90 * 24 * 3600 * 1000
MAX_ADDRESSES = 8
MAX_DOORS = 256  # invites of ours whose hellos a node answers (the newest): each costs a MAC check per hello
INVITE_ROLES = ROLES[:3]  # observer, member, admin: nobody is invited as owner
PEERS_KEY = "invite.peers"  # local state: the inviter's addresses, dialled by the joiner's node
SECRETS_KEY = "invite.secrets"  # local state of the issuer: {invite_pk: secret} of the invites it made
_TYPO_FIXES = str.maketrans({"0": "O", "1": "I", "8": "B"})


class InviteError(ProfileError):
    """An invite code that cannot be used; the message says why in words a person can act on."""


@dataclass(frozen=True)
class InviteCode:
    team_id: bytes
    team_name: str
    issuer: bytes  # the admin whose node admits the newcomer (its identity is checked in the handshake)
    invite_seed: bytes  # the one-time invite secret (an Ed25519 seed)
    role: str
    addresses: tuple[str, ...] = ()  # "host:port" where the issuer's node listens
    expires: int = 0  # ms since the epoch, as in the member.invite entry

    def __post_init__(self) -> None:
        if len(self.team_id) != 32 or len(self.issuer) != 32 or len(self.invite_seed) != 32:
            raise InviteError("an invite holds a 32-byte team id, issuer key and invite secret")
        if self.role not in INVITE_ROLES:
            raise InviteError("an invite holds a role (observer, member or admin)")
        if not 0 <= self.expires < 2**53:
            raise InviteError("an invite's expiry is a time in ms")
        if not 0 < len(self.team_name) <= 80 or len(self.addresses) > MAX_ADDRESSES:
            raise InviteError("an invite holds the team's name and at most 8 addresses")
        for address in self.addresses:
            try:
                parse_address(address)
            except ValueError as exc:
                raise InviteError(f"an invite address is not valid: {exc}") from None

    @property
    def invite_public_key(self) -> bytes:
        """The invite's id in the log (``member.invite {invite_pk}``)."""
        return Identity(self.invite_seed).public_key

    def encode(self) -> str:
        payload = pack(
            [
                VERSION,
                self.team_id,
                self.team_name,
                self.issuer,
                self.invite_seed,
                self.role,
                list(self.addresses),
                self.expires,
            ]
        )
        data = payload + _checksum(payload)
        return TAG + base64.b32encode(data).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> InviteCode:
        """Parse a code as a person may have typed or pasted it: spaces, dashes, line breaks, any case, and the
        CLI's whole line ``meshchat join CODE [--options]`` as ``meshchat invite`` prints it."""
        compact = "".join(_code_words(text)).replace("-", "").upper()
        if not compact.startswith("MC"):
            raise InviteError("that is not a meshchat invite code (a code starts with MC2)")
        if compact.startswith("MC1"):
            raise InviteError("this invite code is from an older meshchat (MC1): ask an admin for a new one")
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
        _, team_id, name, issuer, seed, role, addresses, expires = fields
        typed = (
            isinstance(team_id, bytes)
            and isinstance(name, str)
            and isinstance(issuer, bytes)
            and isinstance(seed, bytes)
            and isinstance(role, str)
            and isinstance(addresses, list)
            and all(isinstance(a, str) for a in addresses)
            and type(expires) is int
        )
        if not typed:
            raise InviteError("this invite code is damaged: its contents do not decode")
        return cls(team_id, name, issuer, seed, role, tuple(addresses), expires)  # type: ignore[arg-type]


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(CHECKSUM_CONTEXT + TAG.encode() + payload, digest_size=CHECKSUM_SIZE).digest()


def create_invite(
    profile: Profile, *, role: str = "member", addresses: Sequence[str] = (), ttl_ms: int = DEFAULT_TTL_MS
) -> InviteCode:
    """Authorise a new one-time invite key in our log (``member.invite``), keep its secret, return its code."""
    if role not in INVITE_ROLES:
        raise InviteError(f"cannot invite as {excerpt(role)} (observer, member or admin)")
    if not 0 < ttl_ms <= MAX_TTL_MS:
        raise InviteError("an invite expires after at least a second and at most 90 days")
    seed = secrets.token_bytes(32)
    invite = Identity(seed)
    expires = wall_ms() + ttl_ms
    kept = _issued_secrets(profile)
    kept[invite.public_key] = seed
    profile.store.set_local(SECRETS_KEY, pack(dict(list(kept.items())[-MAX_DOORS:])))  # before the entry exists
    profile.write("member.invite", {"invite_pk": invite.public_key, "role": role, "expires": expires})
    return InviteCode(profile.team_id, profile.team_name, profile.me, seed, role, tuple(addresses), expires)


def join_team(home: Path, code: InviteCode, *, display_name: str = "", callsign: str = "") -> Profile:
    """Create a home for the newcomer: a new identity, and the invite kept until the issuer's node admits it.

    Nothing is written to the log here: the issuer's node writes the admission, and the newcomer's name
    becomes its first entry once the newcomer knows it is admitted (``Profile.complete_admission``).
    """
    if code.expires and wall_ms() > code.expires:
        raise InviteError(f"this invite expired at {_utc(code.expires)}: ask an admin for a new one")
    profile = Profile.create_joining(home, code.team_id, code.team_name, None)
    try:
        profile.set_pending_invite(PendingInvite(code.invite_seed, code.issuer, code.role, display_name, callsign))
        profile.store.set_local(PEERS_KEY, pack(list(code.addresses)))
    except BaseException:
        profile.close()
        raise
    return profile


def hello_keys(profile: Profile) -> dict[bytes, bytes]:
    """``{hello key: invite_pk}`` for the invites this node issued whose hellos it answers: every one of its
    (newest :data:`MAX_DOORS`) invites in the log, open or not, so that a spent code is told why."""
    invites = profile.store.membership.invites
    return {
        invite_hello_key(secret): invite_pk
        for invite_pk, secret in _issued_secrets(profile).items()
        if invite_pk in invites and invites[invite_pk].issuer == profile.me
    }


def newcomer_refusal(profile: Profile, newcomer: bytes, invite_pk: bytes, now_ms: int) -> str | None:
    """Why the issuer's node may not admit ``newcomer``, who proved it holds the invite ``invite_pk`` (the
    rules' words: ``invite was already used`` ...); ``None`` if it may, or is in already. Reads only: the
    handshake asks it, and the node's writer then admits (:func:`admit_newcomer`)."""
    membership = profile.store.membership
    invite = membership.invites.get(invite_pk)
    if invite is None or invite.issuer != profile.me:
        return "unknown invite"
    member = membership.members.get(newcomer)
    if member is not None:  # admitted earlier (its link broke before the admission reached it), or added by key
        return None if member.role is not None else "removed from the team"
    return invite.refusal(now_ms)


def admit_newcomer(profile: Profile, newcomer: bytes, invite_pk: bytes, now_ms: int) -> str | None:
    """Admit ``newcomer`` (see :func:`newcomer_refusal`) by writing ``member.admit`` with our current network
    key sealed to it, unless it is in already. Returns ``None`` when the newcomer is in, or why it is not."""
    reason = newcomer_refusal(profile, newcomer, invite_pk, now_ms)
    if reason is not None or newcomer in profile.store.membership.members:
        return reason
    sealed = seal_network_key(profile.network_key, [newcomer]).get(newcomer)
    if sealed is None:
        return "not a key a network key can be sealed to"
    try:
        profile.write("member.admit", {"member": newcomer, "invite_pk": invite_pk, "sealed_key": sealed})
    except ProfileError as exc:
        return str(exc).removeprefix("refused: ")
    return None


def _issued_secrets(profile: Profile) -> dict[bytes, bytes]:
    raw = profile.store.get_local(SECRETS_KEY)
    try:
        kept = unpack(raw, max_len=1 << 20, max_items=MAX_DOORS + 1) if raw else {}
    except DecodeError:
        return {}
    if not isinstance(kept, dict):
        return {}
    return {k: v for k, v in kept.items() if isinstance(k, bytes) and isinstance(v, bytes) and len(v) == 32}


def _utc(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def _code_words(text: str) -> list[str]:
    """The words of the code in ``text``: without a leading ``meshchat join`` (a shell prompt's ``$`` too) and
    without the options after the code (``--name Bo``, ``--home DIR``)."""
    words = text.split()
    if words[:1] == ["$"]:
        words = words[1:]
    if [w.lower() for w in words[:2]] == ["meshchat", "join"]:
        words = words[2:]
    code: list[str] = []
    for word in words:
        if word.startswith("--"):
            break
        code.append(word)
    return code


def parse_duration(text: str) -> int:
    """``90s``, ``30m``, ``24h``, ``7d`` (or a plain number of hours) in ms; a clear error otherwise."""
    units = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    body, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "h")
    if not body.isdigit() or not 0 < int(body) * units[unit] <= MAX_TTL_MS:
        raise InviteError(f"not a duration: {excerpt(text)} (e.g. 30m, 24h, 7d; at most 90 days)")
    return int(body) * units[unit]


@dataclass(frozen=True)
class InviteState:
    """One invite as the membership evaluates it, for ``meshchat invites``."""

    invite: Invite
    state: str  # open, used, revoked, expired

    @property
    def id(self) -> str:
        return self.invite.invite_pk.hex()[:8]


def list_invites(profile: Profile, now_ms: int | None = None) -> list[InviteState]:
    """Every invite the team's log holds, oldest first."""
    now = wall_ms() if now_ms is None else now_ms
    invites = sorted(profile.store.membership.invites.values(), key=lambda i: i.issued)
    return [InviteState(invite, invite.state(now)) for invite in invites]


def revoke_invite(profile: Profile, prefix: str) -> InviteState:
    """Revoke the invite whose id (hex of its key) starts with ``prefix``."""
    text = prefix.strip().lower()
    matches = [i for i in list_invites(profile) if len(text) >= 4 and i.invite.invite_pk.hex().startswith(text)]
    if len(matches) != 1:
        what = "no invite" if not matches else "more than one invite"
        raise InviteError(f"{what} with id {excerpt(prefix)} (see 'meshchat invites'; give at least 4 hex digits)")
    found = matches[0]
    if found.state in ("used", "revoked"):
        raise InviteError(f"invite {found.id} was {found.state} already")
    profile.write("invite.revoke", {"invite_pk": found.invite.invite_pk})
    return found


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
