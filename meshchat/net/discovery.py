"""Finding peers on the LAN with zeroconf (mDNS / DNS-SD): a thin adapter from zeroconf's thread to trio.

Each node advertises ``_meshchat._tcp.local.`` once per network interface, with only that interface's
addresses (a VPN or container address is never announced on the LAN), under a random instance name and a
separate random host name (the SRV target), both chosen per advertisement. The TXT record carries a version, a
random nonce and a tag: a keyed BLAKE2b, under the team's network key, of the nonce, the port and the
advertised addresses. So:

- an onlooker learns no names and no team, and cannot link a node's restarts nor group one team's nodes: every
  advertisement has its own nonce, names and tag;
- a member recognises its team's advertisements (tags of every accepted key, during a rotation's grace period);
- a copied TXT record is worth nothing elsewhere: the tag covers where the node is, so it cannot send members
  to another address (and so reveal which hosts dial it); no clock is involved.

zeroconf runs its own threads. Its callbacks hand service names to trio through a ``TrioToken``; trio resolves
them in a worker thread and emits :class:`PeerSeen` / :class:`PeerLost`. Everything read from the network is
untrusted: bounded, validated, and at worst ignored. A forged advertisement (by someone holding the key) can
make us dial an address; the handshake then fails, and the peer manager backs off.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

import trio
from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

log = logging.getLogger(__name__)

SERVICE_TYPE = "_meshchat._tcp.local."
TXT_VERSION = b"2"
TAG_CONTEXT = b"meshchat/v2/discovery-tag"
TAG_BYTES = 8
NONCE_BYTES = 8
MAX_ADDRESSES = 8
RESOLVE_TIMEOUT_MS = 3000
MAX_PENDING = 256  # service names waiting to be resolved; more are dropped (a flood is not our problem)


def discovery_tag(network_key: bytes, nonce: bytes, port: int, addresses: Iterable[str]) -> str:
    """The TXT tag: 16 hex digits that only the team can compute, bound to this advertisement's nonce and to
    where it says the node is (port, IPv4 addresses in any order)."""
    packed = b"".join(sorted(ipaddress.IPv4Address(a).packed for a in addresses))
    data = TAG_CONTEXT + nonce + port.to_bytes(2, "big") + packed
    return hashlib.blake2b(data, key=network_key, digest_size=TAG_BYTES).hexdigest()


def tag_is_ours(
    network_keys: bytes | Sequence[bytes], tag: str, nonce: bytes, port: int, addresses: Sequence[str]
) -> bool:
    """Whether ``tag`` was made with one of our accepted keys for exactly this nonce, port and addresses."""
    keys = [network_keys] if isinstance(network_keys, bytes) else list(network_keys)
    return any(hmac.compare_digest(tag, discovery_tag(key, nonce, port, addresses)) for key in keys)


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


def peer_from_info(info: ServiceInfo, network_keys: bytes | Sequence[bytes], own: Iterable[str]) -> PeerSeen | None:
    """Validate a resolved advertisement; ``None`` unless it is another node of our team (``own``: the
    instance names of our own advertisements)."""
    if info.name in set(own):
        return None
    properties = info.properties or {}
    if properties.get(b"v") != TXT_VERSION:
        return None
    tag, nonce_hex = properties.get(b"t"), properties.get(b"n")
    if not isinstance(tag, bytes) or len(tag) != 2 * TAG_BYTES:
        return None
    if not isinstance(nonce_hex, bytes) or len(nonce_hex) != 2 * NONCE_BYTES:
        return None
    try:
        tag_text, nonce = tag.decode("ascii"), bytes.fromhex(nonce_hex.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    port = info.port
    if not isinstance(port, int) or not 0 < port < 65536:
        return None
    addresses = []
    for text in info.parsed_addresses(IPVersion.V4Only)[:MAX_ADDRESSES]:
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            return None
        if address.is_unspecified or address.is_multicast:
            return None
        addresses.append(str(address))
    if not addresses or not tag_is_ours(network_keys, tag_text, nonce, port, addresses):
        return None
    return PeerSeen(info.name, tuple(addresses), port)


@dataclass
class Advertisement:
    """What we announce on one interface: its addresses, under names and a nonce of its own."""

    addresses: tuple[str, ...]
    instance: str = field(default_factory=lambda: f"{secrets.token_hex(6)}.{SERVICE_TYPE}")
    host: str = field(default_factory=lambda: f"{secrets.token_hex(6)}.local.")
    nonce: bytes = field(default_factory=lambda: secrets.token_bytes(NONCE_BYTES))

    def info(self, network_key: bytes, port: int) -> ServiceInfo:
        tag = discovery_tag(network_key, self.nonce, port, self.addresses)
        return ServiceInfo(
            SERVICE_TYPE,
            self.instance,
            port=port,
            properties={b"v": TXT_VERSION, b"n": self.nonce.hex().encode(), b"t": tag.encode()},
            server=self.host,
            parsed_addresses=list(self.addresses),
        )


class Discovery:
    """Advertise this node on each interface and report the team's other nodes. Run :meth:`run` in a nursery."""

    def __init__(
        self,
        network_key: bytes | Callable[[], Sequence[bytes]],
        port: int,
        *,
        addresses: Sequence[str] = (),
        interfaces: Sequence[Sequence[str]] = (),
    ) -> None:
        """``network_key``: the key, or a function giving the accepted keys, current first (it follows key
        rotations: the advertisements are refreshed when the current key changes). ``interfaces``: the
        addresses of each interface to advertise on (one advertisement each); ``addresses``: those of a single
        interface."""
        self._keys: Callable[[], Sequence[bytes]] = (
            (lambda: (network_key,)) if isinstance(network_key, bytes) else network_key
        )
        self.port = port
        groups = [tuple(group) for group in interfaces if group] or ([tuple(addresses)] if addresses else [])
        if not groups:
            raise ValueError("nothing to advertise: no address")
        self.advertisements = [Advertisement(group) for group in groups]
        self._advertised_key = b""
        self._reported: set[str] = set()  # instances we announced with PeerSeen

    @property
    def instances(self) -> list[str]:
        return [ad.instance for ad in self.advertisements]

    @property
    def instance(self) -> str:
        """The first advertisement's instance name (for logs)."""
        return self.advertisements[0].instance

    @property
    def network_key(self) -> bytes:
        """The current network key: what we advertise with."""
        return self._keys()[0]

    def _infos(self) -> list[ServiceInfo]:
        self._advertised_key = self.network_key
        return [ad.info(self._advertised_key, self.port) for ad in self.advertisements]

    def _info(self, ad: Advertisement) -> ServiceInfo:
        return ad.info(self.network_key, self.port)

    async def run(
        self,
        events: trio.MemorySendChannel[DiscoveryEvent],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Advertise, browse and report until cancelled; says goodbye on the way out. One zeroconf instance per
        interface, each bound to it, so that each interface carries only its own advertisement."""
        token = trio.lowlevel.current_trio_token()
        names_in, names_out = trio.open_memory_channel[tuple[Zeroconf, str, ServiceStateChange]](MAX_PENDING)

        def deliver(item: tuple[Zeroconf, str, ServiceStateChange]) -> None:  # runs in trio, never raises
            with contextlib.suppress(trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
                names_in.send_nowait(item)

        def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
            with contextlib.suppress(trio.RunFinishedError):  # zeroconf's thread: hand over, return at once
                token.run_sync_soon(deliver, (zeroconf, name, state_change))

        instances: list[tuple[Zeroconf, Advertisement]] = []
        browsers: list[ServiceBrowser] = []
        try:
            failures = []
            for ad, info in zip(self.advertisements, self._infos(), strict=True):
                try:  # an interface without multicast (a VPN tunnel) must not take discovery down elsewhere
                    zc = await trio.to_thread.run_sync(partial(Zeroconf, interfaces=[ad.addresses[0]]))
                except OSError as exc:
                    failures.append(f"{ad.addresses[0]}: {exc}")
                    continue
                instances.append((zc, ad))
                await trio.to_thread.run_sync(zc.register_service, info)
            if not instances:
                raise OSError(f"no interface takes multicast ({'; '.join(failures)})")
            for failure in failures:
                log.warning("LAN discovery: not advertising on %s", failure)
            browsers = [ServiceBrowser(zc, SERVICE_TYPE, handlers=[on_change]) for zc, _ in instances]
            task_status.started()
            own = set(self.instances)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._refresh_on_rotation, instances)
                async for zc, name, change in names_out:
                    if name in own:
                        continue
                    if change is ServiceStateChange.Removed:
                        if name in self._reported:
                            self._reported.discard(name)
                            await events.send(PeerLost(name))
                    elif name not in self._reported:  # several interfaces may see one advertisement
                        nursery.start_soon(self._resolve, zc, name, events)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                for browser in browsers:
                    await trio.to_thread.run_sync(browser.cancel)
                for zc, _ in instances:
                    await trio.to_thread.run_sync(zc.unregister_all_services)
                    await trio.to_thread.run_sync(zc.close)

    async def _resolve(self, zc: Zeroconf, name: str, events: trio.MemorySendChannel[DiscoveryEvent]) -> None:
        info = await trio.to_thread.run_sync(lambda: zc.get_service_info(SERVICE_TYPE, name, RESOLVE_TIMEOUT_MS))
        if info is None or name in self._reported:
            return
        seen = peer_from_info(info, self._keys(), self.instances)
        if seen is not None:
            self._reported.add(name)
            await events.send(seen)
        else:
            log.debug("ignoring advertisement %s (not of our team)", name)

    async def _refresh_on_rotation(self, instances: list[tuple[Zeroconf, Advertisement]]) -> None:
        """A new tag whenever the network key is rotated."""
        while True:
            await trio.sleep(60)
            if self.network_key != self._advertised_key:
                self._advertised_key = self.network_key
                for zc, ad in instances:
                    await trio.to_thread.run_sync(zc.update_service, self._info(ad))


def interface_addresses() -> list[tuple[str, ...]]:
    """The IPv4 addresses of each interface (loopback and link-local excluded), to advertise on each only its
    own when listening on all interfaces."""
    import ifaddr

    groups = []
    for adapter in ifaddr.get_adapters():
        found = []
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                address = ipaddress.IPv4Address(ip.ip)
                if not address.is_loopback and not address.is_link_local:
                    found.append(str(address))
        if found:
            groups.append(tuple(found[:MAX_ADDRESSES]))
    return groups
