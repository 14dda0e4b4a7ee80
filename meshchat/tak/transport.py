"""How the bridge reaches TAK: a TAK server over TCP (plain, or TLS where a certificate is given: TAK Server's
streaming port takes client certificates), or the standard SA multicast group (239.2.3.1:6969) on one
interface, as ATAK devices on one network find each other without a server.

Either way the bridge sees a :class:`Link`: ``send(event)`` and ``events()``. Bytes from the network are
bounded (:mod:`meshchat.tak.stream` for TCP; a datagram is one event, at most ``MAX_EVENT`` bytes).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import trio

from meshchat.tak.cot import MAX_EVENT
from meshchat.tak.stream import CotStream

SA_GROUP = "239.2.3.1"  # ATAK's situational awareness group
SA_PORT = 6969
READ_SIZE = 65_536


class Link(Protocol):
    async def send(self, event: bytes) -> None: ...

    def events(self) -> AsyncIterator[bytes]: ...


@dataclass(frozen=True, slots=True)
class TakServer:
    host: str
    port: int
    tls: ssl.SSLContext | None = None

    def __str__(self) -> str:
        return f"{'tls' if self.tls else 'tcp'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TakMulticast:
    interface: str  # the IPv4 address of the interface to use (multicast never goes anywhere else)
    group: str = SA_GROUP
    port: int = SA_PORT
    ttl: int = 1  # this network only: routers do not forward it

    def __str__(self) -> str:
        return f"multicast {self.group}:{self.port} on {self.interface}"


Target = TakServer | TakMulticast


def tls_context(*, cert: Path | None, key: Path | None, ca: Path | None) -> ssl.SSLContext:
    """A client context: the server is checked against ``ca`` (else the system's roots); ``cert`` (and its
    ``key``, if not in the same file) is our client certificate, which TAK Server's port 8089 asks for."""
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if cert is not None:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


@asynccontextmanager
async def open_link(target: Target) -> AsyncIterator[Link]:
    """Connect to ``target``; the link closes when the block ends. Raises OSError when it cannot connect,
    ConnectionError (an OSError) saying why when the TLS handshake fails (trio reports that as a broken
    stream, which would otherwise pass for a bug and end the bridge)."""
    if isinstance(target, TakServer):
        stream: trio.abc.Stream = await trio.open_tcp_stream(target.host, target.port)
        if target.tls is not None:
            tls = trio.SSLStream(stream, target.tls, server_hostname=target.host)
            try:
                await tls.do_handshake()
            except trio.BrokenResourceError as exc:
                await trio.aclose_forcefully(stream)
                raise ConnectionError(f"the TLS handshake failed: {exc.__cause__ or 'the connection broke'}") from exc
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
            stream = tls
        async with stream:
            yield _StreamLink(stream)
    else:
        sock = await _multicast_socket(target)
        with sock:
            yield _MulticastLink(sock, target)


class _StreamLink:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.splitter = CotStream()
        self.sending = trio.Lock()

    async def send(self, event: bytes) -> None:
        async with self.sending:
            await self.stream.send_all(event)

    async def events(self) -> AsyncIterator[bytes]:
        while data := await self.stream.receive_some(READ_SIZE):
            for event in self.splitter.feed(data):
                yield event


class _MulticastLink:
    def __init__(self, sock: trio.socket.SocketType, target: TakMulticast) -> None:
        self.sock = sock
        self.target = target

    async def send(self, event: bytes) -> None:
        await self.sock.sendto(event, (self.target.group, self.target.port))

    async def events(self) -> AsyncIterator[bytes]:
        while True:
            data, _ = await self.sock.recvfrom(MAX_EVENT + 1)
            if len(data) <= MAX_EVENT:
                yield data


async def _multicast_socket(target: TakMulticast) -> trio.socket.SocketType:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        await sock.bind((target.group, target.port))  # only this group's datagrams, not every one to the port
        interface = socket.inet_aton(target.interface)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(target.group) + interface)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, interface)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, target.ttl)
    except BaseException:
        sock.close()
        raise
    return sock
