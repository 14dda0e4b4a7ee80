"""One source per author, chosen and switched by a pure rule (``meshchat.proto.sources``), and the sync
session that pushes only what a peer asked for and sends notes about the rest."""

from __future__ import annotations

from meshchat.proto import messages
from meshchat.proto.events import NeedEntries
from meshchat.proto.sources import ARRIVED_GRACE, GRAFT_AFTER, SPLIT_MIN, STALL_TIME, Sources
from meshchat.proto.sync import NOTE_DELAY, SyncSession

ME, A, B, C = (bytes([i]) * 32 for i in range(4))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sourced_from_p1(clock: Clock, *, we_hold: int, p1_holds: int) -> Sources[str]:
    """We hold A's log up to ``we_hold``; peers p1 and p2 are linked, and p1, which holds it up to ``p1_holds``,
    is A's source (the first peer that holds it)."""
    sources: Sources[str] = Sources(ME, clock)
    sources.we_hold({A: we_hold})
    sources.link_up("p1")
    sources.link_up("p2")
    sources.peer_holds("p1", {A: p1_holds})
    return sources


def test_every_author_has_one_source_and_new_authors_stay_together() -> None:
    clock = Clock()
    sources: Sources[str] = Sources(ME, clock)
    sources.we_hold({A: 10})
    assert sources.link_up("p1") == {A}  # the first link takes what we hold
    assert sources.link_up("p2") == set()
    changes = sources.peer_holds("p2", {A: 10, B: 5, C: 7})  # B and C: new to us
    assert changes.wanted == {"p2": {B, C}}
    changes = sources.peer_holds("p1", {A: 10, B: 5, C: 7})
    assert not changes  # already sourced: nothing moves to the second peer that says the same
    assert {a: s for a, s in sources.source.items()} == {A: "p1", B: "p2", C: "p2"}


def test_a_source_that_goes_is_replaced_at_once_by_the_peer_that_holds_most() -> None:
    clock = Clock()
    sources: Sources[str] = Sources(ME, clock)
    sources.we_hold({A: 3})
    for link in ("p1", "p2", "p3"):
        sources.link_up(link)
    sources.peer_holds("p2", {A: 5})
    sources.peer_holds("p3", {A: 9})
    assert sources.source[A] == "p1"
    changes = sources.link_down("p1")
    assert changes.wanted == {"p3": {A}} and sources.source[A] == "p3"


def test_an_entry_announced_elsewhere_that_our_source_does_not_deliver_moves_the_source() -> None:
    """Plumtree's graft: p2 announces A's next entry; p1, our source, does not deliver it within a grace."""
    clock = Clock()
    sources = sourced_from_p1(clock, we_hold=3, p1_holds=3)
    sources.peer_holds("p2", {A: 4})
    assert not sources.check()
    clock.now += GRAFT_AFTER / 2
    assert not sources.check()  # p1 may still bring it
    sources.we_hold({A: 4})  # it did
    clock.now += GRAFT_AFTER
    assert not sources.check()
    sources.peer_holds("p2", {A: 5})
    clock.now += GRAFT_AFTER
    changes = sources.check()
    assert changes.unwanted == {"p1": {A}} and changes.wanted == {"p2": {A}}


def test_entries_that_arrived_and_wait_for_the_store_are_not_late() -> None:
    """On a busy machine a pushed batch can wait longer than the graft's grace to be stored. Counting it late
    moved the source to a peer that announced the same entries, which then sent them again: 40 nodes on two
    cores (``bench/scale.py --nodes 40 --topology discovery``) received 30% of their entries twice, and one
    node switched sources 183 times in 18 s. Entries that are lost on the way still move the source."""
    clock = Clock()
    sources = sourced_from_p1(clock, we_hold=3, p1_holds=3)
    sources.arriving({A: 5})  # p1 pushed A's 4 and 5: they arrived, the store is busy
    sources.peer_holds("p2", {A: 5})  # p2 got them too, and says so
    clock.now += 3 * GRAFT_AFTER
    assert not sources.check()
    sources.we_hold({A: 5})  # stored: nothing was late
    sources.peer_holds("p2", {A: 6})  # A's 6 never comes from p1
    clock.now += GRAFT_AFTER
    changes = sources.check()
    assert changes.unwanted == {"p1": {A}} and changes.wanted == {"p2": {A}}


