"""The secure handshake: a pure state machine (bytes in, bytes out), in the spirit of Scuttlebutt's SHS.

Four messages (exact layout in docs/formats.md)::

    1 client -> server  a_pub || HMAC(K, "meshchat/v1/hello/client" || a_pub)             64 bytes, clear
    2 server -> client  b_pub || HMAC(K, "meshchat/v1/hello/server" || b_pub || a_pub)    64 bytes, clear
    3 client -> server  sealed AUTH [client_pk, Ed25519(client, ctx || H), evidence]
    4 server -> client  sealed AUTH [server_pk, Ed25519(server, ctx || H || client_pk), evidence]
                        (or a sealed CLOSE with the reason the client was refused)

``K`` is the team's 32-byte network key, ``a``/``b`` fresh X25519 keys, ``H`` a keyed hash of messages 1
and 2. The server answers nothing at all to a first message whose MAC fails, so an outsider learns nothing,
not even that a meshchat node is listening. Session keys come from ``crypto_kx`` over the ephemeral keys
(forward secrecy), bound to ``K`` and ``H``. Identities travel sealed, and each side signs the transcript, so
a relay can neither read nor splice them.

Whether a proven identity may connect is not for this module to say: ``authorize(peer_key, evidence)``
returns ``None`` to admit, or the reason to refuse. ``evidence`` is up to four raw log entries the peer
offers to prove its membership to a node that may not have seen it yet (a newcomer's ``member.join`` and the
inviter's ``member.invite``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
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
MAX_EVIDENCE = 4
CLIENT_HELLO = b"meshchat/v1/hello/client"
SERVER_HELLO = b"meshchat/v1/hello/server"
TRANSCRIPT = b"meshchat/v1/transcript"
KEY_C2S = b"meshchat/v1/key/c2s"
KEY_S2C = b"meshchat/v1/key/s2c"
CLIENT_AUTH = b"meshchat/v1/auth/client"
SERVER_AUTH = b"meshchat/v1/auth/server"

Authorize = Callable[[bytes, tuple[bytes, ...]], str | None]
"""``authorize(peer_key, evidence)``: ``None`` admits the peer; a string is the reason it is refused."""


class Side(Enum):
    CLIENT = auto()  # dialled out: speaks first
    SERVER = auto()  # accepted the connection


class _State(Enum):
    START = auto()
    WAIT_HELLO = auto()
    WAIT_AUTH = auto()
    DONE = auto()
    FAILED = auto()


@dataclass(frozen=True)
class Credentials:
    """What this side proves: knowledge of the network key, and its identity (with optional evidence)."""

    network_key: bytes
    identity: Signer
    evidence: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if len(self.network_key) != NETWORK_KEY_SIZE:
            raise LocalProtocolError("the network key is 32 bytes")
        if len(self.evidence) > MAX_EVIDENCE or any(len(e) > MAX_ENTRY_SIZE for e in self.evidence):
            raise LocalProtocolError(f"at most {MAX_EVIDENCE} evidence entries of at most {MAX_ENTRY_SIZE} bytes")


@dataclass(frozen=True, eq=False)
class HandshakeResult:
    peer_key: bytes
    peer_evidence: tuple[bytes, ...]
    channel: SecureChannel = field(repr=False)


class PeerRefused(RemoteProtocolError):
    """The peer proved an identity that ``authorize`` refused. ``farewell`` is a sealed CLOSE frame telling
    the peer why: send it, then end the link."""

    def __init__(self, peer_key: bytes, reason: str, farewell: bytes) -> None:
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

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    def start(self) -> bytes:
        if self._state is not _State.START:
            raise LocalProtocolError("handshake already started")
        self._state = _State.WAIT_HELLO
        if self.side is Side.SERVER:
            return b""
        self._hello = self._eph_public + self._mac(CLIENT_HELLO + self._eph_public)
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
        except RemoteProtocolError:
            self._state = _State.FAILED
            raise
        raise LocalProtocolError(f"handshake cannot receive in state {state.name}")

    # -- the steps

    def _mac(self, message: bytes) -> bytes:
        return bytes(libnacl.crypto_auth(message, self.credentials.network_key))

    def _check_mac(self, mac: bytes, message: bytes) -> bool:
        try:
            libnacl.crypto_auth_verify(mac, message, self.credentials.network_key)
        except ValueError:
            return False
        return True

    def _on_hello(self, payload: bytes) -> bytes:
        if len(payload) != HELLO_SIZE:
            raise RemoteProtocolError("not a meshchat hello (wrong size)")
        peer_public, mac = payload[:32], payload[32:]
        if self.side is Side.SERVER:
            if not self._check_mac(mac, CLIENT_HELLO + peer_public):
                raise RemoteProtocolError("hello not made with our network key (another team, or not meshchat)")
            self._hello = self._eph_public + self._mac(SERVER_HELLO + self._eph_public + peer_public)
            client_hello, server_hello = payload, self._hello
            rx, tx, status = libnacl.crypto_kx_server_session_keys(self._eph_public, self._eph_secret, peer_public)
            c2s, s2c = rx, tx
        else:
            if not self._check_mac(mac, SERVER_HELLO + peer_public + self._eph_public):
                raise RemoteProtocolError("the server's hello was not made with our network key")
            client_hello, server_hello = self._hello, payload
            rx, tx, status = libnacl.crypto_kx_client_session_keys(self._eph_public, self._eph_secret, peer_public)
            c2s, s2c = tx, rx
        if status != 0:
            raise RemoteProtocolError("unacceptable ephemeral key")
        key = self.credentials.network_key
        self._transcript = _keyed_hash(key, TRANSCRIPT + client_hello + server_hello)
        c2s = _keyed_hash(key, KEY_C2S + c2s + self._transcript)
        s2c = _keyed_hash(key, KEY_S2C + s2c + self._transcript)
        if self.side is Side.SERVER:
            self._channel = SecureChannel(send_key=s2c, receive_key=c2s)
            self._state = _State.WAIT_AUTH
            return frame(self._hello)
        self._channel = SecureChannel(send_key=c2s, receive_key=s2c)
        self._state = _State.WAIT_AUTH
        signature = self._sign(CLIENT_AUTH + self._transcript)
        return self._channel.seal(Kind.AUTH, pack([self._me, signature, list(self.credentials.evidence)]))

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
        reason = "that is this node itself" if peer_key == self._me else self.authorize(peer_key, evidence)
        if reason is not None:
            self._state = _State.FAILED
            raise PeerRefused(peer_key, reason, channel.close_frame(f"refused: {reason}"))
        out = b""
        if self.side is Side.SERVER:
            signature = self._sign(SERVER_AUTH + self._transcript + peer_key)
            out = channel.seal(Kind.AUTH, pack([self._me, signature, list(self.credentials.evidence)]))
        self.result = HandshakeResult(peer_key, evidence, channel)
        self._state = _State.DONE
        return out

    @property
    def _me(self) -> bytes:
        return self.credentials.identity.public_key

    def _sign(self, message: bytes) -> bytes:
        return self.credentials.identity.sign(message)


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
