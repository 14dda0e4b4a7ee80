"""Public helpers for tests.

- ``TestTeam`` founds a team and admits members, giving each an :class:`AuthorLog` that signs that author's
  next entry, without any store. Entries can then be fed to stores in any order (convergence tests).
- ``MemoryLog`` and ``ConnectionPair``: two pure protocol connections passing bytes, backed by a store
  stand-in (protocol tests, fuzzing).
- ``team_homes``, ``running_node`` and ``link_nodes``: real homes of one team, nodes running in-process, and
  links between them over in-memory streams (``stream_pair``: as fast as memory, or as slow as a radio link,
  in virtual time; each counts the bytes it carries); ``damage_database`` for stores a failing disk has
  damaged.
- Waiting, the one way each: ``wait_until`` (in a trio test) and ``wait_until_sync`` (in a plain test or a
  thread) poll a condition; ``virtual_clock`` makes a trio test's time jump; ``free_port`` and
  ``node_process`` / ``run_cli`` run meshchat as separate processes on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import libnacl
import trio
import trio.testing

from meshchat.identity import Identity
from meshchat.log.entry import ZERO_ID, Entry, decode_entry, sign_entry
from meshchat.proto.blobs import BlobsAsked, BlobsHeld, NeedPart, PieceReceived
from meshchat.proto.connection import Connection
from meshchat.proto.connection import State as ConnectionState
from meshchat.proto.events import ConnectionClosed, EntriesReceived, HandshakeComplete, NeedEntries
from meshchat.proto.events import Event as ProtoEvent
from meshchat.proto.handshake import Authorize, Credentials, Side

if TYPE_CHECKING:
    import pytest

    from meshchat.events import NodeEvent
    from meshchat.node import Node, NodeConfig

BASE_CLOCK = 1_790_000_000_000  # a fixed past instant (late 2026): tests do not depend on the wall clock
TEAM_NETWORK_KEY = b"N" * 32  # the network key TestTeam's admissions seal

# Text that acts on a terminal if it reaches one raw. Every reader passes member text through
# ``meshchat.log.safe_text.safe_text``; tests put these into names, rooms, titles and messages and look at the
# bytes a person's terminal receives.
TERMINAL_ATTACKS = {
    "escape: clear screen": "\x1b[2J",
    "escape: colour": "\x1b[31m",
    "OSC 52: write the clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "bell": "\x07",
    "C1 CSI": "\x9b2J",
    "carriage return": "\r",
    "right-to-left override": "\u202e",
    "left-to-right isolate": "\u2066",
    "zero-width space": "\u200b",
    "line separator": "\u2028",
}
# Each attack between guillemets, so that a raw one is found whole in a terminal's bytes even among the
# escape codes a TUI legitimately writes.
HOSTILE_TEXT = "".join(f"\u00ab{attack}\u00bb" for attack in TERMINAL_ATTACKS.values())
FAKE_LINE = "ok\nAna: stand down"  # a newline that would fake a line of output of its own
_ATTACK_CHARACTERS = frozenset(c for attack in TERMINAL_ATTACKS.values() for c in attack if not c.isprintable())


def raw_attacks_in(output: str | bytes) -> list[str]:
    """The :data:`TERMINAL_ATTACKS` found whole, between their guillemets, in ``output``."""
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    return [name for name, attack in TERMINAL_ATTACKS.items() if f"\u00ab{attack}\u00bb" in text]


def attack_characters_in(output: str) -> set[str]:
    """Characters of :data:`TERMINAL_ATTACKS` that ``output`` holds raw: for plain-text output (the CLI), which
    must never hold an escape, a bell, a carriage return or a bidi control of its own."""
    return set(_ATTACK_CHARACTERS & set(output))


@dataclass
class AuthorLog:
    """One author's log being written in memory."""

    identity: Identity
    team_id: bytes
    entries: list[Entry] = field(default_factory=list)

    @property
    def key(self) -> bytes:
        return self.identity.public_key

    def write(self, kind: str, body: dict[str, Any], *, clock: int) -> Entry:
        last = self.entries[-1] if self.entries else None
        entry = sign_entry(
            self.identity,
            team_id=self.team_id,
            seq=last.seq + 1 if last else 1,
            prev=last.id if last else None,
            clock=max(clock, last.clock + 1 if last else 0),
            kind=kind,
            body=body,
        )
        self.entries.append(entry)
        return entry


