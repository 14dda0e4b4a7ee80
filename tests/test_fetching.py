"""One source per part: which peer sends which part of which blob (meshchat.proto.fetching), pure."""

from __future__ import annotations

from typing import Any

from pytest import MonkeyPatch

from meshchat.log.attachments import CHUNK_SIZE, ChunkSet
from meshchat.proto.fetching import MAX_OUTSTANDING, MIN_OUTSTANDING, STALL_TIME, Fetcher

BLOB, OTHER = b"b" * 32, b"o" * 32


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _fetcher(
    *links: str, chunks: int = 6, blob: bytes = BLOB, rank: int = 1, index_known: bool = False
) -> tuple[Fetcher[str], Clock]:
    clock = Clock()
    fetcher: Fetcher[str] = Fetcher(clock)
    for link in links:
        fetcher.link_up(link, link.encode())
    fetcher.want(blob, chunks * CHUNK_SIZE, rank=(rank,), held=ChunkSet(chunks), index_known=index_known)
    return fetcher, clock


def _full(chunks: int = 6) -> bytes:
    return ChunkSet.full(chunks).encode()


def test_the_index_comes_first_then_chunks_spread_over_peers_without_overlap() -> None:
    fetcher, _ = _fetcher("a", "b")
    assert fetcher.plan() == {}  # nobody said it holds anything yet
    fetcher.held_by("a", BLOB, _full())
    fetcher.held_by("b", BLOB, _full())
    first = fetcher.plan()
    assert [(link, change.add) for link, change in first.items()] == [("a", {BLOB: [(0, 0)]})]
    fetcher.part_done(BLOB, 0)
    second = fetcher.plan()
    asked = {link: [p for p, _ in change.add[BLOB]] for link, change in second.items()}
    assert sorted(asked) == ["a", "b"]
    parts = asked["a"] + asked["b"]
    assert sorted(parts) == list(range(1, 1 + 2 * MIN_OUTSTANDING)) and len(set(parts)) == len(parts)
    fetcher.part_done(BLOB, asked["a"][0])  # a finished one: it gets the next, and nothing is cancelled
    third = fetcher.plan()
    assert list(third) == ["a"] and not third["a"].cancel and third["a"].add == {BLOB: [(5, 0)]}


def test_only_holders_are_asked_and_a_lost_link_hands_its_parts_on() -> None:
    fetcher, _ = _fetcher("a", "b", chunks=3, index_known=True)
    partial = ChunkSet(3)
    partial.add(3)
    fetcher.held_by("a", BLOB, _full(3))
    fetcher.held_by("b", BLOB, partial.encode())
    plan = fetcher.plan()
    assert plan["a"].add == {BLOB: [(1, 0), (2, 0)]} and plan["b"].add == {BLOB: [(3, 0)]}
    fetcher.link_down("a")
    assert fetcher.plan() == {}  # b holds neither 1 nor 2
    fetcher.held_by("b", BLOB, _full(3))
    assert fetcher.plan()["b"].add == {BLOB: [(1, 0)]}  # b has room for two parts: 3 and 1


def test_a_stalled_part_goes_to_another_holder() -> None:
    fetcher, clock = _fetcher("a", "b", chunks=1)
    fetcher.held_by("a", BLOB, _full(1))
    assert fetcher.plan()["a"].add == {BLOB: [(1, 0)]}
    fetcher.held_by("b", BLOB, _full(1))
    clock.now = STALL_TIME - 1
    fetcher.check()
    assert fetcher.plan() == {}
    clock.now = STALL_TIME + 1
    fetcher.check()
    plan = fetcher.plan()
    assert plan["a"].cancel == {BLOB: [1]} and plan["b"].add == {BLOB: [(1, 0)]}


def test_a_part_that_arrives_keeps_its_source() -> None:
    fetcher, clock = _fetcher("a", "b", chunks=1)
    fetcher.held_by("a", BLOB, _full(1))
    fetcher.held_by("b", BLOB, _full(1))
    fetcher.plan()
    clock.now = STALL_TIME - 1
    fetcher.received("a", BLOB, 1, 5000, 5000)
    clock.now = STALL_TIME + 1
    fetcher.check()
    assert fetcher.plan() == {}


def test_a_bad_part_keeps_its_sender_away_from_the_blob() -> None:
    fetcher, _ = _fetcher("a", "b", chunks=1)
    fetcher.held_by("a", BLOB, _full(1))
    fetcher.plan()
    fetcher.held_by("b", BLOB, _full(1))
    fetcher.part_failed("a", BLOB, 1)
    plan = fetcher.plan()
    assert plan["b"].add == {BLOB: [(1, 0)]}
    fetcher.link_down("b")
    assert fetcher.plan() == {}  # a is never asked again for this blob


def test_a_part_cut_short_resumes_only_from_the_same_peer() -> None:
    fetcher, _ = _fetcher("a", chunks=1)
    fetcher.held_by("a", BLOB, _full(1))
    fetcher.plan()
    fetcher.received("a", BLOB, 1, 70_000, 70_000)
    fetcher.link_down("a")
    fetcher.link_up("a2", b"a")  # the same peer, a new link
    fetcher.held_by("a2", BLOB, _full(1))
    assert fetcher.plan()["a2"].add == {BLOB: [(1, 70_000)]}
    fetcher.received("a2", BLOB, 1, 80_000, 10_000)
    fetcher.link_down("a2")
    fetcher.link_up("c", b"c")  # another peer: the part starts again
    fetcher.held_by("c", BLOB, _full(1))
    assert fetcher.plan()["c"].add == {BLOB: [(1, 0)]}


