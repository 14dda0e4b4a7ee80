"""TAK for tests: a real TAK server written by others (taky 0.10) run on 127.0.0.1 by the test, and a CoT
client standing in for an ATAK user (it sends what ATAK sends and keeps what it receives)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from meshchat.tak import cot
from meshchat.tak.cot import CotEvent, Place
from meshchat.tak.stream import CotStream
from meshchat.testing import free_port, wait_until_sync

TAKY_CONFIG = """[taky]
hostname = taky.test
node_id = TAKYTEST
bind_ip = 127.0.0.1
public_ip = 127.0.0.1
redis = false
root_dir = {root}

[cot_server]
port = {port}
cot_log =

[ssl]
enabled = false
"""

TAKY_TLS = """enabled = true
client_cert_required = true
ca = {ca}
cert = {cert}
key = {key}
"""


@dataclass(frozen=True)
class TakyTls:
    """The files of taky's TLS port: the CA it checks clients against, its own certificate and key."""

    ca: Path
    cert: Path
    key: Path


@contextmanager
def taky_server(root: Path, tls: TakyTls | None = None) -> Iterator[int]:
    """taky listening on 127.0.0.1 (a free port, which it yields) until the block ends; with ``tls``, on TLS
    only, and every client must present a certificate of ``tls.ca`` (as on TAK Server's port 8089)."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = root / "taky.conf"
    text = TAKY_CONFIG.format(root=root, port=port)
    if tls is not None:
        text = text.replace("enabled = false\n", TAKY_TLS.format(ca=tls.ca, cert=tls.cert, key=tls.key))
    config.write_text(text)
    mode = "tcp" if tls is None else "ssl"
    log = (root / "taky.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "taky.cot", "-c", str(config), "-l", "debug"],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def listening() -> bool:
            log_text = (root / "taky.log").read_text()
            assert server.poll() is None, log_text
            # taky says it listens just before it does: a connection must get through too
            return f"Listening for {mode} on 127.0.0.1:{port}" in log_text and _accepts(port)

        wait_until_sync(listening, 30, what="taky to accept connections")
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError:
        return False
    return True


@dataclass
class AtakStandIn:
    """A TAK user's device: connects to the server, says who it is (a PLI, as ATAK does on connect), and keeps
    every event it receives."""

    uid: str = "ANDROID-5e2b0a77c1f3"
    callsign: str = "ALPHA-1"
    place: Place = field(default_factory=lambda: Place(52.1003, 5.1301, 8.0, 12.0))
    received: list[CotEvent] = field(default_factory=list)
    stream: trio.abc.Stream | None = None

    async def connect(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        stream: trio.abc.Stream = await trio.open_tcp_stream("127.0.0.1", port)
        if tls is not None:
            stream = trio.SSLStream(stream, tls, server_hostname="127.0.0.1")
            await stream.do_handshake()
        self.stream = stream

    async def send(self, event: bytes) -> None:
        assert self.stream is not None
        await self.stream.send_all(event)

    async def announce(self, now_ms: int) -> None:
        """ATAK's PLI: its position, callsign and team."""
        await self.send(
            cot.pli(
                uid=self.uid,
                callsign=self.callsign,
                place=self.place,
                time_ms=now_ms,
                stale_ms=now_ms + 120_000,
                now_ms=now_ms,
                colour="Red",
                gps=True,
                course=180.0,
                speed=1.2,
            ).replace(b"<detail>", b'<detail><takv os="34" version="4.10.0" device="SM-G990" platform="ATAK-CIV"/>')
        )

    async def chat(self, text: str, now_ms: int, message_id: str) -> None:
        """A GeoChat to All Chat Rooms, as ATAK sends one."""
        await self.send(
            cot.geochat(
                message_uid=f"GeoChat.{self.uid}.All Chat Rooms.{message_id}",
                sender_uid=self.uid,
                sender_callsign=self.callsign,
                text=text,
                place=self.place,
                now_ms=now_ms,
                stale_ms=now_ms + 86_400_000,
            )
        )

    async def listen(self) -> None:
        assert self.stream is not None
        splitter = CotStream()
        async for data in self.stream:
            for raw in splitter.feed(data):
                self.received.append(cot.read_event(raw))

    def seen(self, uid_prefix: str = "", cot_type: str = "") -> list[CotEvent]:
        return [e for e in self.received if e.uid.startswith(uid_prefix) and e.type.startswith(cot_type)]