class TestTeam:
    """A founder who admits members at increasing clocks; ``tick`` gives the next clock."""

    __test__ = False  # not a pytest test class

    def __init__(self, name: str = "Test team", *, members: int = 2, role: str = "member") -> None:
        self.clock = BASE_CLOCK
        founder = Identity.generate()
        genesis = sign_entry(
            founder,
            team_id=ZERO_ID,
            seq=1,
            prev=None,
            clock=self.tick(),
            kind="team.create",
            body={"name": name},
        )
        self.team_id = genesis.id
        self.founder = AuthorLog(founder, genesis.id, [genesis])
        self.members: list[AuthorLog] = []
        self.room = secrets.token_bytes(16)
        self.founder.write("room.create", {"room": self.room, "name": "general", "topic": ""}, clock=self.tick())
        for _ in range(members):
            self.add_member(role)

    def tick(self, step: int = 1000) -> int:
        self.clock += step
        return self.clock

    def add_member(self, role: str = "member", *, by: AuthorLog | None = None) -> AuthorLog:
        member = AuthorLog(Identity.generate(), self.team_id)
        (by or self.founder).write(
            "member.add",
            {"member": member.key, "name": f"m{len(self.members)}", "role": role},
            clock=self.tick(),
        )
        self.members.append(member)
        return member

    def invite(self, issuer: AuthorLog, role: str = "member", expires: int = 2**50) -> tuple[bytes, bytes]:
        """A ``member.invite`` in ``issuer``'s log; returns the one-time invite key pair (pk, secret)."""
        pk, sk = libnacl.crypto_sign_keypair()
        issuer.write("member.invite", {"invite_pk": pk, "role": role, "expires": expires}, clock=self.tick())
        return pk, sk

    def admit(self, issuer: AuthorLog, invite_pk: bytes, *, clock: int | None = None) -> AuthorLog:
        """A newcomer admitted with the invite ``invite_pk`` by ``issuer`` (what the issuer's node writes when
        the newcomer's hello proves the invite): a ``member.admit`` sealing a network key to it."""
        from meshchat.log.netkeys import seal_network_key

        newcomer = AuthorLog(Identity.generate(), self.team_id)
        sealed = seal_network_key(TEAM_NETWORK_KEY, [newcomer.key])[newcomer.key]
        body = {"member": newcomer.key, "invite_pk": invite_pk, "sealed_key": sealed}
        issuer.write("member.admit", body, clock=clock or self.tick())
        self.members.append(newcomer)
        return newcomer

    def post(self, author: AuthorLog, text: str, **extra: Any) -> Entry:
        return author.write("msg.post", {"room": self.room, "text": text, **extra}, clock=self.tick())

    @property
    def authors(self) -> list[AuthorLog]:
        return [self.founder, *self.members]

    def all_entries(self) -> list[Entry]:
        return [e for author in self.authors for e in author.entries]


def synthetic_history(n: int, *, authors: int = 20, seed: int = 0) -> TestTeam:
    """A team whose logs hold about ``n`` entries from ``authors`` authors: mostly posts of varied length,
    with acks, incident updates and pins mixed in, as in a busy operation. Deterministic for a seed."""
    import random

    rng = random.Random(seed)
    team = TestTeam(members=authors - 1)
    incident = bytes(16)
    team.founder.write("incident.open", {"incident": incident, "title": "Flood", "severity": 2}, clock=team.tick())
    recent: list[Entry] = []
    remaining = n - len(team.all_entries())
    everyone = team.authors
    for i in range(remaining):
        author = everyone[i % len(everyone)]
        clock = team.tick(rng.randrange(1, 50))
        roll = rng.random()
        if roll < 0.05 and recent:
            author.write("msg.ack", {"target": rng.choice(recent).id}, clock=clock)
        elif roll < 0.08:
            fields = {"status": rng.choice(["active", "contained"])}
            author.write("incident.update", {"incident": incident, "fields": fields}, clock=clock)
        elif roll < 0.09 and recent:
            author.write("msg.pin", {"target": rng.choice(recent).id}, clock=clock)
        else:
            words = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(3, 30)))
            recent.append(author.write("msg.post", {"room": team.room, "text": words}, clock=clock))
            if len(recent) > 50:
                recent.pop(0)
    return team


_WORDS = [
    "water",
    "level",
    "rising",
    "north",
    "levee",
    "sector",
    "pump",
    "team",
    "two",
    "clear",
    "road",
    "blocked",
    "need",
    "sandbags",
    "at",
    "bridge",
    "ok",
]


