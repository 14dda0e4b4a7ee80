"""Discovery over real mDNS between network namespaces that the test creates (and removes)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from netlab import NetLab, lab_unavailable_reason

from meshchat.profile import Profile
from meshchat.testing import team_homes, wait_until_sync

pytestmark = pytest.mark.skipif(bool(lab_unavailable_reason()), reason=lab_unavailable_reason() or "")
PROBE = str(Path(__file__).parent / "discovery_probe.py")
CAPTURE = str(Path(__file__).parent / "mdns_capture.py")


def lines(proc: subprocess.Popen[bytes]) -> list[dict[str, object]]:
    out, _ = proc.communicate(timeout=30)
    return [json.loads(line) for line in out.decode().splitlines()]


def test_teammates_find_each_other_strangers_do_not() -> None:
    team, other = "11" * 32, "22" * 32
    with NetLab() as lab:
        a, b, c = lab.add_host("a"), lab.add_host("b"), lab.add_host("c")
        pa = lab.start(a, sys.executable, PROBE, team, a.ip, "7001", "9", stdout=subprocess.PIPE)
        pb = lab.start(b, sys.executable, PROBE, team, b.ip, "7002", "4", stdout=subprocess.PIPE)
        pc = lab.start(c, sys.executable, PROBE, other, c.ip, "7003", "9", stdout=subprocess.PIPE)
        seen_by_a, seen_by_b, seen_by_c = lines(pa), lines(pb), lines(pc)
    b_instance = seen_by_b[0]["advertising"]
    a_instance = seen_by_a[0]["advertising"]
    assert {"seen": b_instance, "addresses": [b.ip], "port": 7002} in seen_by_a
    assert {"seen": a_instance, "addresses": [a.ip], "port": 7001} in seen_by_b
    assert {"lost": b_instance} in seen_by_a, "b said goodbye when it stopped"
    assert seen_by_c == [seen_by_c[0]], "a node of another team sees nobody"
    assert not any(event.get("addresses") == [c.ip] for event in seen_by_a + seen_by_b)


# ---- whole nodes: `meshchat node` in each namespace, no --peer, nothing but discovery ---------------------

PORT = 7766


def cli(home: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "meshchat.cli.main", "--home", str(home), *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def start_node(lab: NetLab, host: object, home: Path, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return lab.start(
        host,  # type: ignore[arg-type]
        sys.executable,
        "-m",
        "meshchat.cli.main",
        "--home",
        str(home),
        "node",
        "--listen",
        f"0.0.0.0:{PORT}",
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def test_three_nodes_discover_and_converge_ignoring_strangers_and_forgeries(tmp_path: Path) -> None:
    homes = team_homes(tmp_path / "team", 3)
    stranger = team_homes(tmp_path / "other", 1, team_name="Other team")[0]
    with Profile.open(homes[0]) as founder:
        network_key = founder.network_key.hex()
    with NetLab() as lab:
        hosts = [lab.add_host(name) for name in ("a", "b", "c")]
        s_host, f_host = lab.add_host("s"), lab.add_host("f")
        for i, (host, home) in enumerate(zip(hosts, homes, strict=True)):
            start_node(lab, host, home, tmp_path / f"node{i}.log")
        start_node(lab, s_host, stranger, tmp_path / "stranger.log")
        # A forged advertisement of our team (someone who learned the key) pointing at a closed port.
        lab.start(f_host, sys.executable, PROBE, network_key, f_host.ip, "9", "60", stdout=subprocess.DEVNULL)
        for i, home in enumerate(homes):
            cli(home, "post", "general", f"hello from node {i}")

        def converged() -> bool:
            logs = [cli(home, "log", "general") for home in homes]
            return all(f"hello from node {i}" in text for text in logs for i in range(3))

        wait_until_sync(converged, 40, "three nodes to converge through discovery alone")
        for home, host in zip(homes, hosts, strict=True):
            lines = cli(home, "peers").splitlines()
            for other in hosts:
                if other is not host:
                    assert any(other.ip in line and "discovery" in line and "live" in line for line in lines), lines
            assert not any(s_host.ip in line for line in lines), "the other team's node is never dialled"
            assert not any(f_host.ip in line and "live" in line for line in lines), "the forgery never links"
        assert "hello from node" not in cli(stranger, "log", "general")
        # the forged advertisement was dialled and failed; the node kept serving: a late post still spreads
        cli(homes[2], "post", "general", "still here")
        wait_until_sync(lambda: "still here" in cli(homes[0], "log", "general"), 10, "a post after the forgery")


def test_a_peer_that_leaves_and_comes_back_reconnects_within_10_s(tmp_path: Path) -> None:
    homes = team_homes(tmp_path / "team", 2)
    with NetLab() as lab:
        a, b = lab.add_host("a"), lab.add_host("b")
        start_node(lab, a, homes[0], tmp_path / "a.log")
        node_b = start_node(lab, b, homes[1], tmp_path / "b1.log")
        cli(homes[1], "post", "general", "first")
        wait_until_sync(lambda: "first" in cli(homes[0], "log", "general"), 30, "the first sync")
        node_b.send_signal(signal.SIGTERM)
        node_b.wait(timeout=10)
        wait_until_sync(
            lambda: f"{b.ip}" not in cli(homes[0], "peers") or "live" not in cli(homes[0], "peers"),
            15,
            "a to notice that b left",
        )
        cli(homes[1], "post", "general", "back again")  # written while b's node is down
        start_node(lab, b, homes[1], tmp_path / "b2.log")
        took = wait_until_sync(lambda: "back again" in cli(homes[0], "log", "general"), 10, "b to reconnect")
        assert took < 10


# ---- what goes on the wire, decoded with another DNS library (dnslib) ------------------------------------------


def test_a_node_on_all_interfaces_announces_each_only_its_own_address_and_no_identity(tmp_path: Path) -> None:
    """A node listening on 0.0.0.0, on a host that also has a VPN-like interface: the LAN hears only the LAN
    address, under a random instance name whose SRV points to a separate random host name (so an NSEC at that
    host listing only A denies nothing that exists), and nothing that names the team, its members or keys."""
    dnslib = pytest.importorskip("dnslib")
    (home,) = team_homes(tmp_path / "team", 1)
    with Profile.open(home) as profile:
        secrets = [profile.team_id, profile.network_key, profile.me, profile.team_name.encode()]
        secrets += [profile.name_of(profile.me).encode(), socket.gethostname().encode()]
    with NetLab() as lab:
        a, b = lab.add_host("a"), lab.add_host("b")
        private = f"172.31.{lab.subnet}.1"
        lab.add_private_interface(a, "vpn0", f"{private}/24")
        log = tmp_path / "a.log"
        start_node(lab, a, home, log)
        wait_until_sync(lambda: "LAN discovery: advertising" in log.read_text(errors="replace"), 30, "a to advertise")
        capture = lab.start(b, sys.executable, CAPTURE, b.ip, "6", stdout=subprocess.PIPE)
        packets = [bytes.fromhex(str(p["hex"])) for p in lines(capture) if p["from"] == a.ip]
    assert packets, "the node announced nothing"
    for raw in packets:
        assert private.encode() not in raw and socket.inet_aton(private) not in raw
        for secret in secrets:
            assert secret.lower() not in raw.lower(), secret
    records = [rr for raw in packets for rr in dnslib.DNSRecord.parse(raw).rr + dnslib.DNSRecord.parse(raw).ar]
    by_type: dict[str, list[object]] = {}
    for rr in records:
        by_type.setdefault(dnslib.QTYPE.get(rr.rtype), []).append(rr)
    addresses = {str(rr.rdata) for rr in by_type.get("A", [])}  # type: ignore[attr-defined]
    assert addresses == {a.ip}, addresses
    srvs = {(str(rr.rname), str(rr.rdata.target)) for rr in by_type["SRV"]}  # type: ignore[attr-defined]
    assert srvs and all(instance != target for instance, target in srvs), srvs
    hosts = {target for _, target in srvs}
    instances = {instance for instance, _ in srvs}
    assert {str(rr.rname) for rr in by_type.get("A", [])} <= hosts  # type: ignore[attr-defined]
    assert by_type.get("NSEC"), "zeroconf says which types exist at the host name"
    for rr in by_type["NSEC"]:
        name, listed = str(rr.rname), set(rr.rdata.rrlist)  # type: ignore[attr-defined]
        if name in instances:  # whatever exists at a name must not be denied there
            assert {"SRV", "TXT"} <= listed, (name, listed)
        else:
            assert name in hosts and listed <= {"A", "AAAA"}, (name, listed)
