"""In-process nodes linked by memory streams: catch-up, live push, events and peer status."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from meshchat.events import EntriesAdded, ForkDetected, NodeEvent, PeerDown, PeerUp, SyncProgress
from meshchat.identity import Identity
from meshchat.log.entry import sign_entry
from meshchat.net.link import Accepted, LinkSettings
from meshchat.net.peers import NetSettings
from meshchat.node import NodeConfig
from meshchat.profile import Profile
from meshchat.proto.messages import ReceivedEntries, rebuilt
from meshchat.store import Outcome
from meshchat.testing import BASE_CLOCK, link_nodes, room_texts, running_node, running_nodes, team_homes, wait_until


async def test_two_nodes_catch_up_and_then_push_live(tmp_path: Path) -> None:
    homes = team_homes(tmp_path, 2)
    async with running_nodes(homes) as (nursery, (a, b)):
        await a.post("general", "written on A before the link")
        await b.post("general", "written on B before the link")
        events = b.events()
        link_nodes(nursery, a, b)
        await wait_until(lambda: a.profile.store.count() == b.profile.store.count() and len(room_texts(a)) == 2)
        assert room_texts(a) == room_texts(b)
        await a.post("general", "live from A")
        await wait_until(lambda: "live from A" in room_texts(b), timeout=1.0)
        seen = []
        while True:
            event = events.receive_nowait()
            seen.append(event)
            if isinstance(event, EntriesAdded) and not event.local:
                break
        assert any(isinstance(e, PeerUp) and e.status.peer.key == a.me for e in seen)
        assert any(isinstance(e, SyncProgress) and e.done for e in seen)
        (status,) = b.peers()
        assert status.peer.key == a.me and status.state == "live"
        assert status.entries_in >= 2 and status.entries_out >= 1 and status.last_sync_ms is not None


async def test_fork_proofs_replicate_and_are_announced(tmp_path: Path) -> None:
    homes = team_homes(tmp_path, 2)
    forker = Identity.generate()
    with Profile.open(homes[0]) as founder:
        founder.add_member(forker.public_key, "member", "Fox")
        room = founder.room("general").room
        team_id = founder.team_id
        twins = [
            sign_entry(forker, team_id=team_id, seq=1, prev=None, clock=BASE_CLOCK + i, kind="msg.post", body=body)
            for i, body in enumerate([{"room": room, "text": "one"}, {"room": room, "text": "another"}])
        ]
        outcomes = [founder.store.accept(t.raw).outcome for t in twins]
        assert outcomes == [Outcome.APPENDED, Outcome.FORK]
    async with running_nodes(homes) as (nursery, (a, b)):
        events = b.events()
        seen: list[NodeEvent] = []

        def saw(event_type: type) -> bool:
            seen.extend(_drain(events))
            return any(isinstance(e, event_type) for e in seen)

        link = link_nodes(nursery, a, b)
        await wait_until(lambda: b.profile.store.forked_authors() == {forker.public_key: 1})
        assert len(b.profile.store.fork_proofs()) == 1
        await wait_until(lambda: saw(ForkDetected))
        assert ForkDetected(forker.public_key, 1) in seen
        assert a.views.snapshot() == b.views.snapshot()
        link.cancel()
        await wait_until(lambda: saw(PeerDown))


def _drain(channel: trio.MemoryReceiveChannel[NodeEvent]) -> list[NodeEvent]:
    out = []
    while True:
        try:
            out.append(channel.receive_nowait())
        except trio.WouldBlock:
            return out


async def test_shutting_down_while_a_batch_is_being_stored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The batch is stored (a worker thread cannot be interrupted), and the closed link does not then try
    to acknowledge it."""
    homes = team_homes(tmp_path, 2)
    storing, stopped = trio.Event(), trio.Event()
    async with trio.open_nursery() as outer, running_node(homes[0]) as a:
        await a.post("general", "in flight at shutdown")
        async with running_node(homes[1]) as b:
            accept = b.replica.accept

            async def slow_accept(batches: list[ReceivedEntries], peer_key: bytes) -> Accepted:
                result = await accept(batches, peer_key)
                storing.set()
                with trio.CancelScope(shield=True):
                    await stopped.wait()  # still "storing" while b shuts down
                return result

            b.replica.accept = slow_accept  # type: ignore[method-assign]
            link_nodes(outer, a, b)
            await storing.wait()
        # b has shut down with the batch in hand; its link ends, and only then has the batch been stored
        outer.cancel_scope.cancel()
        with trio.CancelScope(shield=True):
            await trio.testing.wait_all_tasks_blocked()
        stopped.set()
    with Profile.open(homes[1]) as profile:
        assert "in flight at shutdown" in [m.text for m in profile.views.messages(profile.room("general").room)]
    assert "protocol misuse" not in caplog.text


async def test_deferred_entries_are_asked_for_again(tmp_path: Path) -> None:
    """Entries a node could not store (a gap, a full quarantine) come again after a resync."""
    homes = team_homes(tmp_path, 2)
    config = NodeConfig(discovery=False, poll_interval=0.05, net=NetSettings(link=LinkSettings(resync_after=0.2)))
    async with running_node(homes[0], config) as a, running_node(homes[1], config) as b, trio.open_nursery() as n:
        await a.post("general", "first try")
        accept = b.replica.accept
        calls: list[tuple[float, list[bytes]]] = []

        async def deferring_accept(batches: list[ReceivedEntries], peer_key: bytes) -> Accepted:
            raws = [raw for batch in batches for raw in rebuilt(batch).raws]
            calls.append((trio.current_time(), raws))
            if len(calls) == 1:  # as if nothing could be stored yet
                return Accepted(appended=0, deferred=len(raws))
            return await accept(batches, peer_key)

        b.replica.accept = deferring_accept  # type: ignore[method-assign]
        link_nodes(n, a, b)
        await wait_until(lambda: "first try" in room_texts(b))
        assert len(calls) >= 2 and calls[1][0] - calls[0][0] >= 0.2
        assert set(calls[0][1]) <= {raw for _, raws in calls[1:] for raw in raws}  # all of it again
        n.cancel_scope.cancel()
