"""Replication as a pure state machine: whole conversations between two Connections, no network."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshchat.log.entry import decode_entry
from meshchat.proto import messages
from meshchat.proto.channel import Kind
from meshchat.proto.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from meshchat.proto.events import CaughtUp, EntriesReceived, NeedEntries, NotesReceived, SyncStarted
from meshchat.proto.messages import WINDOW, Entries
from meshchat.proto.sync import ForkProof, SyncSession
from meshchat.testing import ConnectionPair, MemoryLog, TestTeam, synthetic_history


def split_team(team: TestTeam, seed: int = 0) -> tuple[list[bytes], list[bytes]]:
    """Each author's log cut at a random point; the two sides get different prefixes."""
    rng = random.Random(seed)
    left: list[bytes] = []
    right: list[bytes] = []
    for author in team.authors:
        raws = [e.raw for e in author.entries]
        left += raws[: rng.randrange(len(raws) + 1)]
        right += raws[: rng.randrange(len(raws) + 1)]
    return left, right


def log_of(raws: list[bytes]) -> MemoryLog:
    log = MemoryLog()
    log.accept(sorted(raws, key=lambda r: decode_entry(r).seq))
    return log


def test_two_nodes_end_with_the_union_of_their_logs() -> None:
    team = synthetic_history(3000, authors=6)
    left, right = split_team(team, seed=1)
    pair = ConnectionPair.create(log_of(left), log_of(right))
    union = {a: max(pair.client_log.frontier().get(a, 0), n) for a, n in pair.server_log.frontier().items()}
    assert union != pair.client_log.frontier() and union != pair.server_log.frontier()
    pair.run()
    assert pair.client_log.frontier() == union == pair.server_log.frontier()
    assert pair.client_log.logs == pair.server_log.logs
    for side in ("client", "server"):
        assert CaughtUp() in pair.events[side]
        started = [e for e in pair.events[side] if isinstance(e, SyncStarted)]
        assert len(started) == 1


def test_expected_counts_what_the_peer_has_and_we_lack() -> None:
    team = synthetic_history(500, authors=4)
    full = [e.raw for e in team.all_entries()]
    pair = ConnectionPair.create(MemoryLog(), log_of(full))
    pair.run()
    assert SyncStarted(len(full)) in pair.events["client"]
    assert SyncStarted(0) in pair.events["server"]
    received = sum(len(e.raws) for e in pair.events["client"] if isinstance(e, EntriesReceived))
    assert received == len(full)  # nothing sent twice


def test_the_sender_never_exceeds_the_window() -> None:
    team = synthetic_history(4000, authors=3)
    pair = ConnectionPair.create(MemoryLog(), log_of([e.raw for e in team.all_entries()]))
    pair.server.start_sync  # noqa: B018 (the pair starts sync on HandshakeComplete)
    peak = 0
    for _ in range(10_000):
        moved = pair.step()
        if pair.server.state.name == "SYNCING":
            session = pair.server.session
            peak = max(peak, len(session.pacer.in_flight))
            session.batch_entries = 50  # small batches: many of them in flight
            session.pacer.rate = 1e9  # the byte window is tested in test_fairness.py
        if not moved:
            break
    assert peak == WINDOW
    assert pair.client_log.count() == 4000


def test_new_heads_are_pushed_live_and_never_echoed() -> None:
    team = TestTeam(members=2)
    base = [e.raw for e in team.all_entries()]
    pair = ConnectionPair.create(log_of(base), log_of(base))
    pair.run()
    caught_up = pair.events["client"].count(CaughtUp())
    post = team.post(team.members[0], "live")
    pair.server_log.accept([post.raw])
    pair.server.local_advanced(pair.server_log.frontier())
    pair.run()
    assert pair.client_log.frontier() == pair.server_log.frontier()
    assert pair.events["client"].count(CaughtUp()) == caught_up + 1
    # The client now holds the entry too; telling its session so must not send it back.
    before = sum(isinstance(e, EntriesReceived) for e in pair.events["server"])
    pair.client.local_advanced(pair.client_log.frontier())
    pair.run()
    assert sum(isinstance(e, EntriesReceived) for e in pair.events["server"]) == before