# ---- protocol test helpers: a store stand-in and a pair of connections wired to each other ---------------------


class MemoryLog:
    """A store stand-in for protocol tests: per-author lists of raw entries, appended in seq order only."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self.logs: dict[bytes, list[bytes]] = {}
        self.team_id = ZERO_ID  # the team of the entries it holds, once it holds one
        self.accept([e.raw for e in entries])

    def frontier(self) -> dict[bytes, int]:
        return {author: len(raws) for author, raws in self.logs.items()}

    def read(self, request: NeedEntries) -> list[bytes]:
        """Answer a :class:`~meshchat.proto.events.NeedEntries` request."""
        raws = self.logs.get(request.author, [])[request.after : request.upto][: request.max_entries]
        out: list[bytes] = []
        size = 0
        for raw in raws:
            size += len(raw)
            if size > request.max_bytes and out:
                break
            out.append(raw)
        return out

    def accept(self, raws: Iterable[bytes]) -> dict[bytes, int]:
        """Append what continues a log; return ``{author: highest seq seen}`` for the sync session."""
        seen: dict[bytes, int] = {}
        for raw in raws:
            entry = decode_entry(raw)
            self.team_id = entry.id if entry.is_genesis else entry.team_id
            log = self.logs.setdefault(entry.author, [])
            if entry.seq == len(log) + 1:
                log.append(raw)
            seen[entry.author] = max(seen.get(entry.author, 0), entry.seq)
        return seen

    def count(self) -> int:
        return sum(len(raws) for raws in self.logs.values())


class MemoryBlobs:
    """Files of one side of a :class:`ConnectionPair`, in memory: what it holds whole, and what it fetches
    (every part of a wanted blob from the one peer, the index first), each part checked as it completes."""

    def __init__(self) -> None:
        self.whole: dict[bytes, bytes] = {}
        self.fetching: dict[bytes, dict[str, Any]] = {}
        self.bad: list[str] = []  # parts that did not match

    def add(self, data: bytes) -> bytes:
        from meshchat.log.attachments import CHUNK_SIZE, blob_id, hash_chunks

        index = hash_chunks(data[o : o + CHUNK_SIZE] for o in range(0, len(data), CHUNK_SIZE))
        blob = blob_id(len(data), index)
        self.whole[blob] = data
        return blob

    def want(self, conn: Connection, blob: bytes, size: int) -> None:
        self.fetching[blob] = {"size": size, "index": None, "parts": {}, "arriving": {}}
        conn.ask_blobs([blob])

    def holdings(self, blobs: Iterable[bytes]) -> dict[bytes, bytes]:
        from meshchat.log.attachments import ChunkSet, chunk_count

        return {b: ChunkSet.full(chunk_count(len(self.whole[b]))).encode() if b in self.whole else b"" for b in blobs}

    def read(self, request: NeedPart) -> tuple[bytes | None, bool]:
        from meshchat.log.attachments import CHUNK_SIZE, hash_chunks

        data = self.whole.get(request.blob)
        if data is None:
            return None, True
        if request.part == 0:
            part = hash_chunks(data[o : o + CHUNK_SIZE] for o in range(0, len(data), CHUNK_SIZE))
        else:
            part = data[(request.part - 1) * CHUNK_SIZE : request.part * CHUNK_SIZE]
        piece = part[request.offset : request.offset + request.max_bytes]
        return piece, request.offset + len(piece) >= len(part)

    def on_held(self, conn: Connection, held: Mapping[bytes, bytes]) -> None:
        from meshchat.log.attachments import chunk_count

        for blob, bits in held.items():
            state = self.fetching.get(blob)
            if state is not None and bits and not state.get("asked"):
                state["asked"] = True
                count = chunk_count(state["size"])
                parts = ([0] if count > 1 else []) + list(range(1, count + 1))
                conn.fetch_parts({blob: [(p, 0) for p in parts]})

    def on_piece(self, piece: PieceReceived) -> None:
        from meshchat.log.attachments import HASH_SIZE, blob_id, chunk_count, chunk_hash, chunk_span

        state = self.fetching.get(piece.blob)
        if state is None:
            return
        size = state["size"]
        arriving = state["arriving"].setdefault(piece.part, bytearray())
        assert piece.offset == len(arriving), "pieces of a part arrive in order"
        arriving += piece.data
        count = chunk_count(size)
        length = count * HASH_SIZE if piece.part == 0 else chunk_span(size, piece.part)[1]
        if len(arriving) < length:
            return
        data = bytes(state["arriving"].pop(piece.part))
        if piece.part == 0:
            if blob_id(size, data) != piece.blob:
                self.bad.append("index")
            state["index"] = data
            return
        index = state["index"] if count > 1 else chunk_hash(data)
        if (count == 1 and blob_id(size, index) != piece.blob) or index[
            (piece.part - 1) * 32 : piece.part * 32
        ] != chunk_hash(data):
            self.bad.append(f"chunk {piece.part}")
            return
        state["parts"][piece.part] = data
        if len(state["parts"]) == count:
            self.whole[piece.blob] = b"".join(state["parts"][i] for i in range(1, count + 1))
            del self.fetching[piece.blob]


@dataclass
class ConnectionPair:
    """Two pure :class:`~meshchat.proto.connection.Connection` objects passing bytes to each other, each
    backed by a :class:`MemoryLog` (the h11 ``ConnectionPair`` idea): whole conversations, no network."""

    client: Connection
    server: Connection
    client_log: MemoryLog
    server_log: MemoryLog
    priority: tuple[bytes, ...] = ()
    events: dict[str, list[ProtoEvent]] = field(default_factory=lambda: {"client": [], "server": []})
    received: dict[str, int] = field(default_factory=lambda: {"client": 0, "server": 0})  # bytes each side got
    now: float = 0.0  # the pair's clock: :meth:`run` moves it to the next deadline when nothing else moves
    blobs: dict[str, MemoryBlobs] = field(default_factory=lambda: {"client": MemoryBlobs(), "server": MemoryBlobs()})

    @classmethod
    def create(
        cls,
        client_log: MemoryLog,
        server_log: MemoryLog,
        *,
        network_key: bytes = b"k" * 32,
        client: Identity | None = None,
        server: Identity | None = None,
        authorize: Authorize = lambda key, evidence, invite: None,
        priority: tuple[bytes, ...] = (),
    ) -> ConnectionPair:
        clock = _PairClock()
        client_conn = Connection(
            Side.CLIENT, Credentials(network_key, client or Identity.generate()), authorize, clock=clock
        )
        server_conn = Connection(
            Side.SERVER, Credentials(network_key, server or Identity.generate()), authorize, clock=clock
        )
        pair = cls(client_conn, server_conn, client_log, server_log, priority)
        clock.pair = pair
        return pair

    @property
    def team_id(self) -> bytes:
        return self.server_log.team_id if self.server_log.team_id != ZERO_ID else self.client_log.team_id

    def drive(self, name: str) -> None:
        """Answer every event one side has (as a node would); raises what ``next_event`` raises."""
        conn, log = (self.client, self.client_log) if name == "client" else (self.server, self.server_log)
        while (event := conn.next_event()) is not None:
            self.events[name].append(event)
            if type(event) is HandshakeComplete:
                conn.start_sync(log.frontier(), team_id=self.team_id, priority=self.priority)
            elif type(event) is NeedEntries:
                conn.send_entries(event, log.read(event))
            elif type(event) is EntriesReceived:
                conn.entries_processed(1, log.accept(event.raws))
            elif type(event) is ConnectionClosed:
                return
            else:
                self._drive_blobs(name, conn, event)

    def _drive_blobs(self, name: str, conn: Connection, event: ProtoEvent) -> None:
        blobs = self.blobs[name]
        if type(event) is BlobsAsked:
            conn.blobs_held(blobs.holdings(event.blobs))
        elif type(event) is BlobsHeld:
            blobs.on_held(conn, event.held)
        elif type(event) is NeedPart:
            data, done = blobs.read(event)
            conn.send_part(event, data, done=done)
        elif type(event) is PieceReceived:
            blobs.on_piece(event)
            conn.pieces_processed(1)

    def step(self) -> int:
        """One round: each side handles its events and sends; returns how many bytes moved."""
        moved = 0
        for name, conn, other in (("client", self.client, self.server), ("server", self.server, self.client)):
            if conn.state is not ConnectionState.CLOSED:
                self.drive(name)
            data = conn.data_to_send()
            if data:
                other.receive_data(data)
                moved += len(data)
                self.received["server" if name == "client" else "client"] += len(data)
        return moved

    def run(self, max_rounds: int = 10_000) -> None:
        """Step until nothing moves, moving the clock to the next deadline (notes waiting) when needed."""
        for _ in range(max_rounds):
            if self.step():
                continue
            deadlines = [
                d for c in (self.client, self.server) if c.state is ConnectionState.SYNCING and (d := c.next_deadline())
            ]
            if not deadlines:
                return
            self.now = max(self.now, min(deadlines))
        raise AssertionError("the conversation did not settle")


class _PairClock:
    """The clock of a :class:`ConnectionPair`'s connections: the pair's ``now``."""

    pair: ConnectionPair | None = None

    def __call__(self) -> float:
        return self.pair.now if self.pair is not None else 0.0


# ---- real homes and in-process nodes ---------------------------------------------------------------------------


def team_homes(base: Path, count: int, *, team_name: str = "Test team") -> list[Path]:
    """``count`` homes of one team under ``base``: the founder's, then members added by the founder. Every
    store starts with the founder's log, so every node knows the membership before its first sync."""
    from meshchat.profile import Profile

    homes = [base / "node0"]
    with Profile.init(homes[0], team_name, display_name="n0") as founder:
        for i in range(1, count):
            home = base / f"node{i}"
            with Profile.create_joining(home, founder.team_id, founder.team_name, founder.network_key) as member:
                founder.add_member(member.me, "member", f"n{i}")
            homes.append(home)
        raws = list(founder.store.iter_raw())
    for home in homes[1:]:
        with Profile.open(home) as member:
            member.store.accept_batch(raws)
    return homes


