"""Finding peers on the LAN with zeroconf (mDNS / DNS-SD): a thin adapter from zeroconf's thread to trio.

Each node advertises ``_meshchat._tcp.local.`` under a random instance name chosen per run. The TXT record
carries only a version and a short tag, a keyed BLAKE2b of the current hour under the team's network key. So
an onlooker learns no names and no team, cannot link one team's sightings across hours, and a node only
dials advertisements of its own team (tags of the previous and next hour are accepted too, for clock skew).

zeroconf runs its own thread. Its callbacks hand service names to trio through a ``TrioToken``; trio resolves
them in a worker thread and emits :class:`PeerSeen` / :class:`PeerLost`. Everything read from the network is
untrusted: bounded, validated, and at worst ignored. A forged advertisement can make us dial an address; the
handshake then fails, and the peer manager backs off.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

import trio
from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

log = logging.getLogger(__name__)

SERVICE_TYPE = "_meshchat._tcp.local."
TXT_VERSION = b"1"
TAG_CONTEXT = b"meshchat/v1/discovery-tag"
TAG_BYTES = 8
RESOLVE_TIMEOUT_MS = 3000
MAX_PENDING = 256  # service names waiting to be resolved; more are dropped (a flood is not our problem)


def discovery_tag(network_key: bytes, hour: int) -> str:
    """The TXT tag for ``hour`` (hours since the epoch): 16 hex digits that only the team can compute."""
    mac = hashlib.blake2b(TAG_CONTEXT + hour.to_bytes(8, "big"), key=network_key, digest_size=TAG_BYTES)
    return mac.hexdigest()


def current_hour(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 3600)


def tag_is_ours(network_key: bytes, tag: str, now: float | None = None) -> bool:
    """Whether ``tag`` was made with our network key this hour, the last or the next (clock skew)."""
    hour = current_hour(now)
    return any(hmac.compare_digest(tag, discovery_tag(network_key, h)) for h in (hour - 1, hour, hour + 1))


@dataclass(frozen=True, slots=True)
class PeerSeen:
    """An advertisement of our team: a node reachable at one of ``addresses`` on ``port``."""

    instance: str
    addresses: tuple[str, ...]
    port: int


@dataclass(frozen=True, slots=True)
class PeerLost:
    """The node behind ``instance`` said goodbye (or its advertisement expired)."""

    instance: str


DiscoveryEvent = PeerSeen | PeerLost


def peer_from_info(
    info: ServiceInfo, network_key: bytes, own_instance: str, now: float | None = None
) -> PeerSeen | None:
    """Validate a resolved advertisement; ``None`` unless it is another node of our team."""
    if info.name == own_instance:
        return None
    properties = info.properties or {}
    if properties.get(b"v") != TXT_VERSION:
        return None
    tag = properties.get(b"t")
    if not isinstance(tag, bytes) or len(tag) != 2 * TAG_BYTES:
        return None
    try:
        tag_text = tag.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not tag_is_ours(network_key, tag_text, now):
        return None
    port = info.port
    if not isinstance(port, int) or not 0 < port < 65536:
        return None
    addresses = []
    for text in info.parsed_addresses(IPVersion.V4Only)[:8]:
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            continue
        if not (address.is_unspecified or address.is_multicast):
            addresses.append(str(address))
    if not addresses:
        return None
    return PeerSeen(info.name, tuple(addresses), port)


class Discovery:
    """Advertise this node and report the team's other nodes. Run :meth:`run` in a nursery."""

    def __init__(
        self,
        network_key: bytes,
        port: int,
        *,
        addresses: Sequence[str],
        interfaces: Sequence[str] | None = None,
    ) -> None:
        self.network_key = network_key
        self.port = port
        self.addresses = list(addresses)
        self.interfaces = list(interfaces) if interfaces is not None else None
        self.instance = f"{secrets.token_hex(6)}.{SERVICE_TYPE}"
        self._hour = current_hour()
        self._reported: set[str] = set()  # instances we announced with PeerSeen

    def _info(self) -> ServiceInfo:
        self._hour = current_hour()
        return ServiceInfo(
            SERVICE_TYPE,
            self.instance,
            port=self.port,
            properties={b"v": TXT_VERSION, b"t": discovery_tag(self.network_key, self._hour).encode()},
            parsed_addresses=self.addresses,
        )

    async def run(
        self,
        events: trio.MemorySendChannel[DiscoveryEvent],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Advertise, browse and report until cancelled; says goodbye on the way out."""
        token = trio.lowlevel.current_trio_token()
        names_in, names_out = trio.open_memory_channel[tuple[str, ServiceStateChange]](MAX_PENDING)

        def deliver(item: tuple[str, ServiceStateChange]) -> None:  # runs in trio, never raises
            with contextlib.suppress(trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
                names_in.send_nowait(item)

        def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
            with contextlib.suppress(trio.RunFinishedError):  # zeroconf's thread: hand over, return at once
                token.run_sync_soon(deliver, (name, state_change))

        interfaces = self.interfaces if self.interfaces is not None else None
        zc = await trio.to_thread.run_sync(lambda: Zeroconf(interfaces=interfaces) if interfaces else Zeroconf())
        browser: ServiceBrowser | None = None
        try:
            info = self._info()
            await trio.to_thread.run_sync(lambda: zc.register_service(info))
            browser = ServiceBrowser(zc, SERVICE_TYPE, handlers=[on_change])
            task_status.started()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._refresh_tag_hourly, zc)
                async for name, change in names_out:
                    if name == self.instance:
                        continue
                    if change is ServiceStateChange.Removed:
                        if name in self._reported:
                            self._reported.discard(name)
                            await events.send(PeerLost(name))
                    else:
                        nursery.start_soon(self._resolve, zc, name, events)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                if browser is not None:
                    await trio.to_thread.run_sync(browser.cancel)
                await trio.to_thread.run_sync(zc.unregister_all_services)
                await trio.to_thread.run_sync(zc.close)

    async def _resolve(self, zc: Zeroconf, name: str, events: trio.MemorySendChannel[DiscoveryEvent]) -> None:
        info = await trio.to_thread.run_sync(lambda: zc.get_service_info(SERVICE_TYPE, name, RESOLVE_TIMEOUT_MS))
        if info is None:
            return
        seen = peer_from_info(info, self.network_key, self.instance)
        if seen is not None:
            self._reported.add(name)
            await events.send(seen)
        else:
            log.debug("ignoring advertisement %s (not of our team)", name)

    async def _refresh_tag_hourly(self, zc: Zeroconf) -> None:
        while True:
            await trio.sleep(60)
            if current_hour() != self._hour:
                await trio.to_thread.run_sync(zc.update_service, self._info())


def local_ipv4_addresses() -> list[str]:
    """The machine's IPv4 addresses (loopback excluded), to advertise when listening on all interfaces."""
    import ifaddr

    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                address = ipaddress.IPv4Address(ip.ip)
                if not address.is_loopback and not address.is_link_local:
                    found.append(str(address))
    return found
