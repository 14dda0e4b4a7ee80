"""A running node witnesses clocks far from its own: when it stores an entry from the future, or a heads entry
from far in the past, it signs what it holds soon after (rate-limited), so that the team's evidence places
those entries (``meshchat.log.timing``)."""

from __future__ import annotations

from pathlib import Path

from meshchat.identity import Identity
from meshchat.log.clock import wall_ms
from meshchat.profile import Profile
from meshchat.testing import AuthorLog, loopback_config, running_node, team_homes, wait_until

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


async def test_ordinary_entries_call_for_no_witness(tmp_path: Path) -> None:
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
        for _ in range(20):
            node.wake()
            await node_tick()
        assert node.profile.store.head(node.me) == before


async def node_tick() -> None:
    import trio

    await trio.sleep(0.02)