def author_home(
    home: Path, author: AuthorLog, *, network_key: bytes, raws: Iterable[bytes] = (), team_name: str = "Test team"
) -> Path:
    """A home for ``author`` (from a :class:`TestTeam`) whose store holds ``raws``: a node with a given history."""
    from meshchat.identity import save_identity
    from meshchat.profile import IDENTITY_FILE, STORE_FILE
    from meshchat.store import Store

    home.mkdir(parents=True, mode=0o700)
    save_identity(author.identity, home / IDENTITY_FILE)
    with Store.create(home / STORE_FILE, author.team_id) as store:
        store.set_meta("network_key", network_key)
        store.set_meta("team_name", team_name)
        batch: list[bytes] = []
        for raw in raws:
            batch.append(raw)
            if len(batch) == 5000:
                store.accept_batch(batch)
                batch = []
        store.accept_batch(batch)
    return home


def damage_database(path: Path, *, at: float = 0.5, pages: int = 2, seed: int = 0, table: str | None = None) -> None:
    """Overwrite ``pages`` pages of an SQLite file with noise, starting at fraction ``at`` of the file: what a
    failing disk or a half-copied file leaves. With ``table``, the pages are leaf pages of that table, from
    fraction ``at`` of them (so the damage lands among its rows whatever else the schema holds). The file must
    be closed (its write-ahead log folded in)."""
    import random
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True)) as db:
        page = int(db.execute("PRAGMA page_size").fetchone()[0])
        if table is None:
            count = path.stat().st_size // page
            first = max(2, int(count * at) + 1)  # 1-based; never page 1: it holds the header and the schema
            numbers = list(range(first, first + pages))
        else:
            leaves = [
                int(row[0])
                for row in db.execute(
                    "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY path", (table,)
                )
            ]
            start = min(int(len(leaves) * at), len(leaves) - pages)
            numbers = leaves[start : start + pages]
    rng = random.Random(seed)
    with path.open("r+b") as f:
        for number in numbers:
            f.seek((number - 1) * page)
            f.write(rng.randbytes(page))


