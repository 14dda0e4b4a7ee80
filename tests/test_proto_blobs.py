"""Files on a link (link protocol v2, message types 6 to 10), sans I/O: two connections, no network.

A blob is asked about, fetched part by part and checked; pieces go only when no entry waits for the peer and
within the same window as entries; pieces are acknowledged apart from entries; every malformed message is
refused by the decoder.
"""

from __future__ import annotations

import os

import pytest

from meshchat.log.attachments import CHUNK_SIZE
from meshchat.proto import messages
from meshchat.proto.blobs import PIECE_WINDOW, Ask, Fetch, Got, Have, NeedPart, Piece, PieceReceived
from meshchat.proto.compression import StreamCompressor
from meshchat.proto.connection import State
from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError
from meshchat.proto.events import EntriesReceived
from meshchat.proto.messages import WINDOW
from meshchat.proto.pacing import ENTRIES, PIECES, Pacer
from meshchat.testing import ConnectionPair, MemoryLog, synthetic_history

TEAM = b"t" * 32
BLOB = b"b" * 32


def _pair(server_entries: int = 0) -> ConnectionPair:
    """The client holds the founder's log; the server that and ``server_entries`` posts more."""
    team = synthetic_history(max(server_entries, 1), authors=3)
    founder = team.founder.entries
    return ConnectionPair.create(MemoryLog(founder), MemoryLog(team.all_entries() if server_entries else founder))


def test_a_blob_is_fetched_part_by_part_and_checked() -> None:
    pair = _pair()
    data = os.urandom(3 * CHUNK_SIZE + 1234)
    blob = pair.blobs["server"].add(data)
    pair.run()  # handshake and first notes
    pair.blobs["client"].want(pair.client, blob, len(data))
    pair.run()
    assert pair.blobs["client"].whole[blob] == data
    assert pair.blobs["client"].bad == []
    pieces = [e for e in pair.events["client"] if isinstance(e, PieceReceived)]
    assert pieces[0].part == 0  # the index first, then the chunks in order
    assert sorted({p.part for p in pieces}) == [0, 1, 2, 3, 4]


def test_a_small_file_needs_no_index() -> None:
    pair = _pair()
    blob = pair.blobs["server"].add(b"a short note")
    pair.run()
    pair.blobs["client"].want(pair.client, blob, 12)
    pair.run()
    assert pair.blobs["client"].whole[blob] == b"a short note"
    assert {e.part for e in pair.events["client"] if isinstance(e, PieceReceived)} == {1}


def test_a_blob_nobody_holds_is_answered_with_an_empty_bitfield() -> None:
    pair = _pair()
    pair.run()
    pair.blobs["client"].want(pair.client, BLOB, 10)
    pair.run()
    assert BLOB in pair.blobs["client"].fetching and not pair.blobs["client"].whole


def test_pieces_wait_for_every_entry_the_peer_lacks() -> None:
    """The server holds 2,000 entries the client lacks and a file the client asked for before they were sent:
    every entry arrives before the first piece."""
    pair = _pair(server_entries=2000)
    data = os.urandom(2 * CHUNK_SIZE)
    blob = pair.blobs["server"].add(data)
    while pair.client.state is not State.SYNCING or pair.server.state is not State.SYNCING:
        pair.step()  # the handshake, then each side's first notes
    assert not any(isinstance(e, EntriesReceived) for e in pair.events["client"])
    pair.blobs["client"].want(pair.client, blob, len(data))
    pair.run()
    assert pair.blobs["client"].whole[blob] == data
    received = pair.events["client"]
    last_entries = max(i for i, e in enumerate(received) if isinstance(e, EntriesReceived))
    first_piece = min(i for i, e in enumerate(received) if isinstance(e, PieceReceived))
    assert last_entries < first_piece
    assert pair.client_log.count() == pair.server_log.count()


def test_no_piece_takes_the_window_while_an_entry_waits() -> None:
    """Even with bytes to spare in the window, a piece waits while the peer lacks entries (here the entries'
    lane is full of small batches); once nothing waits, the same room goes to the piece."""
    pair = _pair()
    data = os.urandom(CHUNK_SIZE)
    blob = pair.blobs["server"].add(data)
    pair.run()
    session = pair.server.session
    session.blobs.receive(Fetch({blob: ((1, 0),)}))
    for _ in range(WINDOW):
        session.pacer.sent(10, {}, lane=ENTRIES)
    session._pending.add(next(iter(session.local)))  # the client lacks entries of an author it wants
    assert session.pacer.room() > 0
    assert session.next_event() is None
    session._pending.clear()
    assert isinstance(session.next_event(), NeedPart)


def test_pieces_are_acknowledged_apart_from_entries() -> None:
    pacer = Pacer(lambda: 0.0)
    pacer.sent(100, {}, lane=PIECES)
    pacer.sent(200, {b"a" * 32: 3}, lane=ENTRIES)
    pacer.sent(300, {}, lane=PIECES)
    assert (pacer.flights(ENTRIES), pacer.flights(PIECES), pacer.in_flight_bytes) == (1, 2, 600)
    pacer.acknowledged(1, lane=ENTRIES)  # the entries batch, stored while the pieces before it were not
    assert (pacer.flights(ENTRIES), pacer.flights(PIECES), pacer.in_flight_bytes) == (0, 2, 400)
    assert pacer.in_flight_seq(b"a" * 32) == 0
    pacer.acknowledged(2, lane=PIECES)
    assert pacer.in_flight_bytes == 0 and not pacer.in_flight


