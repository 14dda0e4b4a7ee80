"""A small network of Linux network namespaces, created by a test and removed after it.

Each host is a namespace with one interface ``eth0`` (a veth pair) plugged into a bridge that lives in a
namespace of its own (the "switch"), so nothing is added to the machine's real network: multicast (mDNS)
stays on the lab's bridge. Addresses are private (10.x/24) and exist only inside the namespaces.

Needs root (``ip netns``). Tests that use it skip, naming the reason, when the machine cannot make namespaces.

Linux keeps one ARP table for every namespace together: a lab of many hosts that all talk to each other
needs :func:`neighbour_room` (see there), or the kernel drops its packets.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

NEIGHBOUR_LIMITS = Path("/proc/sys/net/ipv4/neigh/default")


class LabUnavailable(Exception):
    """This machine cannot create network namespaces (not root, or no iproute2)."""


def lab_unavailable_reason() -> str | None:
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    probe = f"mcprobe{secrets.token_hex(3)}"
    try:
        subprocess.run(["ip", "netns", "add", probe], check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        return f"'ip netns add' failed: {exc.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False, capture_output=True)
    return None


@contextmanager
def neighbour_room(entries: int) -> Iterator[None]:
    """Let the kernel's ARP table hold ``entries`` neighbours while the block runs, then put its limits back.

    Linux keeps one ARP table for all network namespaces, and its limits (``gc_thresh1..3``, 128 / 512 / 1024
    by default) count every namespace's entries together. Forty lab hosts that each exchange packets with the
    39 others (links, or unicast mDNS answers) need 1,560 entries: beyond ``gc_thresh3`` the kernel cannot
    resolve a neighbour ("neighbour table overflow!" in ``dmesg``, ``table_fulls`` in ``ip -s ntable``) and
    drops the packet, so links stall for a TCP retransmission timeout or fall silent. A LAN of forty
    laptops, each with a table of its own, never does this. The limits are only ever raised here.
    """
    names = ("gc_thresh1", "gc_thresh2", "gc_thresh3")
    before = {name: int((NEIGHBOUR_LIMITS / name).read_text()) for name in names}
    wanted = dict(zip(names, (entries, 2 * entries, 4 * entries), strict=True))
    raised = [name for name in names if wanted[name] > before[name]]
    try:
        for name in reversed(raised):  # the highest first: thresh1 <= thresh2 <= thresh3 all along
            (NEIGHBOUR_LIMITS / name).write_text(str(wanted[name]))
        yield
    finally:
        for name in raised:
            (NEIGHBOUR_LIMITS / name).write_text(str(before[name]))


def arp_table_fulls() -> int:
    """How many times the kernel's (one, shared) ARP table has been full since boot: each time a packet to a
    neighbour it could not add was dropped."""
    out = subprocess.run(
        ["ip", "-s", "ntable", "show", "name", "arp_cache"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"table_fulls (\d+)", out)
    return int(found.group(1)) if found else 0


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")


@dataclass
class Host:
    name: str
    netns: str
    ip: str
    veth_switch_end: str

    def argv(self, *command: str) -> list[str]:
        """A command line that runs ``command`` inside this host's namespace."""
        return ["ip", "netns", "exec", self.netns, *command]


@dataclass
class NetLab:
    """Use as a context manager: every namespace and process is removed on exit, even after a failure."""

    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: int = field(default_factory=lambda: 100 + secrets.randbelow(100))
    hosts: dict[str, Host] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def switch(self) -> str:
        return f"mcsw{self.tag}"

    def __enter__(self) -> NetLab:
        reason = lab_unavailable_reason()
        if reason:
            raise LabUnavailable(reason)
        _run("ip", "netns", "add", self.switch)
        _run("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", self.switch, "link", "set", "br0", "up")
        _run("ip", "-n", self.switch, "link", "set", "lo", "up")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def add_host(self, name: str) -> Host:
        index = len(self.hosts) + 1
        netns = f"mc{self.tag}{name}"
        outer = f"v{self.tag}{index}"  # interface names are at most 15 characters
        host = Host(name, netns, f"10.{self.subnet}.0.{index}", outer)
        _run("ip", "netns", "add", netns)
        self.hosts[name] = host
        _run("ip", "link", "add", "eth0", "netns", netns, "type", "veth", "peer", "name", outer, "netns", self.switch)
        _run("ip", "-n", self.switch, "link", "set", outer, "master", "br0")
        _run("ip", "-n", self.switch, "link", "set", outer, "up")
        _run("ip", "-n", netns, "addr", "add", f"{host.ip}/24", "dev", "eth0")
        _run("ip", "-n", netns, "link", "set", "eth0", "multicast", "on")
        _run("ip", "-n", netns, "link", "set", "eth0", "up")
        _run("ip", "-n", netns, "link", "set", "lo", "up")
        _run("ip", "-n", netns, "route", "add", "224.0.0.0/4", "dev", "eth0")
        return host

    def add_address(self, host: Host, last_octet: int) -> str:
        """Give ``host`` one more address on its subnet (e.g. to act as many LAN hosts at once); returns it."""
        ip = f"10.{self.subnet}.0.{last_octet}"
        _run("ip", "-n", host.netns, "addr", "add", f"{ip}/24", "dev", "eth0")
        return ip

    def add_private_interface(self, host: Host, name: str, cidr: str) -> None:
        """Give ``host`` a second interface that leads nowhere (as a VPN or container bridge would), with
        multicast on, so that it is one more interface a node could advertise on."""
        _run("ip", "-n", host.netns, "link", "add", name, "type", "bridge")  # no ports: it leads nowhere
        _run("ip", "-n", host.netns, "addr", "add", cidr, "dev", name)
        _run("ip", "-n", host.netns, "link", "set", name, "multicast", "on")
        _run("ip", "-n", host.netns, "link", "set", name, "up")

    def start(self, host: Host, *command: str, **popen: object) -> subprocess.Popen[bytes]:
        """Start ``command`` inside ``host``; it is killed when the lab closes."""
        proc = subprocess.Popen(host.argv(*command), start_new_session=True, **popen)  # type: ignore[call-overload]
        self.processes.append(proc)
        return proc

    def cut(self, host: Host) -> None:
        """Unplug a host from the switch (its link goes down, as when Wi-Fi drops)."""
        _run("ip", "-n", self.switch, "link", "set", host.veth_switch_end, "down")

    def restore(self, host: Host) -> None:
        _run("ip", "-n", self.switch, "link", "set", host.veth_switch_end, "up")

    def rate_limit(self, host: Host, kbit: int) -> None:
        """Limit what ``host`` sends to ``kbit`` kbit/s (token bucket; netem is not available here)."""
        _run(
            "ip",
            "netns",
            "exec",
            host.netns,
            "tc",
            "qdisc",
            "replace",
            "dev",
            "eth0",
            "root",
            "tbf",
            "rate",
            f"{kbit}kbit",
            "burst",
            "16kbit",
            "latency",
            "400ms",
        )

    def unlimit(self, host: Host) -> None:
        """Remove a rate limit set by :meth:`rate_limit`."""
        subprocess.run(host.argv("tc", "qdisc", "del", "dev", "eth0", "root"), capture_output=True, check=False)

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        self.processes.clear()
        for host in self.hosts.values():
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True, check=False)
        self.hosts.clear()
        subprocess.run(["ip", "netns", "del", self.switch], capture_output=True, check=False)
