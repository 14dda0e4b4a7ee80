"""A node whose store lost the end of its own log stops writing, fetches it back, and only then goes on; a node
whose own log forked (its key on two devices) is told loudly, and its peers record the fork with proof.

Before: after a crash that lost the ``-wal`` file (or a restored backup, a VM snapshot, a copied home) the node
wrote new entries at seqs its peers already held with other content; peers rejected them as "does not link",
recorded no fork, and the node's posts never reached anyone, silently, forever.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from meshchat.events import ForkDetected, NodeEvent, WritingPaused
from meshchat.node import Node
from meshchat.profile import IDENTITY_FILE, STORE_FILE, ProfileError
from meshchat.store.own import mark_path
from meshchat.testing import (
    drain_events,
    link_nodes,
    loopback_config,
    next_event,
    room_texts,
    run_cli,
    running_node,
    team_homes,
    wait_until,
)


def copy_home(home: Path, to: Path, *, with_wal: bool) -> Path:
    """What a backup, a copied home or a crash that lost the write-ahead log leaves: the database file (with or
    without its -wal), the identity, and the head mark beside the database."""
    to.mkdir(mode=0o700)
    names = [IDENTITY_FILE, STORE_FILE, mark_path(Path(STORE_FILE)).name]
    if with_wal:
        names.append(STORE_FILE + "-wal")
    for name in names:
        if (home / name).exists():
            shutil.copy2(home / name, to / name)
    return to


def own_head(node: Node, author: bytes) -> int:
    head = node.profile.store.head(author)
    return head.seq if head else 0


async def member_copied_midway(
    founder: Node, member_home: Path, to: Path, *, before: int, after: int = 0, with_wal: bool
) -> bytes:
    """The member posts ``before`` entries, its home is copied to ``to`` (see :func:`copy_home`), then it posts
    ``after`` more; the founder holds them all. Returns the member's key: the copy is the same member."""
    async with running_node(member_home, loopback_config(listen=None)) as member, trio.open_nursery() as nursery:
        link = link_nodes(nursery, member, founder)
        for i in range(before):
            await member.post("general", f"before the copy {i}")
        await wait_until(lambda: own_head(founder, member.me) == before, timeout=10)
        copy_home(member_home, to, with_wal=with_wal)
        for i in range(after):
            await member.post("general", f"after the copy {i}")
        await wait_until(lambda: own_head(founder, member.me) == before + after, timeout=20)
        link.cancel()
    return member.me


async def test_a_store_that_lost_its_wal_pauses_writing_until_a_peer_gives_its_own_log_back(tmp_path: Path) -> None:
    founder_home, member_home = team_homes(tmp_path, 2)
    config = loopback_config(listen=None)
    async with running_node(founder_home, config) as founder:
        # The crash: the database file as it was before its write-ahead log, which is lost.
        crashed = tmp_path / "crashed"
        me = await member_copied_midway(founder, member_home, crashed, before=10, with_wal=False)
        restarted = Node.open(crashed, config)
        events = restarted.events(buffer=0)
        seen: list[NodeEvent] = []
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(restarted.run)
                assert own_head(restarted, me) < 10, "the copy must have lost the end of the log"
                # Before any peer: the head mark shows the loss, and writing waits.
                with pytest.raises(ProfileError, match="writing is paused"):
                    await restarted.post("general", "would fork the log")
                paused = [e for e in drain_events(events, seen) if isinstance(e, WritingPaused)]
                assert paused and paused[-1].paused and "#10" in paused[-1].message
                # A peer gives it back; then writing works again, and the peer takes what follows.
                link_nodes(nursery, restarted, founder)
                await wait_until(lambda: restarted.writing_paused is None, timeout=10)
                assert own_head(restarted, me) == 10
                resumed = [e for e in drain_events(events, seen) if isinstance(e, WritingPaused)]
                assert not resumed[-1].paused
                entry = await restarted.post("general", "after the log came back")
                assert entry.seq == 11
                await wait_until(lambda: "after the log came back" in room_texts(founder), timeout=10)
                assert founder.forked_authors() == {}
                nursery.cancel_scope.cancel()
        finally:
            restarted.close()


async def test_a_home_restored_whole_learns_from_its_first_peer_that_its_own_log_went_further(
    tmp_path: Path,
) -> None:
    """The head mark is restored with the home, so nothing shows before a peer does: its frontier holds more of
    our own log than we do. Writing pauses until those entries are back."""
    founder_home, member_home = team_homes(tmp_path, 2)
    config = loopback_config(listen=None)
    async with running_node(founder_home, config) as founder:
        backup = tmp_path / "backup"
        me = await member_copied_midway(founder, member_home, backup, before=3, after=200, with_wal=True)
        restored = Node.open(backup, config)
        events = restored.events(buffer=0)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(restored.run)
                assert own_head(restored, me) == 3
                link_nodes(nursery, restored, founder)
                # The peer's frontier shows more of our own log: writing pauses, and resumes once it gave it back.
                paused = await next_event(events, WritingPaused, lambda e: e.paused, timeout=10)
                assert "#203" in paused.message
                await next_event(events, WritingPaused, lambda e: not e.paused, timeout=20)
                assert own_head(restored, me) == 203
                entry = await restored.post("general", "after the restore")
                assert entry.seq == 204
                await wait_until(lambda: "after the restore" in room_texts(founder), timeout=10)
                assert founder.forked_authors() == {} and restored.forked_authors() == {}
                nursery.cancel_scope.cancel()
        finally:
            restored.close()


