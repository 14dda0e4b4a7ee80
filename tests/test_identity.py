from __future__ import annotations

import stat
from pathlib import Path

import pytest

from meshchat.identity import Identity, IdentityError, load_identity, save_identity


def test_round_trip_and_mode(tmp_path: Path) -> None:
    identity = Identity.generate()
    path = tmp_path / "identity.key"
    save_identity(identity, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_identity(path).public_key == identity.public_key


def test_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "identity.key"
    save_identity(Identity.generate(), path)
    with pytest.raises(IdentityError, match="already exists"):
        save_identity(Identity.generate(), path)


def test_refuses_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "identity.key"
    save_identity(Identity.generate(), path)
    path.chmod(0o644)
    with pytest.raises(IdentityError, match="readable by other users"):
        load_identity(path)


@pytest.mark.parametrize(
    "content", ["", "meshchat-identity-v1\nnothex\n", "meshchat-identity-v1\nabcd\n", "other\n" + "00" * 32]
)
def test_refuses_bad_content(tmp_path: Path, content: str) -> None:
    path = tmp_path / "identity.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(IdentityError):
        load_identity(path)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="meshchat init"):
        load_identity(tmp_path / "nope")


def test_signatures_verify_with_the_public_key() -> None:
    import libnacl

    identity = Identity.generate()
    sig = identity.sign(b"message")
    libnacl.crypto_sign_verify_detached(sig, b"message", identity.public_key)
    with pytest.raises(ValueError):
        libnacl.crypto_sign_verify_detached(sig, b"other", identity.public_key)