def test_authors_new_to_the_peer_go_in_admission_order() -> None:
    team = synthetic_history(1200, authors=5)
    full = [e.raw for e in team.all_entries()]
    priority = tuple(a.key for a in team.authors)
    pair = ConnectionPair.create(MemoryLog(), log_of(full), priority=priority)
    pair.run()
    order: list[bytes] = []
    for event in pair.events["client"]:
        if isinstance(event, EntriesReceived):
            for raw in event.raws:
                author = decode_entry(raw).author
                if author not in order:
                    order.append(author)
    assert order == list(priority)


def clock() -> float:
    return 0.0


def test_known_authors_take_turns() -> None:
    authors = [bytes([i]) * 32 for i in range(3)]
    session = SyncSession(dict.fromkeys(authors, 100), priority=authors, clock=clock)
    session.receive(messages.Notes(dict.fromkeys(authors, 1), frozenset(authors)))
    assert isinstance(session.next_event(), SyncStarted)
    assert isinstance(session.next_event(), NotesReceived)
    served = []
    for _ in range(6):
        request = session.next_event()
        assert isinstance(request, NeedEntries)
        served.append(request.author[0])
        session.send_entries(request, [b"e"] * 10)
        session.receive(messages.Ack(1))
    assert served == [0, 1, 2, 0, 1, 2]


def test_fork_proofs_follow_the_log_up_to_the_fork() -> None:
    team = TestTeam(members=1)
    member = team.members[0]
    for i in range(4):
        team.post(member, f"m{i}")
    fork_seq = member.entries[-1].seq
    other = type(member)(member.identity, team.team_id, member.entries[:-1])
    twin = team.post(other, "the other m3")
    proof = ForkProof(member.key, fork_seq, (member.entries[-1].raw, twin.raw))
    session = SyncSession({member.key: fork_seq}, fork_proofs=[proof], clock=clock)
    session.receive(messages.Notes({member.key: fork_seq - 3}, frozenset([member.key])))
    session.next_event()  # SyncStarted
    session.next_event()  # NotesReceived
    assert not [m for m in session.outgoing() if isinstance(m, Entries) and twin.raw in m.raws]
    request = session.next_event()
    assert isinstance(request, NeedEntries) and request.after == fork_seq - 3
    session.send_entries(request, [e.raw for e in member.entries[fork_seq - 3 : fork_seq - 1]])
    request = session.next_event()  # up to the seq before the fork: the proof waits
    assert isinstance(request, NeedEntries) and request.after == fork_seq - 1
    assert Entries(proof.raws) not in session.outgoing()
    session.send_entries(request, [member.entries[fork_seq - 1].raw])
    session.next_event()
    sent = [m for m in session.outgoing() if isinstance(m, Entries)]
    assert Entries(proof.raws) in sent  # once the peer holds an entry at the forked seq
    session.receive(messages.Notes({member.key: fork_seq}, frozenset([member.key])))
    while session.next_event() is not None:
        pass
    assert Entries(proof.raws) not in session.outgoing()  # sent once per link


def synced_session() -> SyncSession:
    session = SyncSession({}, clock=clock)
    session.receive(messages.Notes({}))
    return session


def test_a_peer_that_ignores_flow_control_is_cut_off() -> None:
    session = synced_session()
    for _ in range(WINDOW):
        session.receive(Entries((b"x",)))
    with pytest.raises(RemoteProtocolError, match="flow control"):
        session.receive(Entries((b"x",)))


@pytest.mark.parametrize(
    "message",
    [Entries((b"x",)), messages.Idle()],
)
def test_nothing_comes_before_the_first_notes(message: messages.Message) -> None:
    with pytest.raises(RemoteProtocolError, match="before notes"):
        SyncSession({}, clock=clock).receive(message)


