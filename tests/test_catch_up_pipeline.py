"""Where a catch-up's work runs: the trio thread only decodes an Entries message's shape; the node's writer
rebuilds the compact entries in its worker thread, just before storing them, and the search index waits until
the writer is quiet (meshchat.replica, meshchat.writer; figures in docs/hardening.md, "Sync at field scale").

On main before this, every entry was rebuilt on the trio thread (the UI thread in the TUI) as it arrived, so
the rebuild and the store's accept took turns for one interpreter lock, and the search index took turns with
the catch-up's batches: the catch-up ran at 0.4-0.6 of the local ``accept_batch`` bound.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import msgpack
import pytest
import trio
import trio.testing

from meshchat.log.entry import Entry
from meshchat.node import Node
from meshchat.profile import Profile
from meshchat.proto import messages
from meshchat.proto.errors import RemoteProtocolError
from meshchat.proto.messages import CompactEntries, Entries
from meshchat.testing import (
    TestTeam,
    author_home,
    link_nodes,
    running_nodes,
    synthetic_history,
    wait_until,
)
from meshchat.writer import Writer


async def test_a_catch_up_rebuilds_its_entries_off_the_trio_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed on main: all 3,000 entries were rebuilt on the trio thread."""
    team = synthetic_history(3000, authors=5)
    a_author, b_author = team.add_member(), team.add_member()
    key = os.urandom(32)
    a_home = author_home(tmp_path / "a", a_author, network_key=key, raws=[e.raw for e in team.all_entries()])
    b_home = author_home(tmp_path / "b", b_author, network_key=key, raws=[e.raw for e in team.founder.entries])
    trio_thread = threading.current_thread()
    rebuilt_on: dict[bool, int] = {True: 0, False: 0}  # on the trio thread? -> entries
    entry_from_parts = messages.entry_from_parts

    def counting(*args: object, **kwargs: object) -> Entry:
        rebuilt_on[threading.current_thread() is trio_thread] += 1
        return entry_from_parts(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(messages, "entry_from_parts", counting)
    async with running_nodes([a_home, b_home]) as (nursery, (a, b)):
        total = a.profile.store.count()
        link_nodes(nursery, a, b)
        await wait_until(lambda: b.profile.store.count() == total, timeout=30)
    assert sum(rebuilt_on.values()) >= total - len(team.founder.entries) - 1
    # Only batches as small as a live push (the link's first few, while its pacer measures it) stay inline.
    assert rebuilt_on[True] <= 0.05 * sum(rebuilt_on.values()), rebuilt_on


def compact_batch(team: TestTeam, raws: tuple[bytes, ...]) -> CompactEntries:
    """``raws`` as they arrive in an Entries message: decoded in shape only."""
    batch = messages.decode(messages.encode(Entries(raws), team.team_id), team.team_id, rebuild=False)
    assert type(batch) is CompactEntries
    return batch


def lying_batch(team: TestTeam, raws: tuple[bytes, ...]) -> CompactEntries:
    """``raws`` compact, with the last entry's kind index pointing past the kinds named: a valid shape."""
    value = msgpack.unpackb(messages.encode(Entries(raws), team.team_id))
    value[2][-1][3][-1][1] = len(value[1])
    batch = messages.decode(msgpack.packb(value), team.team_id, rebuild=False)
    assert type(batch) is CompactEntries
    return batch


async def test_an_invalid_entry_in_a_merged_batch_is_refused_whole_when_rebuilt(tmp_path: Path) -> None:
    """The trio thread no longer rebuilds, so the writer's rebuild is where a lie is caught: the peer's error
    (which ends the link), and nothing of the batches merged with it stored."""
    team = TestTeam(members=2)
    for i in range(40):
        team.post(team.members[i % 2], f"sector {i} clear")
    genesis = [team.founder.entries[0].raw]
    home = author_home(tmp_path / "c", team.add_member(), network_key=os.urandom(32), raws=genesis)
    founder_rest = tuple(e.raw for e in team.founder.entries[1:])
    posts = tuple(e.raw for m in team.members for e in m.entries)
    node = Node.open(home)  # not running: its replica stores through its writer all the same
    replica, profile = node.replica, node.profile
    try:
        before = profile.store.count()
        with pytest.raises(RemoteProtocolError, match="kind index"):
            await replica.accept([compact_batch(team, founder_rest), lying_batch(team, posts)], os.urandom(32))
        assert profile.store.count() == before
        accepted = await replica.accept([compact_batch(team, founder_rest), compact_batch(team, posts)], b"")
        assert accepted.appended == len(founder_rest) + len(posts) and accepted.bad is None
    finally:
        node.close()


@pytest.mark.parametrize(
    "value",
    [
        [2, ["msg.post"], [[os.urandom(32), 2, None, [[0, 0, bytes(64), b"\x80"]]]]],
        [2, ["msg.post"], [[os.urandom(32), 1, None, [[0, 1, bytes(64), b"\x80"]]]]],
        [2, ["msg.post"], [[os.urandom(32), 1, None, [[0, 0, bytes(63), b"\x80"]]]]],
        [2, ["msg.post"], [[os.urandom(32), 1, None, [[-1, 0, bytes(64), b"\x80"]]]]],
        [2, ["msg.post"], [[os.urandom(32), 1, None, [[0, 0, bytes(64), b"\x80"], "not an entry"]]]],
        [2, ["msg.post"], [b"not an entry"]],
    ],
)
def test_what_only_the_rebuild_can_refuse_is_refused_there(value: object) -> None:
    batch = messages.decode(msgpack.packb(value, use_bin_type=True), bytes(32), rebuild=False)
    with pytest.raises(RemoteProtocolError):
        messages.rebuilt(batch)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        [2, [], []],
        [2, ["msg.post"], [[os.urandom(32), 1, None, []]]],
        [2, ["msg.post"], [[os.urandom(32), "1", None, [[0, 0, bytes(64), b"\x80"]]]]],
        [2, ["msg.post"], [[os.urandom(32), 1, None, [[0, 0, bytes(64), b"\x80"]] * 8193]]],
        [2, ["msg.post"] * 257, [b"x"]],
    ],
)
def test_the_shape_that_bounds_a_batch_is_refused_on_arrival(value: object) -> None:
    """Counts and sizes are checked before the batch is queued for the writer: what a link holds is bounded."""
    with pytest.raises(RemoteProtocolError):
        messages.decode(msgpack.packb(value, use_bin_type=True), bytes(32), rebuild=False)