def cli_commands() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every command a person can run (``incident open``, ``members``, ``members add``, ...) and its parser."""
    from meshchat.cli.main import build_parser

    commands: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        if path and parser.get_default("handler") is not None:
            commands[path] = parser
        for action in parser._actions:  # argparse has no public way to list subparsers
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*path, name))

    walk(build_parser(), ())
    return commands


def catch_up_homes(base: Path, entries: int, *, authors: int = 5) -> tuple[Path, Path]:
    """Two homes of one team under ``base``: ``source``, the founder's, holding a busy history of about
    ``entries`` entries (:func:`synthetic_history`), and ``newcomer``, a member whose store holds only the
    founder's log. Linking the newcomer's node to the source's runs a catch-up of the whole history."""
    team = synthetic_history(entries, authors=authors)
    newcomer = team.add_member()
    key = secrets.token_bytes(32)
    source = author_home(base / "source", team.founder, network_key=key, raws=[e.raw for e in team.all_entries()])
    late = author_home(base / "newcomer", newcomer, network_key=key, raws=[e.raw for e in team.founder.entries])
    return source, late


def run_cli(
    home: Path, *args: str, ok: bool = True, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``meshchat ARGS`` in a new process on ``home``, as a person runs it (``env``: more environment, e.g. a
    faked clock). Whatever the outcome, a person is never shown a traceback; with ``ok`` the command must
    succeed."""
    environment = {**os.environ, **(env or {}), "MESHCHAT_HOME": str(home)}
    command = [sys.executable, "-m", "meshchat.cli.main", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout, check=False)
    if ok:
        assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result


class NodeProcess:
    """A ``meshchat node`` process on 127.0.0.1, started by :func:`node_process`. It listens on a port the
    kernel picked (no free-port guess that another process can take first); its log is read as it is written,
    so a chatty node never blocks on a full pipe."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.log: list[str] = []
        self._listening = threading.Event()
        self.port = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if found and not self.port:
                self.port = int(found.group(1))
                self._listening.set()
        self._listening.set()  # it exited: stop waiting

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, where it listens (after :meth:`wait_listening`)."""
        if not self.port:
            raise RuntimeError("not listening yet: wait_listening() first")
        return f"127.0.0.1:{self.port}"

    def wait_listening(self, timeout: float = 30.0) -> int:
        """The port it listens on, once it does; raises if it exits or takes longer than ``timeout``."""
        if not self._listening.wait(timeout) or not self.port:
            raise RuntimeError("the node did not start listening:\n" + "".join(self.log))
        return self.port

    @property
    def returncode(self) -> int | None:
        """Its exit status once it ended (0: stopped cleanly), else None."""
        return self.process.poll()

    def kill(self) -> None:
        """SIGKILL: the node dies at once, mid-write, as on a power cut."""
        self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 15.0) -> str:
        """SIGTERM, as a service manager sends it; returns the node's log. Killed if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout)
        return "".join(self.log)


@contextmanager
def node_process(
    home: Path,
    *peers: str,
    listen: str = "127.0.0.1:0",
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[NodeProcess]:
    """``meshchat node`` on ``home``, listening on ``listen`` (by default a port the kernel picks: read it from
    :attr:`NodeProcess.address` after :meth:`NodeProcess.wait_listening`), with no discovery, dialling ``peers``
    ("host:port"); stopped (SIGTERM) when the block ends. ``extra``: more arguments for ``meshchat node``;
    ``env``: the process's whole environment (the test's by default)."""
    command = [sys.executable, "-m", "meshchat", "--home", str(home), "node", "--no-discovery"]
    command += ["--listen", listen, *extra]
    for peer in peers:
        command += ["--peer", peer]
    popen = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=None if env is None else dict(env)
    )
    node = NodeProcess(popen)
    try:
        yield node
    finally:
        node.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now, for an address that must be known before its listener starts
    (an invite code names it; a node restarted mid-test keeps it). Another process may take it in between:
    where the listener may pick its own port, listen on ``127.0.0.1:0`` and ask it instead."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


LOOPBACK = ("127.0.0.1", 0)  # listen on loopback, on a port the kernel picks


def loopback_config(
    peers: tuple[tuple[str, int], ...] = (), *, listen: tuple[str, int] | None = LOOPBACK
) -> NodeConfig:
    """A node for tests on 127.0.0.1: no discovery (no multicast off this machine), quick polling, and
    network deadlines short enough that a test sees a cut link, a redial or a refusal within a second or so."""
    from meshchat.net.link import LinkSettings
    from meshchat.net.peers import NetSettings
    from meshchat.node import NodeConfig

    quick = NetSettings(
        link=LinkSettings(handshake_timeout=0.5, keepalive=1.0, idle_timeout=3.0),
        backoff_initial=0.05,
        backoff_max=0.2,
        connect_timeout=1.0,
    )
    return NodeConfig(listen=listen, peers=peers, discovery=False, poll_interval=0.05, net=quick)


@asynccontextmanager
async def running_node(home: Path, config: NodeConfig | None = None) -> AsyncIterator[Node]:
    """A node running in the current trio run until the block ends; then stopped and closed."""
    from meshchat.node import Node

    node = Node.open(home, config)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            yield node
            nursery.cancel_scope.cancel()
    finally:
        node.close()


@asynccontextmanager
async def running_nodes(
    homes: Sequence[Path], config: NodeConfig | None = None
) -> AsyncIterator[tuple[trio.Nursery, list[Node]]]:
    """Nodes on ``homes`` (default: no network but what the test links, quick polling), and a nursery for
    their links (``link_nodes``), until the block ends."""
    from meshchat.node import NodeConfig

    config = config or NodeConfig(discovery=False, poll_interval=0.05)
    async with contextlib.AsyncExitStack() as stack:
        nodes = [await stack.enter_async_context(running_node(home, config)) for home in homes]
        nursery = await stack.enter_async_context(trio.open_nursery())
        yield nursery, nodes
        nursery.cancel_scope.cancel()


E = TypeVar("E")


async def next_event(
    events: trio.MemoryReceiveChannel[Any],
    kind: type[E],
    where: Callable[[E], object] = lambda event: True,
    timeout: float = 5.0,
) -> E:
    """The next event of ``kind`` (that ``where`` accepts) from a node's subscription, skipping others;
    ``trio.TooSlowError`` after ``timeout`` seconds."""
    with trio.fail_after(timeout):
        async for event in events:
            if isinstance(event, kind) and where(event):
                return event
    raise AssertionError(f"the subscription closed before a {kind.__name__}")


def drain_events(events: trio.MemoryReceiveChannel[NodeEvent], into: list[NodeEvent]) -> list[NodeEvent]:
    """Move what a node's event subscription holds now into ``into``; returns ``into`` (for a condition such as
    ``lambda: any(... for e in drain_events(events, seen))``)."""
    while True:
        try:
            into.append(events.receive_nowait())
        except trio.WouldBlock:
            return into


class Pipe:
    """One direction of an in-memory link that behaves like a slow TCP connection: ``send_all`` returns once
    its bytes fit in a send buffer of ``buffer`` bytes (as a kernel's socket buffer), and the bytes reach the
    other end at ``rate`` bytes per second (``None``: at once). Counts what it carries (``carried``).

    Its pump runs in the nursery given to :func:`stream_pair`; virtual time (``MockClock``) makes a link of
    9.6 kbit/s cost milliseconds of a test."""

    def __init__(self, rate: float | None, buffer: int) -> None:
        self.rate = rate
        self.capacity = buffer
        self.carried = 0
        self._queued = bytearray()  # sent, not yet on the wire
        self._arrived = bytearray()  # on the other side, not yet read
        self._closed = False  # the sender closed its side: EOF once the queue drains
        self._gone = False  # the receiver closed its side: sending fails
        self._changed = trio.Event()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[await self.send_some(view) :]

    async def send_some(self, data: bytes | bytearray | memoryview) -> int:
        """Queue what the send buffer has room for, waiting only until it has some, as a socket's ``send``
        does; returns the bytes taken."""
        while True:
            if self._gone or self._closed:
                raise trio.BrokenResourceError("the other side is closed")
            room = self.capacity - len(self._queued) if self.rate is not None else len(data)
            if room > 0 or not data:
                break
            await self._changed.wait()
        taken = min(room, len(data))
        self._queued += data[:taken]
        self._wake()
        await trio.lowlevel.checkpoint()
        return taken

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        while not self._arrived and not (self._closed and not self._queued) and not self._gone:
            await self._changed.wait()
        size = len(self._arrived) if max_bytes is None else min(max_bytes, len(self._arrived))
        out = bytes(self._arrived[:size])
        del self._arrived[:size]
        await trio.lowlevel.checkpoint()
        return out

    def close_send(self) -> None:
        self._closed = True
        self._wake()

    def close_receive(self) -> None:
        self._gone = True
        self._wake()

    async def pump(self) -> None:
        """Move queued bytes to the other side at the pipe's rate, a packet (1,448 bytes) at a time."""
        while True:
            if not self._queued:
                if self._closed or self._gone:
                    return
                await self._changed.wait()
                continue
            size = len(self._queued) if self.rate is None else min(1448, len(self._queued))
            packet = bytes(self._queued[:size])
            if self.rate is not None:
                await trio.sleep(size / self.rate)
            del self._queued[:size]
            self._arrived += packet
            self.carried += size
            self._wake()


class PipeStream(trio.abc.HalfCloseableStream):
    """One end of :func:`stream_pair`: sends into one :class:`Pipe`, receives from the other."""

    def __init__(self, outgoing: Pipe, incoming: Pipe) -> None:
        self.outgoing = outgoing
        self.incoming = incoming

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.outgoing.send_all(data)

    async def send_some(self, data: bytes | bytearray | memoryview) -> int:
        """What a socket's ``send`` does (``meshchat.net.sending``): take what fits, at least one byte."""
        return await self.outgoing.send_some(data)

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def send_eof(self) -> None:
        self.outgoing.close_send()
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return await self.incoming.receive_some(max_bytes)

    async def aclose(self) -> None:
        self.outgoing.close_send()
        self.incoming.close_receive()
        await trio.lowlevel.checkpoint()


def stream_pair(
    nursery: trio.Nursery, rate: float | None = None, *, buffer: int = 16_384
) -> tuple[PipeStream, PipeStream]:
    """Two connected in-memory streams; each direction carries ``rate`` bytes/s (``None``: unlimited) through
    a send buffer of ``buffer`` bytes, and counts its bytes (``stream.incoming.carried``: what an end received)."""
    forth, back = Pipe(rate, buffer), Pipe(rate, buffer)
    nursery.start_soon(forth.pump)
    nursery.start_soon(back.pump)
    return PipeStream(forth, back), PipeStream(back, forth)


@dataclass
class MemoryLink:
    """A link between two in-process nodes (see :func:`link_nodes`): ``cancel`` cuts it; each end's stream
    counts what that end received (``a_end.incoming.carried``)."""

    scope: trio.CancelScope
    a_end: PipeStream
    b_end: PipeStream

    def cancel(self) -> None:
        self.scope.cancel()


def link_nodes(nursery: trio.Nursery, a: Node, b: Node, *, rate: float | None = None) -> MemoryLink:
    """Link two running in-process nodes through an in-memory stream pair (``a`` dials) that carries ``rate``
    bytes/s each way (``None``: unlimited)."""
    scope = trio.CancelScope()
    a_end, b_end = stream_pair(nursery, rate)

    async def run() -> None:
        with scope:
            async with trio.open_nursery() as inner:
                inner.start_soon(partial(a.connect, a_end, outgoing=True, address="memory"))
                inner.start_soon(partial(b.connect, b_end, outgoing=False, address="memory"))

    nursery.start_soon(run)
    return MemoryLink(scope, a_end, b_end)


def virtual_clock(monkeypatch: pytest.MonkeyPatch) -> trio.testing.MockClock:
    """Virtual time that jumps whenever every task waits, for tests that run whole nodes over memory streams
    (``link_nodes``): minutes of backoff, keepalives and slow links in milliseconds. Work in a worker thread
    would let it jump while the thread works (real milliseconds, virtual seconds), so the nodes' writes (a
    peer's batch, a post, the search indexer: ``meshchat.writer``) and the parts of files they receive
    (``meshchat.blobs.service``) are stored on the trio thread instead. Then ``wait_all_tasks_blocked`` also
    means "every write is done". Tests take it as the ``mock_clock`` fixture (tests/conftest.py)."""
    from meshchat.blobs import service
    from meshchat.writer import Writer

    monkeypatch.setattr(Writer, "threaded", False)
    monkeypatch.setattr(service, "INLINE_PART_BYTES", 10**12)
    return trio.testing.MockClock(autojump_threshold=0)


async def wait_until(condition: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """In a trio test: poll ``condition`` every 10 ms (of the test's clock, virtual or not) until it holds;
    ``trio.TooSlowError`` naming ``what`` after ``timeout`` seconds. To show that something does *not*
    happen, do not wait a while and look: let every task settle (``trio.testing.wait_all_tasks_blocked``), or
    jump a virtual clock past the moment it would have happened (:func:`virtual_clock`)."""
    try:
        with trio.fail_after(timeout):
            while not condition():
                await trio.sleep(0.01)
    except trio.TooSlowError:
        raise trio.TooSlowError(f"timed out after {timeout:g} s waiting for {what or condition}") from None


def wait_until_sync(condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> float:
    """Outside trio (a test of processes, a thread): poll ``condition`` every 50 ms of real time until it holds;
    returns the seconds it took. ``AssertionError`` naming ``what`` after ``timeout`` seconds."""
    started = time.monotonic()
    while not condition():
        waited = time.monotonic() - started
        if waited > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or condition}")
        time.sleep(0.05)
    return time.monotonic() - started


def room_texts(node: Node, room: str = "general") -> list[str]:
    """The texts of a room's messages as the node shows them, oldest first."""
    return [m.text for m in node.views.messages(node.profile.room(room).room, limit=10_000)]
