"""A running node witnesses clocks far from its own: when it stores an entry from the future, or a heads entry
from far in the past, it signs what it holds soon after (rate-limited), so that the team's evidence places
those entries (``meshchat.log.timing``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing
from clock_helpers import teammates_posts

import meshchat.node
import meshchat.store.store
from meshchat.events import NodeProblem
from meshchat.identity import Identity
from meshchat.log.clock import wall_ms
from meshchat.profile import Profile
from meshchat.testing import AuthorLog, loopback_config, next_event, running_node, team_homes, wait_until

YEAR_2076 = 3_345_000_000_000


async def test_a_node_witnesses_an_entry_from_the_future_and_places_it(tmp_path: Path) -> None:
    founder_home, home, _ = team_homes(tmp_path, 3)
    with Profile.open(founder_home) as founder:
        room = founder.room("general").room
        founder.post(room, "an hour ago, honestly")
        rogue = founder.store.append_own(founder.identity, "msg.post", {"room": room, "text": "2076"}, wall=YEAR_2076)
        raws = list(founder.store.iter_raw())
    async with running_node(home, loopback_config(listen=None)) as node:
        before = node.profile.store.head(node.me)
        node.profile.store.accept_batch(raws)
        node.wake()
        await wait_until(lambda: (h := node.profile.store.head(node.me)) is not None and h != before)
        witness = node.profile.store.entry(node.me, node.profile.store.head(node.me).seq)  # type: ignore[union-attr]
        assert witness is not None and witness.kind == "heads"
        assert witness.body()["heads"][founder.me] == [rogue.seq, rogue.id]
        assert witness.clock < wall_ms(), "a clock from 2076 does not pull ours along"
        shown = node.views.message(rogue.id)
        assert shown is not None and shown.claimed == YEAR_2076 and shown.clock == witness.clock
        node.profile.post(room, "written after it")
        texts = [m.text for m in node.views.messages(room)]
        assert texts.index("2076") < texts.index("written after it"), "the 2076 post no longer sits last"


async def test_a_node_answers_a_backdated_heads_entry_with_its_own(tmp_path: Path) -> None:
    """A heads entry claiming a clock a day back (a slow or backdating witness) is outvoted by the team's."""
    founder_home, home, _ = team_homes(tmp_path, 3)
    with Profile.open(founder_home) as founder:
        slow = AuthorLog(Identity.generate(), founder.team_id)
        founder.add_member(slow.key, "member", "slow")
        raws = list(founder.store.iter_raw())
    slow.write("heads", {"heads": {}}, clock=wall_ms() - 86_400_000)
    raws += [e.raw for e in slow.entries]
    async with running_node(home, loopback_config(listen=None)) as node:
        before = node.profile.store.head(node.me)
        node.profile.store.accept_batch(raws)
        node.wake()
        await wait_until(lambda: (h := node.profile.store.head(node.me)) is not None and h != before)
        latest = node.profile.store.entry(node.me, node.profile.store.head(node.me).seq)  # type: ignore[union-attr]
        assert latest is not None and latest.kind == "heads"


async def test_ordinary_entries_call_for_no_witness(tmp_path: Path, mock_clock: trio.testing.MockClock) -> None:
    """Honest traffic costs nothing extra: only the hourly heads entry."""
    founder_home, home, _ = team_homes(tmp_path, 3)
    with Profile.open(founder_home) as founder:
        for i in range(5):
            founder.post("general", f"message {i}")
        raws = list(founder.store.iter_raw())
    async with running_node(home, loopback_config(listen=None)) as node:
        before = node.profile.store.head(node.me)
        node.profile.store.accept_batch(raws)
        node.wake()
        await wait_until(
            lambda: "message 4" in [m.text for m in node.views.messages(node.profile.room("general").room)]
        )
        node.wake()
        await trio.sleep(2 * meshchat.node.WITNESS_INTERVAL_S)  # virtual: past any witness the node might owe
        assert node.profile.store.head(node.me) == before


async def test_a_node_a_day_slow_warns_and_writes_with_the_teams_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12.2: a node whose clock is a day behind learns it from the team's clocks, says so (a node event:
    the TUI and ``meshchat node`` show it) and posts at the team's time, where everyone sees it."""
    founder_home, slow_home, other_home = team_homes(tmp_path, 3)
    raws = teammates_posts(founder_home, other_home)
    day = 86_400_000
    real = wall_ms

    def slow_wall() -> int:
        return real() - day

    monkeypatch.setattr(meshchat.node, "wall_ms", slow_wall)
    monkeypatch.setattr(meshchat.store.store, "wall_ms", slow_wall)
    async with running_node(slow_home, loopback_config(listen=None)) as node:
        events = node.events()
        node.profile.store.accept_batch(raws)  # received now, by the slow clock
        node.wake()
        problem = await next_event(events, NodeProblem)
        assert "about 1 day behind the team's" in problem.message
        assert node.clock.offset > day - 60_000
        entry = await node.post("general", "pump 3 is down")
        assert abs(entry.clock - real()) < 60_000, "the team's time, not the slow clock's"
        texts = [m.text for m in node.views.messages(node.profile.room("general").room)]
        assert texts[-1] == "pump 3 is down"
