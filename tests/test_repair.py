"""``meshchat repair``: a damaged store is moved aside and rebuilt from what is still readable, from bundles
and from peers, keeping the identity; own writes wait until our own log is back as far as it was."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import trio

from meshchat.export.bundle import write_bundle
from meshchat.homelock import HomeLock
from meshchat.identity import load_identity
from meshchat.profile import IDENTITY_FILE, STORE_FILE, Profile
from meshchat.testing import damage_database, loopback_config, room_texts, run_cli, running_node, team_homes, wait_until

OWN_POSTS = 300
TEAM_POSTS = 300


@pytest.fixture(scope="module")
def damaged_team(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A founder's home and a member's, each holding the whole team log (the member's own 300 posts and the
    founder's 300); then a failing disk overwrites three pages of the member's database, among the entries'
    rows, where its own posts are (wherever the other tables put them in the file)."""
    base = tmp_path_factory.mktemp("team")
    founder_home, member_home = team_homes(base, 2)
    with Profile.open(founder_home) as founder, Profile.open(member_home) as member:
        for i in range(OWN_POSTS):
            member.post("general", f"member post {i} " + "m" * 100)
        for i in range(TEAM_POSTS):
            founder.post("general", f"founder post {i} " + "f" * 100)
        founder.store.accept_batch(list(member.store.iter_raw()))
        member.store.accept_batch(list(founder.store.iter_raw()))
        assert founder.store.count() == member.store.count()
    damage_database(member_home / STORE_FILE, at=0.3, pages=3, table="entries")
    return base


def damaged_member(damaged_team: Path, to: Path) -> tuple[Path, Path]:
    """A fresh copy of the team's two homes: the founder's, and the member's damaged one."""
    shutil.copytree(damaged_team, to / "team")
    return to / "team" / "node0", to / "team" / "node1"


def key_of(home: Path) -> bytes:
    return load_identity(home / IDENTITY_FILE).public_key


def entries_of(home: Path) -> int:
    with Profile.open(home) as profile:
        return profile.store.count()


async def repair(home: Path, *args: str) -> tuple[int, str, str]:
    """``meshchat repair ARGS`` in a process (this trio run goes on serving the in-process peer meanwhile)."""
    command = [sys.executable, "-m", "meshchat.cli.main", "repair", *args]
    env = {**os.environ, "MESHCHAT_HOME": str(home)}
    done = await trio.run_process(command, env=env, capture_stdout=True, capture_stderr=True, check=False)
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    assert "Traceback" not in stderr, stderr
    return done.returncode, stdout, stderr


async def test_repair_rebuilds_a_damaged_store_from_a_peer_keeping_the_identity(
    damaged_team: Path, tmp_path: Path
) -> None:
    founder_home, member_home = damaged_member(damaged_team, tmp_path)
    key = key_of(member_home)
    refused = run_cli(member_home, "log", ok=False)
    assert refused.returncode == 2 and "is damaged" in refused.stderr
    async with running_node(founder_home, loopback_config()) as founder:
        host, port = founder.listen_addresses[0]
        code, out, err = await repair(
            member_home, "--no-listen", "--no-discovery", "--peer", f"{host}:{port}", "--timeout", "60"
        )
        assert code == 0, (out, err)
        assert "kept the damaged files in" in out and "from peers:" in out and "repaired" in out, out
        assert entries_of(member_home) == founder.profile.store.count()
        assert run_cli(member_home, "id").stdout.strip() == key.hex()
        [aside] = [p for p in member_home.iterdir() if p.name.startswith("damaged-")]
        assert (aside / STORE_FILE).exists()
        # The repaired home writes again, and its peer takes the post: the log did not fork.
        run_cli(member_home, "post", "general", "written after the repair")
        async with running_node(member_home, loopback_config(peers=((host, port),), listen=None)):
            await wait_until(lambda: "written after the repair" in room_texts(founder), timeout=20)
        assert founder.forked_authors() == {}


def test_repair_offline_from_a_bundle(damaged_team: Path, tmp_path: Path) -> None:
    founder_home, member_home = damaged_member(damaged_team, tmp_path)
    bundle = tmp_path / "team.bundle"
    with Profile.open(founder_home) as founder:
        write_bundle(founder.store, founder.me, bundle)
        held = founder.store.count()
    result = run_cli(member_home, "repair", "--offline", "--bundle", str(bundle))
    assert "from team.bundle:" in result.stdout and "repaired" in result.stdout, result.stdout
    assert entries_of(member_home) == held
    run_cli(member_home, "post", "general", "written after the repair")


def test_repair_with_nothing_but_the_damaged_store_keeps_own_writes_paused(damaged_team: Path, tmp_path: Path) -> None:
    """The damaged pages held part of our own log: what follows them cannot be linked, so the store is rebuilt
    short of where it was, and writing waits. If no teammate ever received those entries, the user may give
    them up explicitly."""
    _, member_home = damaged_member(damaged_team, tmp_path)
    result = run_cli(member_home, "repair", "--offline", ok=False)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "damaged parts skipped" in result.stdout and "writing is paused" in result.stdout, result.stdout
    assert 0 < entries_of(member_home) < 2 + OWN_POSTS + TEAM_POSTS
    assert "writing is paused" in run_cli(member_home, "whoami").stdout
    posted = run_cli(member_home, "post", "general", "too early", ok=False)
    assert posted.returncode == 2 and "writing is paused" in posted.stderr
    assert "#300" in posted.stderr
    resumed = run_cli(member_home, "repair", "--resume-writing")
    assert "writing resumes at #" in resumed.stdout
    run_cli(member_home, "post", "general", "after giving up the lost entries")


@pytest.mark.parametrize("state", ["healthy", "missing"])
def test_repair_refuses_a_healthy_or_missing_store(tmp_path: Path, state: str) -> None:
    [home] = team_homes(tmp_path, 1)
    if state == "missing":
        (home / STORE_FILE).unlink()
    result = run_cli(home, "repair", "--offline", ok=False)
    assert result.returncode == 2
    assert ("is healthy: nothing to repair" if state == "healthy" else "nothing to repair") in result.stderr


def test_repair_waits_for_no_node_to_hold_the_home(damaged_team: Path, tmp_path: Path) -> None:
    """A node (the TUI, say) still runs on the damaged home: repair moves nothing and says which process."""
    _, member_home = damaged_member(damaged_team, tmp_path)
    lock = HomeLock.acquire(member_home)
    try:
        result = run_cli(member_home, "repair", "--offline", ok=False)
    finally:
        lock.release()
    assert result.returncode == 2 and f"another meshchat node (process {os.getpid()})" in result.stderr
    assert not list(member_home.glob("damaged-*")), "nothing is moved aside while a node holds the home"
    assert "damaged parts skipped" in run_cli(member_home, "repair", "--offline", ok=False).stdout  # once it is free