def test_what_a_person_asked_for_goes_first() -> None:
    fetcher, _ = _fetcher("a", chunks=4, rank=1, index_known=True)
    fetcher.want(OTHER, 4 * CHUNK_SIZE, rank=(0,), held=ChunkSet(4), index_known=True)
    fetcher.held_by("a", BLOB, _full(4))
    fetcher.held_by("a", OTHER, _full(4))
    plan = fetcher.plan()
    assert plan["a"].add == {OTHER: [(1, 0), (2, 0)]}


def test_a_bitfield_that_does_not_fit_the_blob_is_a_lie() -> None:
    fetcher, _ = _fetcher("a", chunks=6)
    assert fetcher.held_by("a", BLOB, b"\xff") is False
    assert fetcher.held_by("a", BLOB, b"\xff\xff") is False  # bits past chunk 6
    assert fetcher.held_by("a", BLOB, b"\xfc") is True


def test_a_fast_link_gets_a_full_pipeline_within_a_tenth_of_a_second() -> None:
    """On loopback a 100 MB file crossed in about a second at two parts at a time: the link's speed was first
    measured by the check a second after the start, by when the file was nearly done."""
    fetcher, clock = _fetcher("a", chunks=400, index_known=True)
    fetcher.held_by("a", BLOB, _full(400))
    fetcher.plan()
    assert fetcher.outstanding_limit("a") == MIN_OUTSTANDING
    for _ in range(20):  # a chunk every 5 ms: 50 MB/s
        clock.now += 0.005
        (part,) = [p for p, a in fetcher.blobs[BLOB].assigned.items() if a.link == "a"][:1]
        fetcher.received("a", BLOB, part, CHUNK_SIZE, CHUNK_SIZE)
        fetcher.part_done(BLOB, part)
        fetcher.plan()
    assert clock.now <= 0.1 + 1e-9
    assert fetcher.outstanding_limit("a") == MAX_OUTSTANDING
    assert len(fetcher.blobs[BLOB].assigned) == MAX_OUTSTANDING


def test_planning_a_file_costs_in_proportion_to_its_chunks_not_their_square(monkeypatch: MonkeyPatch) -> None:
    """A plan after every batch of pieces walked every missing chunk of the file, each through _choose, even
    with every link at its limit: a 1,000-chunk file cost ~125,000 choices. Each chunk is chosen once now,
    and a plan after what cannot give a link work (a piece of a part, nothing at all) chooses nothing."""
    chunks = 1000
    fetcher, _ = _fetcher("a", "b", chunks=chunks, index_known=True)
    fetcher.held_by("a", BLOB, _full(chunks))
    fetcher.held_by("b", BLOB, _full(chunks))
    choices = 0
    choose = Fetcher._choose

    def counted(self: Fetcher[str], *args: Any) -> str | None:
        nonlocal choices
        choices += 1
        return choose(self, *args)

    monkeypatch.setattr(Fetcher, "_choose", counted)
    fetcher.plan()
    done = 0
    wanted = fetcher.blobs[BLOB]
    while wanted.assigned:
        batch = sorted(wanted.assigned)[:4]  # a batch of pieces, as a link hands them over
        for part in batch:
            fetcher.received(wanted.assigned[part].link, BLOB, part, CHUNK_SIZE // 2, CHUNK_SIZE // 2)
        before = choices
        assert fetcher.plan() == {} and choices == before  # pieces of parts: nobody has more room
        for part in batch:
            fetcher.part_done(BLOB, part)
            done += 1
        fetcher.plan()
    assert done == chunks and wanted.held.complete
    assert choices == chunks
    fetcher.plan()
    assert choices == chunks


def test_a_part_stalled_on_the_only_holder_is_asked_of_it_again() -> None:
    """Given back to the link it stalled on (no other holds it), the part was never asked again: the link
    still counted as asked, so no Fetch went out, and the file waited for ever."""
    fetcher, clock = _fetcher("a", chunks=1)
    fetcher.held_by("a", BLOB, _full(1))
    assert fetcher.plan()["a"].add == {BLOB: [(1, 0)]}
    clock.now = STALL_TIME + 1
    fetcher.check()
    plan = fetcher.plan()
    assert plan["a"].cancel == {BLOB: [1]} and plan["a"].add == {BLOB: [(1, 0)]}


def test_a_fast_link_gets_a_full_pipeline_after_its_first_two_chunks() -> None:
    """The first sample waited a tenth of a second, and counted from when the link came up: a file asked for
    later was measured over the idle time before it (a LAN link looked like 0.6 MB/s, four parts at a time)."""
    fetcher, clock = _fetcher("a", chunks=400, index_known=True)
    clock.now = 0.4  # the file is wanted a while after the link came up
    fetcher.held_by("a", BLOB, _full(400))
    fetcher.plan()
    for _ in range(2):  # a chunk every 5 ms: 50 MB/s
        clock.now += 0.005
        part = min(p for p, a in fetcher.blobs[BLOB].assigned.items() if a.link == "a")
        fetcher.received("a", BLOB, part, CHUNK_SIZE, CHUNK_SIZE)
        fetcher.part_done(BLOB, part)
        fetcher.plan()
    assert fetcher.outstanding_limit("a") == MAX_OUTSTANDING
    assert len(fetcher.blobs[BLOB].assigned) == MAX_OUTSTANDING
