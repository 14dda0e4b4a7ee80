"""Administration as a person does it: the real `meshchat` command line, and nodes on 127.0.0.1."""

from __future__ import annotations

import re
import time
from pathlib import Path

from meshchat.invites import create_invite
from meshchat.profile import Profile
from meshchat.testing import free_port, node_process, run_cli, team_homes, wait_until_sync


def code_in(output: str) -> str:
    found = re.search(r"meshchat join (MC2\S+)", output)
    assert found, output
    return found.group(1)


def refused(result: object, message: str) -> None:
    assert getattr(result, "returncode", None) == 2, result
    stderr = str(getattr(result, "stderr", ""))
    assert message in stderr and "Traceback" not in stderr, stderr


def test_invites_roles_expiry_and_revocation(tmp_path: Path) -> None:
    ana = tmp_path / "ana"
    run_cli(ana, "init", "--team", "Flood response", "--name", "Ana")
    out = run_cli(ana, "invite", "--role", "observer", "--expires", "24h", "--qr").stdout
    observer_code = code_in(out)
    assert "as observer" in out and "█" in out  # the QR code, drawn in block characters
    second = run_cli(ana, "invite").stdout
    invite_id = re.search(r"invite revoke ([0-9a-f]{8})", second).group(1)  # type: ignore[union-attr]
    assert "revoked invite" in run_cli(ana, "invite", "revoke", invite_id).stdout
    refused(run_cli(ana, "invite", "revoke", invite_id, ok=False), "was revoked already")
    listing = run_cli(ana, "invites").stdout
    assert re.search(rf"{invite_id}\s+member\s+revoked by Ana", listing), listing
    assert re.search(r"observer\s+open", listing), listing
    refused(run_cli(ana, "invite", "--expires", "soon", ok=False), "not a duration")
    # An expired code is refused before anything is created.
    with Profile.open(ana) as profile:  # made to expire at once (the CLI's shortest is a second)
        quick = create_invite(profile, ttl_ms=1).encode()
    time.sleep(0.01)  # real time: the wall clock is what expires it, in the joining process
    refused(run_cli(tmp_path / "late", "join", quick, ok=False), "this invite expired")
    assert not (tmp_path / "late" / "meshchat.db").exists()
    assert re.search(r"member\s+expired", run_cli(ana, "invites").stdout)
    # An observer reads but cannot post, and cannot invite. (Its code names no address: its node is told.)
    bo = tmp_path / "bo"
    assert "names no address" in run_cli(bo, "join", observer_code, "--name", "Bo").stdout
    assert "waiting for the node that invited you" in run_cli(bo, "whoami").stdout
    refused(run_cli(bo, "post", "general", "hello", ok=False), "you are not admitted yet")
    port = free_port()
    with node_process(ana, listen=f"127.0.0.1:{port}"), node_process(bo, f"127.0.0.1:{port}"):
        wait_until_sync(lambda: "(observer)" in run_cli(bo, "whoami").stdout)
    refused(run_cli(bo, "post", "general", "hello", ok=False), "Only members and admins can post messages")
    refused(run_cli(bo, "invite", ok=False), "Only admins can invite people")


def test_members_remove_role_and_profile(tmp_path: Path) -> None:
    owner_home, admin_home, member_home, other_home = team_homes(tmp_path, 4)
    keys = [run_cli(h, "id").stdout.strip() for h in (owner_home, admin_home, member_home, other_home)]
    _, admin, member, other = keys
    assert "is now admin" in run_cli(owner_home, "members", "role", admin[:12], "admin").stdout
    refused(run_cli(owner_home, "members", "role", "nobody", "member", ok=False), "no member matches")
    # A member (who holds the log) cannot add or promote anyone.
    refused(run_cli(member_home, "members", "role", other[:12], "observer", ok=False), "Only admins")
    refused(run_cli(member_home, "invite", ok=False), "Only admins can invite people")
    stranger = "ab" * 32
    refused(run_cli(member_home, "members", "add", stranger, ok=False), "change who is in the team")
    assert (
        "added Eve as observer"
        in run_cli(owner_home, "members", "add", stranger, "--role", "observer", "--name", "Eve").stdout
    )
    # The admin (once it has the owner's entries) changes members, but not the owner's admins.
    with Profile.open(owner_home) as owner, Profile.open(admin_home) as adm:
        adm.store.accept_batch(list(owner.store.iter_raw()))
    run_cli(admin_home, "profile", "--name", "Cy", "--callsign", "RESCUE-2")
    assert re.search(r"admin\s+Cy \[RESCUE-2\]", run_cli(admin_home, "members").stdout)
    assert "is now observer" in run_cli(admin_home, "members", "role", "n3", "observer").stdout
    out = run_cli(admin_home, "members", "remove", member[:12]).stdout
    assert "removed n2" in out and "rotated the network key" in out
    listing = run_cli(admin_home, "members").stdout
    assert re.search(rf"{member}\s+removed \(up to #0\)", listing), listing
    refused(run_cli(admin_home, "members", "remove", member[:12], ok=False), "removed already")
    refused(run_cli(admin_home, "members", "role", keys[0][:12], "member", ok=False), "owner")


def test_a_spent_or_revoked_code_is_refused_by_the_team_and_says_why(tmp_path: Path) -> None:
    ana, bo, cy, dan, eve = (tmp_path / n for n in ("ana", "bo", "cy", "dan", "eve"))
    port = free_port()
    run_cli(ana, "init", "--team", "T", "--name", "Ana")
    code = code_in(run_cli(ana, "invite", "--address", f"127.0.0.1:{port}").stdout)
    revoked_out = run_cli(ana, "invite", "--address", f"127.0.0.1:{port}").stdout
    revoked_id = re.search(r"invite revoke ([0-9a-f]{8})", revoked_out).group(1)  # type: ignore[union-attr]
    run_cli(ana, "invite", "revoke", revoked_id)
    with node_process(ana, listen=f"127.0.0.1:{port}"):
        assert "Admitted to 'T' as member" in run_cli(bo, "join", code, "--name", "Bo").stdout
        wait_until_sync(lambda: re.search(r"member\s+Bo", run_cli(ana, "members").stdout) is not None)
        for home, used, reason in (
            (cy, code, "invite was already used"),
            (dan, code_in(revoked_out), "invite was revoked"),
        ):
            result = run_cli(home, "join", used, "--name", "X", ok=False)
            refused(result, f"the team refused this invite: {reason}. Ask an admin for a new invite code")
            assert not home.exists(), "nothing is kept of a refused join"
        # A node started on a home whose join did not wait says the same, and so does whoami.
        run_cli(eve, "join", code, "--wait", "0")
        with node_process(eve) as node:
            wait_until_sync(lambda: "invite was already used" in run_cli(eve, "whoami").stdout)
            err = node.stop()
        assert "The team refused your invite: invite was already used. What to do: ask an admin" in err, err
        who = run_cli(eve, "whoami").stdout
        assert "not a member: the team refused your invite (invite was already used)" in who
        refused(run_cli(eve, "post", "general", "hi", ok=False), "the team refused your invite")
        members = run_cli(ana, "members").stdout
        assert "Cy" not in members and "Dan" not in members and "X" not in members
        assert re.search(r"used\s+by Bo", run_cli(ana, "invites").stdout)