async def test_a_key_used_on_two_devices_is_recorded_as_a_fork_with_proof_and_announced(tmp_path: Path) -> None:
    """Two devices with one key write different entries at the same seqs. The one that is ahead sends entries
    that do not link at the peer: the peer asks for the entry before, which is the proof, records the fork, and
    passes the proof on; the device learns that its own log forked and says so."""
    founder_home, member_home = team_homes(tmp_path, 2)
    config = loopback_config(listen=None)
    async with running_node(founder_home, config) as founder:
        # Both devices hold seqs 1-3; the first device then writes 4-6.
        second_home = tmp_path / "second"
        me = await member_copied_midway(founder, member_home, second_home, before=3, after=3, with_wal=True)
        second = Node.open(second_home, config)
        events = second.events(buffer=0)
        seen: list[NodeEvent] = []
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(second.run)
                for i in range(5):
                    await second.post("general", f"second device {i}")  # seqs 4-8, offline
                link_nodes(nursery, second, founder)
                await wait_until(lambda: me in founder.forked_authors(), timeout=10)
                fork_seq = founder.forked_authors()[me]
                assert fork_seq <= 6
                proofs = founder.profile.store.fork_proofs()
                assert any(len({stored, other}) == 2 for stored, other in proofs)
                # The proof reaches the second device, which says so, and writes no more.
                await wait_until(lambda: me in second.forked_authors(), timeout=10)
                drain_events(events, seen)
                assert any(isinstance(e, ForkDetected) and e.author == me for e in seen)
                paused = [e for e in seen if isinstance(e, WritingPaused)]
                assert paused and paused[-1].paused and paused[-1].forked
                with pytest.raises(ProfileError, match="your key signed two different entries"):
                    await second.post("general", "no longer counts")
                nursery.cancel_scope.cancel()
        finally:
            second.close()
    result = run_cli(second_home, "post", "general", "from the command line", ok=False)
    assert result.returncode == 2 and "your key signed two different entries" in result.stderr


def test_kill_9_and_a_lost_wal_file_black_box(tmp_path: Path) -> None:
    """The issue's steps with processes: a member's node and ``meshchat post``; kill -9; the -wal file lost;
    then the member posts again."""
    founder_home, member_home = team_homes(tmp_path, 2)

    async def main() -> None:
        async with running_node(founder_home, loopback_config()) as founder:
            host, port = founder.listen_addresses[0]
            command = [sys.executable, "-m", "meshchat.cli.main", "node", "--no-listen", "--no-discovery"]
            command += ["--peer", f"{host}:{port}"]
            env = {**os.environ, "MESHCHAT_HOME": str(member_home)}
            member_key = bytes.fromhex(run_cli(member_home, "id").stdout.strip())

            async def start_member() -> trio.Process:
                return await trio.lowlevel.open_process(command, env=env, stderr=subprocess.DEVNULL)

            node = await start_member()
            # A reader's snapshot from before the posts: no checkpoint can move them into the database file,
            # so the file alone is what a crash that lost the -wal leaves, however long the steps take.
            reader = sqlite3.connect(member_home / STORE_FILE, isolation_level=None)
            try:
                reader.execute("BEGIN")
                reader.execute("SELECT count(*) FROM entries").fetchone()
                await wait_until(lambda: any(p.peer.key == member_key for p in founder.peers()), timeout=20)
                for i in range(5):
                    await trio.to_thread.run_sync(run_cli, member_home, "post", "general", f"before {i}")
                await wait_until(lambda: own_head(founder, member_key) == 5, timeout=20)
            finally:
                node.send_signal(signal.SIGKILL)
                await node.wait()
                database_alone = (member_home / STORE_FILE).read_bytes()
                reader.close()
            for suffix in ("-wal", "-shm"):
                (member_home / (STORE_FILE + suffix)).unlink(missing_ok=True)
            (member_home / STORE_FILE).write_bytes(database_alone)
            refused = await trio.to_thread.run_sync(lambda: run_cli(member_home, "post", "general", "x", ok=False))
            assert refused.returncode == 2 and "writing is paused" in refused.stderr, refused.stderr
            node = await start_member()
            try:
                with trio.fail_after(30):
                    while True:
                        posted = await trio.to_thread.run_sync(
                            lambda: run_cli(member_home, "post", "general", "after the crash", ok=False)
                        )
                        if posted.returncode == 0:
                            break
                        assert "writing is paused" in posted.stderr, posted.stderr
                        await trio.sleep(0.2)  # the person tries again: each try must be refused for this reason
                await wait_until(lambda: "after the crash" in room_texts(founder), timeout=20)
                assert own_head(founder, member_key) == 6 and founder.forked_authors() == {}
            finally:
                node.send_signal(signal.SIGTERM)
                await node.wait()

    trio.run(main)
