"""A node whose disk fills up refuses new posts with a clear message, stays readable, keeps serving its peers
what it holds, and writes again once space is freed.

The data directory sits on a small tmpfs that the test mounts (root only) and unmounts; a filler file takes
the rest of the space, as another program filling the disk would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from meshchat.events import NodeProblem
from meshchat.node import Node, NodeConfig
from meshchat.profile import DiskFullError, Profile, ProfileError
from meshchat.testing import link_nodes, room_texts, team_homes, wait_until

FS_SIZE = "3m"


def _mount_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    if shutil.which("mount") is None:
        return "no 'mount' command"
    return None


@contextlib.contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    """A tmpfs of ``FS_SIZE`` mounted at ``where`` for the duration of the block."""
    where.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE}", "tmpfs", str(where)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def fill(disk: Path) -> Path:
    """Write a filler file until the filesystem is full; returns it (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 512, 1):  # down to the last byte
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def write_until_full(profile: Profile) -> DiskFullError:
    for i in range(100_000):
        try:
            profile.post("general", f"filling {i} " + "x" * 500)
        except DiskFullError as exc:
            return exc
    raise AssertionError("the disk never filled up")


pytestmark = pytest.mark.skipif(_mount_unavailable() is not None, reason=str(_mount_unavailable()))


def test_full_disk_refuses_posts_stays_readable_and_resumes(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        home = disk / "home"
        with Profile.init(home, "Disk test") as profile:
            profile.post("general", "before the disk filled")
            filler = fill(disk)
            exc = write_until_full(profile)
            assert "disk is full" in str(exc)
            head = profile.store.head(profile.me)
            assert head is not None
            # Readable, and nothing half-written: the refused post left no trace.
            texts = [m.text for m in profile.views.messages(profile.room("general").room, limit=100)]
            assert texts[0] == "before the disk filled"
            assert profile.store.integrity_check() == "ok"
            filler.unlink()
            after = profile.post("general", "after space was freed")
            assert after.seq == head.seq + 1
            assert profile.store.entry(profile.me, after.seq) is not None


def test_cli_post_on_a_full_disk_says_so(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        home = disk / "home"
        Profile.init(home, "Disk test").close()
        filler = fill(disk)
        env = {**os.environ, "MESHCHAT_HOME": str(home)}
        argv = [sys.executable, "-m", "meshchat.cli.main", "post", "general", "x" * 4000]
        for _ in range(500):
            result = subprocess.run(argv, capture_output=True, text=True, env=env)
            if result.returncode != 0:
                break
        assert result.returncode == 2, result.stderr
        assert "disk is full" in result.stderr
        assert "Traceback" not in result.stderr
        read = subprocess.run(
            [sys.executable, "-m", "meshchat.cli.main", "log"], capture_output=True, text=True, env=env
        )
        assert read.returncode == 0, read.stderr
        filler.unlink()
        again = subprocess.run([*argv[:-1], "after"], capture_output=True, text=True, env=env)
        assert again.returncode == 0, again.stderr


async def test_full_node_refuses_posts_but_serves_peers_then_resumes(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        homes = team_homes(disk, 2)  # the founder stays on the small disk; the member moves to a roomy one
        roomy = tmp_path / "roomy"
        shutil.copytree(homes[1], roomy)
        shutil.rmtree(homes[1])
        full = Node.open(homes[0], NodeConfig(discovery=False, poll_interval=0.05))
        peer = Node.open(roomy, NodeConfig(discovery=False, poll_interval=0.05))
        problems = full.events(buffer=0)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(full.run)
                await nursery.start(peer.run)
                for i in range(20):
                    await full.post("general", f"held before {i}")
                filler = fill(disk)
                with pytest.raises(ProfileError, match="disk is full"):
                    for i in range(100_000):
                        await full.post("general", f"filling {i} " + "x" * 500)
                written = full.profile.store.count()
                # Readable, and reported.
                assert "held before 0" in room_texts(full)
                event = problems.receive_nowait()
                while not isinstance(event, NodeProblem):
                    event = problems.receive_nowait()
                assert "disk is full" in event.message
                # Serves a peer everything it holds, while full.
                link = link_nodes(nursery, peer, full)
                await wait_until(lambda: peer.profile.store.count() == written, timeout=15)
                # The peer writes; the full node cannot store it, and says so, but stays up.
                await peer.post("general", "from the roomy peer")
                await trio.sleep(0.5)
                # Space comes back: the node writes again and catches up with the peer.
                filler.unlink()
                link.cancel()
                await full.post("general", "after space was freed")
                link_nodes(nursery, peer, full)
                await wait_until(
                    lambda: full.profile.store.count() == peer.profile.store.count() == written + 2, timeout=15
                )
                assert full.views.snapshot() == peer.views.snapshot()
                nursery.cancel_scope.cancel()
        finally:
            full.close()
            peer.close()
