"""Slow links make progress: a backlog over a 9.6 kbit/s link, short messages ahead of it, a cut that resumes.

Two in-process nodes linked by an in-memory stream that carries a fixed number of bytes per second through a
16 KiB send buffer (``meshchat.testing.stream_pair``, as a kernel's socket buffer), in virtual time: five
minutes of a radio link cost a second or two of the test. The black-box figures over ``tc tbf`` between
network namespaces are ``bench/slowlink.py``'s.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing

from meshchat.node import Node, NodeConfig
from meshchat.testing import author_home, link_nodes, running_node, synthetic_history

BACKLOG = 5000
CONFIG = NodeConfig(discovery=False, poll_interval=0.05)


def homes_with_backlog(base: Path, backlog: int = BACKLOG) -> tuple[Path, Path]:
    """A holds ``backlog`` short posts of 10 members; B holds only the founder's log (so it knows them all)."""
    team = synthetic_history(backlog, authors=10)
    a_author, b_author = team.add_member(), team.add_member()
    key = os.urandom(32)
    a = author_home(base / "a", a_author, network_key=key, raws=[e.raw for e in team.all_entries()])
    b = author_home(base / "b", b_author, network_key=key, raws=[e.raw for e in team.founder.entries])
    return a, b


def stored_bytes(node: Node) -> int:
    conn = node.profile.store.connection
    return int(conn.execute("SELECT coalesce(sum(length(raw)), 0) FROM entries").fetchone()[0])


@asynccontextmanager
async def two_nodes(tmp_path: Path) -> AsyncIterator[tuple[trio.Nursery, Node, Node]]:
    a_home, b_home = homes_with_backlog(tmp_path)
    async with running_node(a_home, CONFIG) as a, running_node(b_home, CONFIG) as b, trio.open_nursery() as nursery:
        yield nursery, a, b
        nursery.cancel_scope.cancel()


async def test_a_backlog_uses_a_9600_bit_link_for_entries(tmp_path: Path, mock_clock: trio.testing.MockClock) -> None:
    """On the v1 protocol nothing arrived: a 128 KiB window went out under one 45 s deadline, the link was cut,
    and the redial sent the same batch again (0 entries stored in 300 s)."""
    rate = 1200  # bytes/s: 9.6 kbit/s
    async with two_nodes(tmp_path) as (nursery, a, b):
        before, start = stored_bytes(b), b.profile.store.count()
        link_nodes(nursery, a, b, rate=rate)
        await trio.sleep(300)
        delivered = stored_bytes(b) - before
        assert b.profile.store.count() > start
        assert delivered >= 0.8 * rate * 300, f"entries used {delivered / (rate * 300):.0%} of the link"


@pytest.mark.parametrize(("rate", "deadline"), [(1200, 5.0), (8000, 2.0)])
async def test_a_short_message_goes_ahead_of_the_backlog(
    tmp_path: Path, mock_clock: trio.testing.MockClock, rate: int, deadline: float
) -> None:
    """9.6 kbit/s: under 5 s; 64 kbit/s: under 2 s, while thousands of entries wait (v1: 23.5 s at 64 kbit/s,
    never at 9.6)."""
    async with two_nodes(tmp_path) as (nursery, a, b):
        link_nodes(nursery, a, b, rate=rate)
        waits = []
        for k in range(3):
            await trio.sleep(15)
            posted = trio.current_time()
            entry = await a.post("general", f"need water at the school #{k}")
            with trio.move_on_after(60):
                while (head := b.profile.store.head(a.me)) is None or head.seq < entry.seq:
                    await trio.sleep(0.05)
            waits.append(trio.current_time() - posted)
        assert b.profile.store.count() < a.profile.store.count(), "the backlog was still syncing"
        assert max(waits) < deadline, waits


async def test_a_cut_link_resumes_where_it_stopped(tmp_path: Path, mock_clock: trio.testing.MockClock) -> None:
    """After a cut, the next link goes on from what B stored: the second minute gains as much as the first."""
    rate = 1200
    async with two_nodes(tmp_path) as (nursery, a, b):
        start = b.profile.store.count()
        link = link_nodes(nursery, a, b, rate=rate)
        await trio.sleep(60)
        link.cancel()
        kept = b.profile.store.count()
        await trio.sleep(5)
        link_nodes(nursery, a, b, rate=rate)
        await trio.sleep(60)
        first, second = kept - start, b.profile.store.count() - kept
        assert first > 0 and second >= 0.8 * first, (first, second)