def test_more_unacknowledged_pieces_than_the_window_is_a_protocol_error() -> None:
    pair = _pair()
    pair.run()
    lane = pair.server.session.blobs
    for i in range(PIECE_WINDOW):
        lane.receive(Piece(BLOB, 1, i, b"x"))
    with pytest.raises(RemoteProtocolError, match="unacknowledged pieces"):
        lane.receive(Piece(BLOB, 1, PIECE_WINDOW, b"x"))
    with pytest.raises(RemoteProtocolError, match="more pieces than were sent"):
        lane.receive(Got(1))
    with pytest.raises(LocalProtocolError):
        lane.pieces_processed(PIECE_WINDOW + 1)


def test_a_fetch_cancels_before_it_adds() -> None:
    """A part cancelled and asked again in one Fetch starts again from the offset given."""
    pair = _pair()
    data = os.urandom(CHUNK_SIZE)
    blob = pair.blobs["server"].add(data)
    pair.run()
    lane = pair.server.session.blobs
    lane.receive(Fetch({blob: ((1, 0),)}))
    request = lane.next_request()
    assert request is not None and (request.part, request.offset) == (1, 0)
    lane.send_part(request, data[:1000], done=False)
    lane.receive(Fetch({blob: ((1, 0),)}))  # asked again without a cancel: it goes on where it was
    request = lane.next_request()
    assert request is not None and request.offset == 1000
    lane.send_part(request, data[1000:2000], done=False)
    lane.receive(Fetch({blob: ((1, 500),)}, {blob: (1,)}))
    request = lane.next_request()
    assert request is not None and request.offset == 500


@pytest.mark.parametrize(
    "message",
    [
        Ask(frozenset({BLOB}), frozenset({b"c" * 32})),
        Have({BLOB: b"\xff\x80", b"c" * 32: b""}),
        Fetch({BLOB: ((0, 0), (3, 1000))}, {b"c" * 32: (2,)}),
        Piece(BLOB, 2, 4096, b"data"),
        Got(3),
    ],
)
def test_blob_messages_round_trip(message: object) -> None:
    encoded = messages.encode(message, TEAM)  # type: ignore[arg-type]
    assert messages.decode(encoded, TEAM) == message


def _raw(*value: object) -> bytes:
    import msgpack

    return msgpack.packb(list(value), use_bin_type=True)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (_raw(6, [b"short"], []), "32-byte"),
        (_raw(6, [BLOB], [BLOB]), "want and drop"),
        (_raw(6, [BLOB, BLOB], []), "once"),
        (_raw(6, [], []), "1 to"),
        (_raw(7, {BLOB: b"\x00" * 2000}), "bitfield"),
        (_raw(8, {BLOB: [[1, CHUNK_SIZE]]}, {}), "offset"),
        (_raw(8, {BLOB: [[1, 0], [1, 5]]}, {}), "once"),
        (_raw(8, {BLOB: [[9000, 0]]}, {}), "part"),
        (_raw(8, {BLOB: [1]}, {}), "pairs"),
        (_raw(9, BLOB, 1, CHUNK_SIZE - 2, b"xyz"), "rest of its chunk"),
        (_raw(9, BLOB, 1, 0, b""), "1 byte"),
        (_raw(9, BLOB, 1, 0, "text"), "1 byte"),
        (_raw(10, 0), "1 to"),
        (_raw(10, 17), "1 to"),
        (_raw(10), "malformed"),
    ],
)
def test_malformed_blob_messages_are_refused(raw: bytes, why: str) -> None:
    with pytest.raises(RemoteProtocolError, match=why):
        messages.decode(raw, TEAM)


def test_pieces_travel_outside_the_compressed_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files are mostly compressed already (photos, PDFs, archives): zstd spent a tenth of a transfer's time
    failing to shrink them. Pieces go in PIECE frames of their own; everything else stays compressed."""
    compressed: list[bytes] = []
    real = StreamCompressor.compress
    monkeypatch.setattr(StreamCompressor, "compress", lambda self, m: compressed.append(m) or real(self, m))
    pair = _pair()
    data = os.urandom(2 * CHUNK_SIZE)
    blob = pair.blobs["server"].add(data)
    pair.run()
    pair.blobs["client"].want(pair.client, blob, len(data))
    pair.run()
    assert pair.blobs["client"].whole[blob] == data
    sent = [type(messages.decode(m, pair.team_id)) for m in compressed]
    assert Piece not in sent and {Have, Fetch, Got} <= set(sent)


def test_a_blob_of_more_parts_than_one_fetch_carries_is_fetched_whole() -> None:
    """One Fetch carries at most 32 parts of a blob: the rest of a larger ask were cut, silently, and never
    asked for (a 40-chunk file stopped after 31 chunks). They go in further Fetch messages now."""
    pair = _pair()
    data = os.urandom(40 * CHUNK_SIZE)
    blob = pair.blobs["server"].add(data)
    pair.run()
    pair.blobs["client"].want(pair.client, blob, len(data))
    pair.run()
    assert pair.blobs["client"].whole.get(blob) == data


def test_a_long_fetch_split_over_messages_means_what_one_would() -> None:
    """Cancel 40 parts and ask 40 again from other offsets: the server serves the 40 new asks, in order."""
    pair = _pair()
    pair.run()
    server = pair.server.session.blobs
    server.receive(Fetch({BLOB: tuple((p, 0) for p in range(1, 33))}))
    server.receive(Fetch({BLOB: tuple((p, 0) for p in range(33, 41))}))
    client = pair.client.session.blobs
    asks = [(p, 100 + p) for p in range(40, 0, -1)]
    client.fetch({BLOB: asks}, {BLOB: range(1, 41)})
    fetches = client.outgoing(flush=False)
    assert len(fetches) > 1 and all(isinstance(f, Fetch) for f in fetches)
    for fetch in fetches:
        server.receive(fetch)
    served = []
    while (request := server.next_request()) is not None:
        served.append((request.part, request.offset))
        server.send_part(request, None, done=True)
    assert served == asks
