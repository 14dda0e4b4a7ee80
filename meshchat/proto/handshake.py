"""The secure handshake: a pure state machine (bytes in, bytes out), in the spirit of Scuttlebutt's SHS.

Four messages (exact layout in docs/formats.md)::

    1 client -> server  a_pub || HMAC(K, "meshchat/v1/hello/client" || a_pub)             64 bytes, clear
    2 server -> client  b_pub || HMAC(K, "meshchat/v1/hello/server" || b_pub || a_pub)    64 bytes, clear
    3 client -> server  sealed AUTH [client_pk, Ed25519(client, ctx || H), evidence]
    4 server -> client  sealed AUTH [server_pk, Ed25519(server, ctx || H || client_pk), evidence]
                        (or a sealed CLOSE with the reason the client was refused)

``K`` is the team's 32-byte network key, ``a``/``b`` fresh X25519 keys, ``H`` a keyed hash of messages 1
and 2. After a key rotation (``meshchat.log.netkeys``) a side may also accept the previous key for a grace
period: the client then appends a second MAC, made with the previous key, to message 1 (96 bytes), and the
server uses whichever of its keys matches one of them (its current key first). The server's MAC tells the
client which key was chosen, and that key is ``K`` for the rest of the handshake.

A newcomer has no network key yet: its ``K`` is the *hello key* of its invite, derived from the code's one-time
secret (:func:`invite_hello_key`). Only the node that issued the invite holds that secret, so only it accepts
such a hello; it tells ``authorize`` which invite was used, and admits the newcomer by writing ``member.admit``.

A first message whose MAC fails under every key is answered with a *decoy*: a fresh ephemeral key and 32 random
bytes, exactly the size and shape of a real answer, and the link ends at the next frame or the deadline. So the
answer carries no information: a replayed hello, a hello made with another team's key and random bytes all get
the same, and a captured hello tells nobody which hosts belong to the team.

Session keys come from ``crypto_kx`` over the ephemeral keys (forward secrecy), bound to ``K`` and ``H``.
Identities travel sealed, and each side signs the transcript, so a relay can neither read nor splice them.
The client reveals its identity first (message 3), to a server that proved it holds ``K``.

Whether a proven identity may connect is not for this module to say: ``authorize(peer_key, evidence,
invite)`` returns ``None`` to admit, or the reason to refuse. ``evidence`` is up to four raw log entries the
peer offers to prove its membership to a node that may not have seen it yet (the ``member.admit`` that admitted
it, and the ``member.invite`` behind it); ``invite`` is the public key of the invite whose hello key this
handshake used (on the server: the newcomer's; on the client: our own), or ``None`` for a network key.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, auto

import libnacl

from meshchat.log.codec import DecodeError, pack, unpack
from meshchat.log.entry import MAX_ENTRY_SIZE, Signer
from meshchat.proto.channel import MAX_PLAINTEXT, Kind, SecureChannel, close_reason
from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError
from meshchat.proto.framing import frame

NETWORK_KEY_SIZE = 32
HELLO_SIZE = 64
MAC_SIZE = 32
MAX_KEYS = 2  # the current network key and, for a grace period after a rotation, the previous one
MAX_EVIDENCE = 4
CLIENT_HELLO = b"meshchat/v1/hello/client"
SERVER_HELLO = b"meshchat/v1/hello/server"
TRANSCRIPT = b"meshchat/v1/transcript"
KEY_C2S = b"meshchat/v1/key/c2s"
KEY_S2C = b"meshchat/v1/key/s2c"
CLIENT_AUTH = b"meshchat/v1/auth/client"
SERVER_AUTH = b"meshchat/v1/auth/server"
INVITE_HELLO = b"meshchat/v2/invite-hello"

Authorize = Callable[[bytes, tuple[bytes, ...], bytes | None], str | None]
"""``authorize(peer_key, evidence, invite)``: ``None`` admits the peer; a string is the reason it is refused."""


def invite_hello_key(invite_secret: bytes) -> bytes:
    """The key a newcomer MACs its hello with: only the invite's issuer (and the code's holder) can make it."""
    return hashlib.blake2b(INVITE_HELLO, key=invite_secret, digest_size=NETWORK_KEY_SIZE).digest()


class Side(Enum):
    CLIENT = auto()  # dialled out: speaks first
    SERVER = auto()  # accepted the connection


class _State(Enum):
    START = auto()
    WAIT_HELLO = auto()
    WAIT_AUTH = auto()
    DECOY = auto()  # answered a hello that no key of ours made; ends at the next frame
    DONE = auto()
    FAILED = auto()


@dataclass(frozen=True)
class Credentials:
    """What this side proves: knowledge of the network key, and its identity (with optional evidence).

    A newcomer before its admission dials with its invite's hello key as ``network_key`` and that invite's
    public key as ``invite``. A server also accepts hellos made with the hello keys in ``invite_keys``
    (hello key -> invite public key): those of the invites this node issued.
    """

    network_key: bytes
    identity: Signer
    evidence: tuple[bytes, ...] = ()
    previous_keys: tuple[bytes, ...] = ()  # still accepted (a rotation's grace period); at most one
    invite_keys: Mapping[bytes, bytes] = field(default_factory=dict)
    invite: bytes | None = None

    def __post_init__(self) -> None:
        if any(len(k) != NETWORK_KEY_SIZE for k in (self.network_key, *self.previous_keys, *self.invite_keys)):
            raise LocalProtocolError("a network key is 32 bytes")
        if len(self.previous_keys) >= MAX_KEYS:
            raise LocalProtocolError(f"at most {MAX_KEYS} network keys")
        if len(self.evidence) > MAX_EVIDENCE or any(len(e) > MAX_ENTRY_SIZE for e in self.evidence):
            raise LocalProtocolError(f"at most {MAX_EVIDENCE} evidence entries of at most {MAX_ENTRY_SIZE} bytes")


@dataclass(frozen=True, eq=False)
class HandshakeResult:
    peer_key: bytes
    peer_evidence: tuple[bytes, ...]
    channel: SecureChannel = field(repr=False)
    invite: bytes | None = None  # the invite whose hello key this handshake used


class PeerRefused(RemoteProtocolError):
    """The peer proved an identity that ``authorize`` refused. ``farewell`` is a sealed CLOSE frame telling
    the peer why: send it, then end the link."""

    def __init__(self, peer_key: bytes, reason: str, farewell: bytes | bytearray) -> None:
        super().__init__(f"refused peer {peer_key.hex()[:16]}: {reason}")
        self.peer_key = peer_key
        self.reason = reason
        self.farewell = farewell


class Handshake:
    """One side of one handshake. Call :meth:`start`, then :meth:`receive` with each frame payload; each
    returns the framed bytes to send. When :attr:`result` is set, the link is authenticated both ways."""

    def __init__(self, side: Side, credentials: Credentials, authorize: Authorize) -> None:
        self.side = side
        self.credentials = credentials
        self.authorize = authorize
        self.result: HandshakeResult | None = None
        self._state = _State.START
        self._eph_public, self._eph_secret = libnacl.crypto_kx_keypair()
        self._hello = b""  # our first message
        self._transcript = b""
        self._channel: SecureChannel | None = None
        self._key = credentials.network_key  # K: the network key both sides hold (settled by the hellos)
        self._invite = credentials.invite if side is Side.CLIENT else None
        self._decoy_reason = ""

    @property
    def _keys(self) -> tuple[bytes, ...]:
        own = (self.credentials.network_key, *self.credentials.previous_keys)
        return (*own, *self.credentials.invite_keys) if self.side is Side.SERVER else own

    @property
    def decoy_reason(self) -> str:
        """Why the peer's hello was answered with a decoy ("" if it was not): the link's end reason."""
        return self._decoy_reason

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    def start(self) -> bytes:
        if self._state is not _State.START:
            raise LocalProtocolError("handshake already started")
        self._state = _State.WAIT_HELLO
        if self.side is Side.SERVER:
            return b""
        self._hello = self._eph_public + b"".join(_mac(k, CLIENT_HELLO + self._eph_public) for k in self._keys)
        return frame(self._hello)

    def receive(self, payload: bytes) -> bytes:
        """Take one frame payload; return what to send. Raises :class:`RemoteProtocolError` to end the link
        (anything already returned should still be sent: it may be a refusal the peer should read)."""
        state = self._state
        try:
            if state is _State.WAIT_HELLO:
                return self._on_hello(payload)
            if state is _State.WAIT_AUTH:
                return self._on_auth(payload)
            if state is _State.DECOY:
                raise RemoteProtocolError(self._decoy_reason)
        except RemoteProtocolError:
            self._state = _State.FAILED
            raise
        raise LocalProtocolError(f"handshake cannot receive in state {state.name}")

    # -- the steps

    def _matching_key(self, macs: list[bytes], message: bytes) -> bytes | None:
        """The first of our keys (current first) under which one of ``macs`` verifies. Every key is tried
        whatever matched, so the time taken does not tell which key (if any) made the hello."""
        found = None
        for key in self._keys:
            for mac in macs:
                try:
                    libnacl.crypto_auth_verify(mac, message, key)
                except ValueError:
                    continue
                found = found or key
        return found

    def _on_hello(self, payload: bytes) -> bytes:
        server = self.side is Side.SERVER
        if len(payload) != HELLO_SIZE and not (server and len(payload) == HELLO_SIZE + MAC_SIZE):
            raise RemoteProtocolError("not a meshchat hello (wrong size)")
        peer_public = payload[:32]
        macs = [payload[i : i + MAC_SIZE] for i in range(32, len(payload), MAC_SIZE)]
        decoy = False
        if server:
            # The same work whether or not the hello is ours, so that neither the answer nor its timing tells:
            # a hello no key of ours made is answered as if under a random key, and the link ends after.
            rx, tx, status = libnacl.crypto_kx_server_session_keys(self._eph_public, self._eph_secret, peer_public)
            matched = self._matching_key(macs, CLIENT_HELLO + peer_public)
            decoy = matched is None
            key = secrets.token_bytes(NETWORK_KEY_SIZE) if matched is None else matched
            self._hello = self._eph_public + _mac(key, SERVER_HELLO + self._eph_public + peer_public)
            self._invite = self.credentials.invite_keys.get(key)
            client_hello, server_hello = payload, self._hello
            c2s, s2c = rx, tx
        else:
            matched = self._matching_key(macs, SERVER_HELLO + peer_public + self._eph_public)
            if matched is None:
                raise RemoteProtocolError("the server's hello was not made with our network key")
            key = matched
            client_hello, server_hello = self._hello, payload
            rx, tx, status = libnacl.crypto_kx_client_session_keys(self._eph_public, self._eph_secret, peer_public)
            c2s, s2c = tx, rx
        if status != 0 and not decoy:
            raise RemoteProtocolError("unacceptable ephemeral key")
        self._key = key
        self._transcript = _keyed_hash(key, TRANSCRIPT + client_hello + server_hello)
        c2s = _keyed_hash(key, KEY_C2S + c2s + self._transcript)
        s2c = _keyed_hash(key, KEY_S2C + s2c + self._transcript)
        if self.side is Side.SERVER:
            self._channel = SecureChannel(send_key=s2c, receive_key=c2s)
            self._state = _State.WAIT_AUTH
            if decoy:  # see the module doc
                self._decoy_reason = "hello not made with our network key (another team, a replay, or not meshchat)"
                self._state, self._channel = _State.DECOY, None
            return frame(self._hello)
        self._channel = SecureChannel(send_key=c2s, receive_key=s2c)
        self._state = _State.WAIT_AUTH
        signature = self._sign(CLIENT_AUTH + self._transcript)
        return bytes(self._channel.seal(Kind.AUTH, pack([self._me, signature, list(self.credentials.evidence)])))

    def _on_auth(self, payload: bytes) -> bytes:
        channel = self._channel
        assert channel is not None
        kind, body = channel.open(payload)
        if kind is Kind.CLOSE:
            raise RemoteProtocolError(f"refused by the peer: {close_reason(body)}")
        if kind is not Kind.AUTH:
            raise RemoteProtocolError("data before the handshake completed")
        peer_key, signature, evidence = _decode_auth(body)
        if self.side is Side.SERVER:
            signed = CLIENT_AUTH + self._transcript
        else:
            signed = SERVER_AUTH + self._transcript + self._me
        try:
            libnacl.crypto_sign_verify_detached(signature, signed, peer_key)
        except ValueError:
            raise RemoteProtocolError("the peer's identity proof does not verify") from None
        if peer_key == self._me:
            reason: str | None = "that is this node itself"
        else:
            reason = self.authorize(peer_key, evidence, self._invite)
        if reason is not None:
            self._state = _State.FAILED
            raise PeerRefused(peer_key, reason, channel.close_frame(f"refused: {reason}"))
        out = b""
        if self.side is Side.SERVER:
            signature = self._sign(SERVER_AUTH + self._transcript + peer_key)
            out = bytes(channel.seal(Kind.AUTH, pack([self._me, signature, list(self.credentials.evidence)])))
        self.result = HandshakeResult(peer_key, evidence, channel, self._invite)
        self._state = _State.DONE
        return out

    @property
    def _me(self) -> bytes:
        return self.credentials.identity.public_key

    def _sign(self, message: bytes) -> bytes:
        return self.credentials.identity.sign(message)


def _mac(key: bytes, message: bytes) -> bytes:
    return bytes(libnacl.crypto_auth(message, key))


def _keyed_hash(key: bytes, data: bytes) -> bytes:
    return hashlib.blake2b(data, key=key, digest_size=32).digest()


def _decode_auth(body: bytes) -> tuple[bytes, bytes, tuple[bytes, ...]]:
    try:
        value = unpack(body, max_len=MAX_PLAINTEXT, max_items=MAX_EVIDENCE)
    except DecodeError as exc:
        raise RemoteProtocolError(f"malformed identity proof: {exc}") from None
    if type(value) is not list or len(value) != 3:
        raise RemoteProtocolError("malformed identity proof")
    key, signature, evidence = value
    if type(key) is not bytes or len(key) != 32 or type(signature) is not bytes or len(signature) != 64:
        raise RemoteProtocolError("malformed identity proof (key or signature)")
    if type(evidence) is not list or any(type(e) is not bytes or len(e) > MAX_ENTRY_SIZE for e in evidence):
        raise RemoteProtocolError("malformed membership evidence")
    return key, signature, tuple(evidence)  # type: ignore[arg-type]
