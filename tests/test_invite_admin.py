"""Invites as an admin manages them: codes that carry their expiry, durations, listing and revoking."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from meshchat.invites import (
    TAG,
    InviteCode,
    InviteError,
    admit_newcomer,
    create_invite,
    join_team,
    list_invites,
    parse_duration,
    revoke_invite,
)
from meshchat.log.clock import wall_ms
from meshchat.log.codec import pack
from meshchat.log.netkeys import stale_rotation
from meshchat.profile import Profile, ProfileError
from meshchat.testing import team_homes


def test_a_code_carries_its_expiry_and_issuer_and_no_network_key(tmp_path: Path) -> None:
    (home,) = team_homes(tmp_path, 1)
    with Profile.open(home) as owner:
        code = create_invite(owner, role="observer", ttl_ms=parse_duration("24h"))
        network_key, me = owner.network_key, owner.me
    text = code.encode()
    again = InviteCode.decode(text)
    assert again == code and again.expires > 0 and again.issuer == me and text.startswith("MC2")
    assert network_key not in base64.b32decode(text[3:] + "=" * (-len(text[3:]) % 8))


def test_a_code_is_read_as_pasted_alone_over_lines_or_as_the_cli_line(tmp_path: Path) -> None:
    """The TUI's invite box shows a code over several lines; ``meshchat invite`` prints ``meshchat join CODE``.
    Whatever a person pastes of those, the code is found (issue 14.4)."""
    (home,) = team_homes(tmp_path, 1)
    with Profile.open(home) as owner:
        code = create_invite(owner, role="member")
    text = code.encode()
    lines = "\n".join(text[i : i + 20] for i in range(0, len(text), 20))
    for pasted in (
        text,
        lines,
        f"meshchat join {text}",
        f"  Meshchat JOIN {text} --name Bo --home /tmp/bo\n",
        f"$ meshchat join\n{lines}\n",
        text.lower(),
    ):
        assert InviteCode.decode(pasted) == code, pasted
    with pytest.raises(InviteError, match="not a meshchat invite code"):
        InviteCode.decode(f"meshchat post general {text}")


def test_a_code_of_the_old_format_is_refused_with_what_to_do() -> None:
    payload = pack([1, bytes(32), "T", bytes(32), bytes(32), 5, "member", []])
    old = "MC1" + base64.b32encode(payload + b"1234").decode().rstrip("=")
    with pytest.raises(InviteError, match=r"older meshchat.*ask an admin for a new one"):
        InviteCode.decode(old)
    assert TAG == "MC2"


@pytest.mark.parametrize(("text", "ms"), [("90s", 90_000), ("30m", 1_800_000), ("24h", 86_400_000), ("2", 7_200_000)])
def test_durations(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "h", "-1h", "1.5h", "91d", "0s", "soon"])
def test_bad_durations_are_clear_errors(text: str) -> None:
    with pytest.raises(InviteError, match="not a duration"):
        parse_duration(text)


def test_listing_and_revoking(tmp_path: Path) -> None:
    (home,) = team_homes(tmp_path, 1)
    with Profile.open(home) as owner:
        used = create_invite(owner)
        with join_team(tmp_path / "bo", used) as bo:  # Bo reaches the owner's node, which admits it
            assert admit_newcomer(owner, bo.me, used.invite_public_key, wall_ms()) is None
        open_one = create_invite(owner, role="admin")
        states = {s.invite.invite_pk: s.state for s in list_invites(owner)}
        assert states == {used.invite_public_key: "used", open_one.invite_public_key: "open"}
        with pytest.raises(InviteError, match="was used already"):
            revoke_invite(owner, used.invite_public_key.hex()[:8])
        with pytest.raises(InviteError, match="no invite"):
            revoke_invite(owner, "abc")  # too short to mean anything
        revoke_invite(owner, open_one.invite_public_key.hex()[:8])
        assert {s.state for s in list_invites(owner)} == {"used", "revoked"}
        later = list_invites(owner, now_ms=2**52)
        assert {s.state for s in later} == {"used", "revoked"}  # used and revoked stay what they are


def test_removal_rotates_at_once_and_a_member_cannot_remove(tmp_path: Path) -> None:
    owner_home, a, b = team_homes(tmp_path, 3)
    with Profile.open(a) as pa, Profile.open(b) as pb, Profile.open(owner_home) as owner:
        before = owner.network_key
        pa.store.accept_batch(list(owner.store.iter_raw()))
        with pytest.raises(ProfileError, match="Only admins can invite people or change who is in the team"):
            pa.remove_member(pb.me)
        owner.remove_member(pb.me)
        assert not stale_rotation(owner.store.membership)
        assert owner.network_key != before
        pa.store.accept_batch(list(owner.store.iter_raw()))
        pb.store.accept_batch(list(owner.store.iter_raw()))
        assert pa.network_key == owner.network_key  # the remaining member opens its copy
        assert pb.network_key == before  # the removed one has none
        keys = pa.network_keys()
        assert (keys.current, keys.previous, keys.epoch) == (owner.network_key, before, 1)
        with pytest.raises(ProfileError, match="removed already"):
            owner.remove_member(pb.me)
