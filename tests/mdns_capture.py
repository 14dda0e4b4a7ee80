"""Capture every mDNS packet on a test namespace's LAN for a while, asking now and then for meshchat services.

python tests/mdns_capture.py INTERFACE_ADDRESS SECONDS

Prints one JSON object per packet received: ``{"from": ip, "hex": packet}``. The queries are built with dnslib,
a DNS library that is not the one meshchat advertises with; run it only inside a namespace a test made.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import time

import dnslib

GROUP, PORT = "224.0.0.251", 5353
SERVICE = "_meshchat._tcp.local."


def main(interface: str, seconds: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("", PORT))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(GROUP) + socket.inet_aton(interface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
    query = dnslib.DNSRecord.question(SERVICE, "PTR")
    query.header.id = 0
    deadline = time.monotonic() + seconds
    next_query = 0.0
    while (left := deadline - time.monotonic()) > 0:
        if time.monotonic() >= next_query:
            sock.sendto(query.pack(), (GROUP, PORT))
            next_query = time.monotonic() + 1.0
        ready, _, _ = select.select([sock], [], [], min(left, 0.2))
        if ready:
            data, (source, _) = sock.recvfrom(9000)
            print(json.dumps({"from": source, "hex": data.hex()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
