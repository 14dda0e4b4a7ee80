"""Ed25519 identities (libnacl) and the key file that holds one on disk.

The key file holds the 32-byte seed as hex under a one-line header. It is created with mode 0600 in a single
``open(O_CREAT | O_EXCL)``, so the secret is never readable by others, not even for a moment, and an existing
key is never overwritten. Loading refuses a file that others can read or that is malformed, with a message
that says how to fix it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import libnacl

from meshchat.errors import MeshchatError

HEADER = "meshchat-identity-v1"


class IdentityError(MeshchatError):
    """A key file that is missing, unreadable, exposed or malformed."""


class Identity:
    """An Ed25519 key pair. Implements :class:`meshchat.log.entry.Signer`."""

    __slots__ = ("_public", "_secret", "_seed")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise IdentityError("an identity seed is 32 bytes")
        self._seed = seed
        self._public, self._secret = libnacl.crypto_sign_seed_keypair(seed)

    @classmethod
    def generate(cls) -> Identity:
        return cls(libnacl.randombytes(32))

    @property
    def public_key(self) -> bytes:
        return bytes(self._public)

    @property
    def seed(self) -> bytes:
        return self._seed

    def sign(self, message: bytes) -> bytes:
        return bytes(libnacl.crypto_sign_detached(message, self._secret))

    def curve25519_secret(self) -> bytes:
        """The X25519 form of this key, for decrypting what others seal to us (e.g. a rotated network key)."""
        return bytes(libnacl.crypto_sign_ed25519_sk_to_curve25519(self._secret))

    def curve25519_public(self) -> bytes:
        """The X25519 form of the public key (what others seal to)."""
        return bytes(libnacl.crypto_sign_ed25519_pk_to_curve25519(self._public))

    def __repr__(self) -> str:
        return f"Identity({self.public_key.hex()[:16]}...)"


def save_identity(identity: Identity, path: Path) -> None:
    """Write a new key file with mode 0600. Refuses to overwrite an existing one."""
    text = f"{HEADER}\n{identity.seed.hex()}\n".encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise IdentityError(f"{path} already exists; refusing to overwrite an identity") from None
    try:
        os.write(fd, text)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_identity(path: Path) -> Identity:
    """Read a key file, checking that only its owner can read it and that it holds a well-formed key."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise IdentityError(f"no identity at {path} (run 'meshchat init' or 'meshchat join')") from None
    if not stat.S_ISREG(info.st_mode):
        raise IdentityError(f"{path} is not a regular file")
    if info.st_mode & 0o077:
        raise IdentityError(
            f"{path} is readable by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"run 'chmod 600 {path}' if you trust it, or create a new identity"
        )
    try:
        lines = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise IdentityError(f"cannot read {path}: {exc}") from None
    if len(lines) != 2 or lines[0] != HEADER:
        raise IdentityError(f"{path} is not a meshchat identity file")
    try:
        seed = bytes.fromhex(lines[1])
    except ValueError:
        raise IdentityError(f"{path} holds a malformed key") from None
    if len(seed) != 32:
        raise IdentityError(f"{path} holds a key of the wrong length")
    return Identity(seed)