async def test_the_search_index_waits_until_the_writer_is_quiet(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    """Failed on main (no such wait): the index took turns with the batches of a catch-up. It waits at most
    ``at_most`` seconds, so a writer never 0.5 s idle does not starve it."""
    home = tmp_path / "d"
    Profile.init(home, "T", display_name="Di").close()
    profile = Profile.open(home)
    writer = Writer(profile)
    done: list[tuple[str, float]] = []

    async def index(name: str, at_most: float) -> None:
        await writer.run_when_quiet(lambda p: None, quiet=0.5, at_most=at_most)
        done.append((name, trio.current_time() - start))

    async def batches() -> None:
        for _ in range(4):  # a batch every 0.3 s: never 0.5 s quiet until the last
            await writer.run(lambda p: None)
            done.append(("batch", trio.current_time() - start))
            await trio.sleep(0.3)

    start = trio.current_time()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(batches)
            await trio.sleep(0.1)
            nursery.start_soon(index, "index", 5.0)
            nursery.start_soon(index, "impatient index", 0.6)
    finally:
        writer.close()
        profile.close()
    assert [what for what, _ in done] == ["batch"] * 3 + ["impatient index", "batch", "index"]
    assert dict(done)["impatient index"] == pytest.approx(0.1 + 0.6)
    assert dict(done)["index"] == pytest.approx(0.9 + 0.5)  # the last batch was asked for at 0.9 s


def test_a_batch_says_which_entries_are_arriving_without_being_rebuilt() -> None:
    """``claimed_heads``: what the sources hear before the writer stores a batch (the highest seq of each
    author); a sender's garbage in a run's author (a list, a short key) is left out, never a crash."""
    team = TestTeam(members=2)
    for i in range(6):
        team.post(team.members[i % 2], f"road {i} open")
    raws = tuple(e.raw for e in team.all_entries())
    heads = messages.claimed_heads(compact_batch(team, raws))
    assert heads == {a.key: a.entries[-1].seq for a in team.authors}
    value = msgpack.unpackb(messages.encode(Entries(raws), team.team_id))
    value[2][-1][0] = [1, 2]  # an unhashable "author"
    value[2][-2][0] = b"short"
    batch = messages.decode(msgpack.packb(value), team.team_id, rebuild=False)
    assert len(messages.claimed_heads(batch)) == len(heads) - 2  # type: ignore[arg-type]