def test_acknowledging_unsent_batches_is_an_error() -> None:
    with pytest.raises(RemoteProtocolError, match="acknowledged more"):
        synced_session().receive(messages.Ack(1))


def test_the_node_must_answer_what_was_asked() -> None:
    session = SyncSession({b"a" * 32: 5}, clock=clock)
    session.receive(messages.Notes({b"a" * 32: 0}, frozenset([b"a" * 32])))
    session.next_event()
    session.next_event()
    request = session.next_event()
    assert isinstance(request, NeedEntries)
    with pytest.raises(LocalProtocolError):
        session.send_entries(request, [b"e"] * (request.max_entries + 1))
    with pytest.raises(LocalProtocolError):
        session.entries_processed(1)


def test_a_tampered_data_frame_ends_the_link() -> None:
    team = TestTeam(members=1)
    pair = ConnectionPair.create(log_of([e.raw for e in team.all_entries()]), MemoryLog())
    pair.server.receive_data(pair.client.data_to_send())  # client hello
    pair.drive("server")
    pair.client.receive_data(pair.server.data_to_send())  # server hello
    pair.drive("client")
    pair.server.receive_data(pair.client.data_to_send())  # client proof
    pair.drive("server")
    pair.client.receive_data(pair.server.data_to_send())  # server proof and frontier
    pair.drive("client")
    data = bytearray(pair.client.data_to_send())  # the client's frontier and first entries
    assert data
    data[-3] ^= 0x40
    pair.server.receive_data(bytes(data))
    with pytest.raises(RemoteProtocolError, match="failed to authenticate"):
        pair.drive("server")


def test_the_close_frame_is_authenticated_and_clean() -> None:
    pair = ConnectionPair.create(MemoryLog(), MemoryLog())
    pair.run()
    pair.client.close("shutting down")
    pair.server.receive_data(pair.client.data_to_send())
    pair.drive("server")
    assert pair.events["server"][-1].reason == "shutting down"  # type: ignore[union-attr]
    assert pair.events["server"][-1].clean  # type: ignore[union-attr]


def test_an_unexpected_auth_frame_after_the_handshake_is_refused() -> None:
    pair = ConnectionPair.create(MemoryLog(), MemoryLog())
    pair.run()
    channel = pair.client._channel
    assert channel is not None
    pair.server.receive_data(channel.seal(Kind.AUTH, b"again"))
    with pytest.raises(RemoteProtocolError, match="AUTH"):
        pair.drive("server")


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), cut=st.integers(0, 400), flips=st.lists(st.integers(0, 10_000), max_size=3))
def test_any_bytes_give_a_protocol_error_or_nothing(data: bytes, cut: int, flips: list[int]) -> None:
    """Fuzz: garbage, and valid conversations with bytes flipped, raise only protocol errors."""
    team = TestTeam(members=1)
    pair = ConnectionPair.create(log_of([e.raw for e in team.all_entries()]), MemoryLog())
    stream = bytearray(pair.client.data_to_send() + data)
    for flip in flips:
        if stream:
            stream[flip % len(stream)] ^= 0xFF
    try:
        pair.server.receive_data(bytes(stream[:cut]))
        pair.drive("server")
        pair.server.receive_data(b"")
        pair.drive("server")
    except ProtocolError:
        pass


def test_a_note_that_arrives_mid_request_is_not_overwritten_by_the_answer() -> None:
    author = b"a" * 32
    session = SyncSession({author: 300}, clock=clock)
    session.receive(messages.Notes({author: 100}, frozenset([author])))
    session.next_event()  # SyncStarted
    session.next_event()  # NotesReceived
    request = session.next_event()
    assert isinstance(request, NeedEntries) and request.after == 100
    session.receive(messages.Notes({author: 40}, frozenset([author])))  # the peer dropped some: it says 40
    session.send_entries(request, [b"e"] * 50)  # the answer to the old request still goes out
    session.next_event()  # NotesReceived
    session.receive(messages.Ack(1))  # the peer stored the answer, and still held only 40 when it wrote
    session.receive(messages.Notes({author: 40}, frozenset([author])))
    session.next_event()  # NotesReceived
    again = session.next_event()
    assert isinstance(again, NeedEntries) and again.after == 40  # and 41..100 are sent again