def test_entries_that_arrived_but_never_reach_the_store_move_the_source_in_the_end() -> None:
    clock = Clock()
    sources = sourced_from_p1(clock, we_hold=3, p1_holds=3)
    sources.arriving({A: 4})
    sources.arriving({B: 9})  # an author we do not know: not kept
    sources.peer_holds("p2", {A: 4})
    clock.now += GRAFT_AFTER
    assert not sources.check()
    clock.now += ARRIVED_GRACE
    assert sources.check().wanted == {"p2": {A}}
    assert B not in sources._arrived


def test_a_backlog_our_source_holds_is_not_a_reason_to_switch() -> None:
    clock = Clock()
    sources = sourced_from_p1(clock, we_hold=3, p1_holds=900)
    sources.peer_holds("p2", {A: 900})  # the same backlog: p1 is sending it, slowly
    clock.now += 10 * GRAFT_AFTER
    sources.link_delivered("p1")
    assert not sources.check()


def test_an_author_comes_from_its_own_node_when_we_are_linked_to_it() -> None:
    clock = Clock()
    sources: Sources[str] = Sources(ME, clock)
    sources.know([A, B])
    assert sources.link_up("p1", key=C) == {A, B}
    assert sources.link_up("a", key=A) == set()
    changes = sources.check()  # A's own node: its log comes from there
    assert changes.unwanted == {"p1": {A}} and changes.wanted == {"a": {A}}
    assert sources.source == {A: "a", B: "p1"}


def test_a_source_that_owes_us_and_delivers_nothing_is_switched() -> None:
    clock = Clock()
    sources = sourced_from_p1(clock, we_hold=1, p1_holds=500)
    sources.peer_holds("p2", {A: 500})
    clock.now += STALL_TIME - 1
    sources.link_delivered("p2")  # p2 is alive; p1 delivers nothing
    assert not sources.check()
    clock.now += 2
    assert sources.check().wanted == {"p2": {A}}


def test_a_catch_up_is_split_between_peers_that_hold_the_same() -> None:
    clock = Clock()
    sources: Sources[str] = Sources(ME, clock)
    authors = [bytes([10 + i]) * 32 for i in range(6)]
    sources.we_hold(dict.fromkeys(authors, 1))
    sources.link_up("p1")
    sources.peer_holds("p1", dict.fromkeys(authors, 1 + 4 * SPLIT_MIN))
    sources.link_up("p2")
    changes = sources.peer_holds("p2", dict.fromkeys(authors, 1 + 4 * SPLIT_MIN))
    moved = changes.wanted.get("p2", set())
    assert len(moved) == 3 and changes.unwanted == {"p1": moved}


def test_our_own_log_is_fetched_only_from_a_peer_that_holds_more_of_it() -> None:
    clock = Clock()
    sources: Sources[str] = Sources(ME, clock)
    sources.we_hold({ME: 40})
    assert sources.link_up("p1") == set()
    assert not sources.peer_holds("p1", {ME: 40})
    assert sources.peer_holds("p1", {ME: 45}).wanted == {"p1": {ME}}  # we lost our last five: get them back


def test_a_peer_gets_entries_only_of_authors_it_asked_for_and_notes_about_the_rest() -> None:
    clock = Clock()
    sender = SyncSession({A: 5, B: 5}, clock=clock)
    sender.receive(messages.Notes({A: 5, B: 5}, frozenset([A])))  # wants A pushed; hears of B elsewhere
    while sender.next_event() is not None:
        pass
    sender.outgoing()
    sender.local_advanced({A: 6, B: 6})
    request = sender.next_event()
    assert isinstance(request, NeedEntries) and request.author == A
    sender.send_entries(request, [b"entry a6"])
    assert sender.next_event() is None
    out = sender.outgoing()
    assert [type(m) for m in out] == [messages.Notes, messages.Entries]  # B's note rides along; a live push: no Idle
    assert out[0] == messages.Notes({B: 6}, frozenset([B]))
    sender.local_advanced({A: 6, B: 7})
    assert sender.next_event() is None and sender.outgoing() == []  # a lone note waits for company ...
    clock.now += NOTE_DELAY
    assert sender.outgoing() == [messages.Notes({B: 7}, frozenset([B]))]  # ... or its time
