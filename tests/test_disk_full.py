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

from meshchat import node as node_module
from meshchat.errors import DiskFullError
from meshchat.events import NodeEvent, NodeProblem, PeerUp
from meshchat.node import Node, NodeConfig
from meshchat.profile import Profile
from meshchat.store import Store
from meshchat.testing import (
    author_home,
    drain_events,
    link_nodes,
    loopback_config,
    next_event,
    room_texts,
    running_node,
    synthetic_history,
    team_homes,
    wait_until,
)

FS_SIZE = "3m"


def _mount_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    if shutil.which("mount") is None:
        return "no 'mount' command"
    return None


@contextlib.contextmanager
def small_disk(where: Path, size: str = FS_SIZE) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` for the duration of the block."""
    where.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
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
        assert result.returncode == 1, result.stderr  # the machine stopped it, not the command (docs/cli.md)
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
                with pytest.raises(DiskFullError, match="disk is full"):
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
                resumes = "catching up from peers resumes by itself once there is room"
                await next_event(problems, NodeProblem, lambda e: resumes in e.message)
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


def leave_free(disk: Path, size: int) -> Path:
    """Fill the filesystem, then give back ``size`` bytes: the next ``size`` bytes written fill it."""
    filler = fill(disk)
    with open(filler, "r+b") as f:
        f.truncate(max(0, filler.stat().st_size - size))
    return filler


def backlog_homes(disk: Path, roomy: Path, entries: int) -> tuple[Path, Path]:
    """A node on the small disk holding only the founder's log, and a roomy teammate holding ``entries``
    entries of 20 authors: linking them starts a catch-up of the whole backlog."""
    team = synthetic_history(entries)
    newcomer = team.add_member()
    key = b"n" * 32
    full = author_home(disk / "full", newcomer, network_key=key, raws=[e.raw for e in team.founder.entries])
    source = author_home(roomy, team.founder, network_key=key, raws=[e.raw for e in team.all_entries()])
    return full, source


def disk_full(events: list[NodeEvent]) -> bool:
    return any(isinstance(e, NodeProblem) and "disk is full" in e.message for e in events)


def checkpoints(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each checkpoint the node makes from now on succeeded (True) or the disk refused it (False)."""
    outcomes: list[bool] = []
    checkpoint = Store.checkpoint

    def watched(store: Store) -> None:
        try:
            checkpoint(store)
        except DiskFullError:
            outcomes.append(False)
            raise
        outcomes.append(True)

    monkeypatch.setattr(Store, "checkpoint", watched)
    return outcomes


async def test_a_failed_idle_checkpoint_on_a_full_disk_does_not_stop_the_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posts wait in the write-ahead log until the node checkpoints when idle. On a full disk the checkpoint
    cannot grow the database file: the node must go on (the log keeps the posts) and checkpoint later."""
    monkeypatch.setattr(node_module, "IDLE_CHECKPOINT_S", 0.2)
    made = checkpoints(monkeypatch)
    with small_disk(tmp_path / "disk") as disk:
        [home] = team_homes(disk, 1)
        async with running_node(home, loopback_config(listen=None)) as node:
            for i in range(50):
                await node.post("general", f"in the log {i} " + "x" * 300)
            filler = fill(disk)
            await wait_until(lambda: False in made, what="an idle checkpoint the full disk refuses")
            assert len(room_texts(node)) == 50
            filler.unlink()
            await node.post("general", "after space was freed")
            refused = len(made)
            await wait_until(lambda: True in made[refused:], what="the next idle checkpoint, which succeeds")
            assert len(room_texts(node)) == 51
        with Profile.open(home) as profile:
            assert profile.store.integrity_check() == "ok"
            assert profile.store.count() >= 51


async def test_a_full_disk_during_catch_up_neither_kills_the_node_nor_drops_the_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills while a node catches up. The node checkpoints when idle (here after 0.2 s), which a full
    disk refuses; it keeps running, keeps the link (no redial loop), and stores the rest once space is freed."""
    monkeypatch.setattr(node_module, "IDLE_CHECKPOINT_S", 0.2)
    made = checkpoints(monkeypatch)
    with small_disk(tmp_path / "disk", "16m") as disk:
        full_home, source_home = backlog_homes(disk, tmp_path / "roomy", 6_000)
        async with running_node(source_home, loopback_config()) as source:
            config = loopback_config(peers=(source.listen_addresses[0],), listen=None)
            full = Node.open(full_home, config)
            events = full.events(buffer=0)
            seen: list[NodeEvent] = []
            try:
                async with trio.open_nursery() as nursery:
                    filler = leave_free(disk, 1024 * 1024)
                    await nursery.start(full.run)
                    await wait_until(lambda: disk_full(drain_events(events, seen)), timeout=20)
                    held = full.profile.store.count()
                    assert held < source.profile.store.count()
                    ups = [e for e in full.peers() if e.state in ("syncing", "live")]
                    assert len(ups) == 1, full.peers()
                    # Idle on a full disk: the checkpoint fails and the link must stay as it is.
                    await wait_until(lambda: False in made, what="an idle checkpoint the full disk refuses")
                    [status] = full.peers()
                    assert status.state in ("syncing", "live"), status
                    assert status.error == "", status
                    filler.unlink()
                    await wait_until(lambda: full.profile.store.count() == source.profile.store.count(), timeout=30)
                    await wait_until(lambda: [s.state for s in full.peers()] == ["live"], timeout=10)
                    await full.post("general", "after space was freed")
                    ups = [e for e in drain_events(events, seen) if isinstance(e, PeerUp)]
                    assert len(ups) == 1, "the link was dropped and dialled again"
                    nursery.cancel_scope.cancel()
            finally:
                full.close()