def test_a_note_does_not_unsay_entries_still_in_flight() -> None:
    """A peer's note written before it stored what we sent must not make us send it all again."""
    author = b"a" * 32
    session = SyncSession({author: 300}, clock=clock)
    session.receive(messages.Notes({author: 100}, frozenset([author])))
    session.next_event()
    session.next_event()
    request = session.next_event()
    assert isinstance(request, NeedEntries)
    session.send_entries(request, [b"e"] * 50)  # 101..150, in flight
    session.receive(messages.Notes({author: 100}, frozenset([author])))  # crossed them on the wire
    session.next_event()  # NotesReceived
    following = session.next_event()
    assert isinstance(following, NeedEntries) and following.after == 150


def test_a_catch_up_of_short_messages_costs_at_most_60_percent_of_their_bytes() -> None:
    """v1 sent every entry whole (~356 B for a 28-character message, ~290 B of it fixed overhead). The team id,
    author, prev, seq, body length and hash can be derived by the receiver, and batches are compressed."""
    team = TestTeam(members=3)
    for i in range(2000):
        team.post(team.authors[i % 4], f"sector {i % 17} clear, moving on {i}")
    full = [e.raw for e in team.all_entries()]
    pair = ConnectionPair.create(MemoryLog(), log_of(full))
    pair.run()
    assert pair.client_log.logs == pair.server_log.logs
    per_entry = pair.received["client"] / len(full)
    raw = sum(map(len, full)) / len(full)
    assert per_entry <= 0.6 * raw, f"{per_entry:.0f} B on the wire per entry of {raw:.0f} B"


def test_a_want_made_before_the_first_notes_go_out_is_not_unsaid_by_them() -> None:
    """The first notes wait in the outbox; a want queued meanwhile (the node chose this peer as the source of
    an author, e.g. our own log, which a restored node must fetch back) must reach the peer after them, or
    the peer reads the stale first notes last and stops pushing that author."""
    author = b"a" * 32
    session = SyncSession({author: 3}, wants=(), clock=clock)
    session.set_wants([author])
    notes = [m for m in session.outgoing() if isinstance(m, messages.Notes) and author in m.heads]
    assert notes and author in notes[-1].push


def test_an_ask_again_goes_after_the_ack_of_the_batch_that_prompted_it() -> None:
    """A batch whose first entry does not link makes the node ask for the entry before it (a fork proof). The
    peer must read that note after the batch's Ack: before it, the note looks written while the batch was
    still on the wire, and the peer, sure the batch arrives, sends nothing again."""
    author = b"a" * 32
    session = SyncSession({author: 6}, clock=clock)
    session.receive(messages.Notes({author: 8}, frozenset()))
    session.receive(messages.Entries((b"7", b"8")))
    while session.next_event() is not None:
        pass
    session.ask_again(author, 5)
    session.entries_processed(1, {author: 8})
    out = session.outgoing()
    ack = next(i for i, m in enumerate(out) if isinstance(m, messages.Ack))
    ask = next(i for i, m in enumerate(out) if isinstance(m, messages.Notes) and m.heads.get(author) == 5)
    assert ack < ask


def test_a_peer_cannot_make_us_keep_notes_about_endless_authors() -> None:
    session = SyncSession({}, clock=clock)
    session.receive(messages.Notes({i.to_bytes(32, "big"): 1 for i in range(messages.MAX_AUTHORS)}))
    with pytest.raises(RemoteProtocolError, match="more than"):
        session.receive(messages.Notes({b"\xff" * 32: 1}))
