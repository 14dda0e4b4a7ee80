"""The node's public API without a network: writes, reads, and the event stream."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio

import meshchat.node
from meshchat.events import EntriesAdded, MembershipChanged
from meshchat.export.heads import write_heads_if_due
from meshchat.identity import Identity
from meshchat.log.entry import Entry, decode_entry
from meshchat.node import Node, NodeConfig
from meshchat.profile import Profile
from meshchat.testing import next_event, wait_until


async def test_own_writes_are_announced(tmp_path: Path) -> None:
    Profile.init(tmp_path / "h", "T", display_name="Ana").close()
    node = Node.open(tmp_path / "h", NodeConfig(discovery=False))
    events = node.events()
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        entry = await node.post("general", "hello")
        event = await next_event(events, EntriesAdded)
        assert isinstance(event, EntriesAdded)
        assert event.local and event.kinds == {"msg.post"} and event.rooms == {node.profile.room("general").room}
        assert [m.text for m in node.views.messages(next(iter(event.rooms)))] == ["hello"]
        assert entry.author == node.me
        await node.add_member(Identity.generate().public_key, "member", "Bo")
        await next_event(events, MembershipChanged)
        nursery.cancel_scope.cancel()
    node.close()


async def test_writes_by_another_process_are_noticed(tmp_path: Path) -> None:
    home = tmp_path / "h"
    Profile.init(home, "T").close()
    node = Node.open(home, NodeConfig(discovery=False, poll_interval=0.05))
    events = node.events()
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        env = {**os.environ, "MESHCHAT_HOME": str(home)}
        cmd = [sys.executable, "-m", "meshchat.cli.main", "post", "general", "from the CLI"]
        await trio.to_thread.run_sync(lambda: subprocess.run(cmd, env=env, check=True, capture_output=True))
        event = await next_event(events, EntriesAdded, timeout=1.0)
        assert isinstance(event, EntriesAdded) and event.count == 1 and event.local
        nursery.cancel_scope.cancel()
    node.close()


async def test_a_running_node_signs_heads_entries_when_due(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node witnesses what it holds in its own chain (a heads entry), without a flood of them: a second
    one waits for the interval even though the node keeps checking."""
    checks = 0

    def counted(profile: Profile, *, now: int) -> list[Entry]:
        nonlocal checks
        checks += 1
        return write_heads_if_due(profile, now=now)

    monkeypatch.setattr(meshchat.node, "write_heads_if_due", counted)
    Profile.init(tmp_path / "h", "T").close()
    node = Node.open(tmp_path / "h", NodeConfig(discovery=False, heads_check_s=0.05))
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        await node.post("general", "before the heads entry")
        await wait_until(lambda: heads_entries(node), what="the heads entry")
        heads = heads_entries(node)
        await node.post("general", "after it")
        after = checks
        await wait_until(lambda: checks >= after + 3)  # several checks, all within the hour
        assert heads_entries(node) == heads
        nursery.cancel_scope.cancel()
    node.close()
    (entry,) = heads
    named = entry.body()["heads"]
    assert isinstance(named, dict)
    assert named[node.me][0] == entry.seq - 1  # names the post before it: its own head when it signed


def heads_entries(node: Node) -> list[Entry]:
    return [e for e in map(decode_entry, node.profile.store.iter_raw()) if e.kind == "heads"]
