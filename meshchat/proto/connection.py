"""One link's whole protocol, sans I/O: bytes in, events out, bytes to send (as h11's ``Connection``).

The driver (``meshchat.net.link``, or a test) loops::

    conn.receive_data(data)             # b"" when the peer closed its side
                                        # (or: read into conn.receive_buffer(), then conn.received(n))
    while (event := conn.next_event()) is not None:
        ...                             # answer NeedEntries, accept EntriesReceived, ...
    send(conn.data_to_send())

``next_event`` raises :class:`RemoteProtocolError` when the peer breaks the protocol, presents the wrong
network key or is refused: the link is then over (send what ``data_to_send`` still holds, if anything, and
close). Frames are parsed one at a time as events are asked for, so a driver that stops asking stops reading.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum, auto

from meshchat.proto import messages
from meshchat.proto.blobs import NeedPart, Piece, decode_piece, piece_header
from meshchat.proto.channel import Kind, SecureChannel, close_reason
from meshchat.proto.compression import StreamCompressor, StreamDecompressor
from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError
from meshchat.proto.events import ConnectionClosed, Event, HandshakeComplete, NeedEntries
from meshchat.proto.framing import FrameReader
from meshchat.proto.handshake import Authorize, Credentials, Handshake, PeerRefused, Side
from meshchat.proto.sync import ForkProof, SyncSession


class State(Enum):
    HANDSHAKING = auto()
    AUTHENTICATED = auto()  # waiting for start_sync
    SYNCING = auto()
    CLOSED = auto()


class Connection:
    """``clock`` (seconds, any origin) paces the sync: the link's measured rate and when notes are due."""

    def __init__(
        self, side: Side, credentials: Credentials, authorize: Authorize, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.side = side
        self.clock = clock
        self.state = State.HANDSHAKING
        self.peer_key: bytes | None = None
        self._handshake = Handshake(side, credentials, authorize)
        self._reader = FrameReader()
        self._out: list[bytes | bytearray] = [self._handshake.start()]
        self._channel: SecureChannel | None = None
        self._session: SyncSession | None = None
        self._team_id = b""
        self._compressor = StreamCompressor()
        self._decompressor = StreamDecompressor()
        self._eof = False
        self._closed_event: ConnectionClosed | None = None

    # ---- input -----------------------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        if self._arrived(len(data)):
            self._reader.feed(data)

    def receive_buffer(self) -> memoryview:
        """Where to read the next bytes from the peer into, without a copy (a socket's ``recv_into``); then
        call :meth:`received`. Between frames it is small, so a read never crosses into a frame's buffer: a
        frame of a file arrives where it is opened."""
        return self._reader.receive_buffer()

    def received(self, count: int) -> None:
        """``count`` bytes were read into the last :meth:`receive_buffer` (0: the peer closed its side)."""
        if self._arrived(count):
            self._reader.received(count)

    def _arrived(self, count: int) -> bool:
        """Whether ``count`` bytes are data to read; 0 is the end of the stream, and nothing may follow it."""
        if self._eof:
            raise LocalProtocolError("data after end of stream")
        self._eof = not count
        return bool(count)

    def next_event(self) -> Event | None:
        if self.state is State.CLOSED:
            closed, self._closed_event = self._closed_event, None
            return closed
        if self.state is State.AUTHENTICATED:
            raise LocalProtocolError("call start_sync after HandshakeComplete")
        try:
            while True:
                if self._session is not None and (request := self._session.next_event()) is not None:
                    return request
                payload = self._reader.next_frame()
                if payload is None:
                    if self._eof:
                        reason = self.handshake_failure or "the peer closed the connection" + self._where()
                        return self._end(reason, clean=False)
                    return None
                event = self._on_frame(payload)
                if event is not None:
                    return event
        except RemoteProtocolError as exc:
            self.state = State.CLOSED
            if isinstance(exc, PeerRefused):
                self._out.append(exc.farewell)
            raise

    @property
    def handshake_failure(self) -> str:
        """Why the handshake cannot succeed although the link is still open ("" if it may): the peer's hello
        was answered with a decoy. The driver names this when the link ends (deadline, or the peer's close)."""
        return self._handshake.decoy_reason

    def _where(self) -> str:
        return " during the handshake" if self.state is State.HANDSHAKING else ""

    def _on_frame(self, payload: bytearray) -> Event | None:
        if self.state is State.HANDSHAKING:
            self._out.append(self._handshake.receive(bytes(payload)))  # a few small frames
            result = self._handshake.result
            if result is None:
                return None
            self._channel = result.channel
            self.peer_key = result.peer_key
            self.state = State.AUTHENTICATED
            self._reader.trusted = True  # a member now: its frames may be given their length at once
            return HandshakeComplete(result.peer_key, result.peer_evidence)
        assert self._channel is not None and self._session is not None
        kind, body = self._channel.open_in_place(payload)
        if kind is Kind.PIECE:
            self._session.receive(decode_piece(body))
            return None
        if kind is Kind.SYNC:
            # Entries stay compact: the driver rebuilds them where it likes (see EntriesReceived).
            message = messages.decode(self._decompressor.decompress(body), self._team_id, rebuild=False)
            self._session.receive(message)
            return None
        if kind is Kind.CLOSE:
            return self._end(close_reason(body), clean=True)
        if kind is Kind.DATA:
            raise RemoteProtocolError("the peer speaks link protocol v1: it runs an older meshchat, update it")
        if kind is Kind.PIECE_V1:
            raise RemoteProtocolError("the peer sends files in an older format: it runs an older meshchat, update it")
        raise RemoteProtocolError(f"unexpected {kind.name} frame after the handshake")

    def _end(self, reason: str, *, clean: bool) -> ConnectionClosed:
        self.state = State.CLOSED
        return ConnectionClosed(reason, clean)

    # ---- the node's side -------------------------------------------------------------------------------

    def start_sync(
        self,
        local: Mapping[bytes, int],
        *,
        team_id: bytes,
        held: Mapping[bytes, int] | None = None,
        priority: Sequence[bytes] = (),
        fork_proofs: Iterable[ForkProof] = (),
        wants: Iterable[bytes] | None = None,
    ) -> None:
        """Begin replication once the handshake is complete: ``local`` is what we may send per author,
        ``held`` what we hold (defaults to ``local``), ``priority`` the admission order, ``wants`` the authors
        this peer should push to us (``None``: all it has; see ``SyncSession``). ``team_id`` is the link's
        team: compact entries leave it out."""
        if self.state is not State.AUTHENTICATED:
            raise LocalProtocolError("start_sync is for right after HandshakeComplete")
        self._team_id = team_id
        self._session = SyncSession(
            local, held=held, priority=priority, fork_proofs=fork_proofs, wants=wants, clock=self.clock
        )
        self.state = State.SYNCING

    @property
    def session(self) -> SyncSession:
        if self._session is None or self.state is not State.SYNCING:
            raise LocalProtocolError("not syncing")
        return self._session

    def send_entries(self, request: NeedEntries, raws: Sequence[bytes]) -> None:
        self.session.send_entries(request, raws)

    def entries_processed(self, batches: int, seen: Mapping[bytes, int] = {}) -> None:
        self.session.entries_processed(batches, seen)

    def local_advanced(self, heads: Mapping[bytes, int], held: Mapping[bytes, int] | None = None) -> None:
        if self.state is State.SYNCING:
            self.session.local_advanced(heads, held)

    def set_wants(self, wanted: Iterable[bytes], unwanted: Iterable[bytes] = ()) -> None:
        if self.state is State.SYNCING:
            self.session.set_wants(wanted, unwanted)

    def ask_again(self, author: bytes, after: int) -> None:
        if self.state is State.SYNCING:
            self.session.ask_again(author, after)

    def has_output(self) -> bool:
        """Whether :meth:`data_to_send` has something (or notes that are not due yet): the driver need not wake
        its writer otherwise."""
        return bool(self._out) or (self.state is State.SYNCING and self.session.has_output())

    def next_deadline(self) -> float | None:
        """When :meth:`data_to_send` will have something that is not due yet (waiting notes)."""
        return self.session.next_deadline() if self.state is State.SYNCING else None

    def add_fork_proofs(self, proofs: Iterable[ForkProof]) -> None:
        if self.state is State.SYNCING:
            self.session.add_fork_proofs(proofs)

    def resync(self, local: Mapping[bytes, int], held: Mapping[bytes, int] | None = None) -> None:
        if self.state is State.SYNCING:
            self.session.resync(local, held)

    def ping(self) -> None:
        if self.state is State.SYNCING:
            self.session.ping()

    # ---- files (meshchat.proto.blobs) ------------------------------------------------------------------

    def ask_blobs(self, want: Iterable[bytes], drop: Iterable[bytes] = ()) -> None:
        """Ask the peer what it holds of ``want`` (and to keep telling us), and to stop telling us of ``drop``."""
        if self.state is State.SYNCING:
            self.session.blobs.ask(want, drop)

    def blobs_held(self, held: Mapping[bytes, bytes]) -> None:
        """Answer :class:`~meshchat.proto.blobs.BlobsAsked`: what we hold of each blob (bitfields)."""
        if self.state is State.SYNCING:
            self.session.blobs.held(held)

    def blobs_advanced(self, held: Mapping[bytes, bytes]) -> None:
        """We hold more of these blobs: the peer hears of those it asked about (batched)."""
        if self.state is State.SYNCING:
            self.session.blobs.held(held, now=False)

    def fetch_parts(
        self, add: Mapping[bytes, Iterable[tuple[int, int]]], cancel: Mapping[bytes, Iterable[int]] = {}
    ) -> None:
        if self.state is State.SYNCING:
            self.session.blobs.fetch(add, cancel)

    def send_part(self, request: NeedPart, data: bytes | None, *, done: bool) -> None:
        self.session.blobs.send_part(request, data, done=done)

    def pieces_processed(self, count: int) -> None:
        if self.state is State.SYNCING:
            self.session.blobs.pieces_processed(count)

    def close(self, reason: str) -> None:
        """End the link, telling the peer why with an authenticated close (if the channel is up)."""
        if self._channel is not None and self.state is not State.CLOSED:
            self._flush_session()
            self._out.append(self._channel.close_frame(reason))
        if self.state is not State.CLOSED:
            self._closed_event = ConnectionClosed(reason, clean=True)
        self.state = State.CLOSED

    # ---- output ----------------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything to send now: many frames in one buffer, for one ``send_all``."""
        return b"".join(self.buffers_to_send())

    def buffers_to_send(self) -> list[bytes | bytearray]:
        """:meth:`data_to_send` as the frames themselves, not joined (as h11's ``send_with_data_passthrough``):
        a frame carrying a piece of a file is a quarter of a megabyte, and is sent as it was sealed."""
        if self.state is State.SYNCING:
            self._flush_session()
        out, self._out = self._out, []
        return out

    def _flush_session(self) -> None:
        if self._session is None or self._channel is None:
            return
        seal, encode, compress, team = self._channel.seal, messages.encode, self._compressor.compress, self._team_id
        for message in self._session.outgoing():
            if type(message) is Piece:  # outside the compressed stream: files are mostly compressed already
                self._out.append(seal(Kind.PIECE, piece_header(message), message.data))
            else:
                self._out.append(seal(Kind.SYNC, compress(encode(message, team))))
