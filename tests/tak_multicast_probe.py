"""An ATAK device on the SA multicast group, run inside a test's network namespace (never on a real network):
it prints (one JSON line each) the PLIs it hears, and once it has heard one from ``UID_PREFIX`` it says who it
is and sends a GeoChat, a few times over (UDP may drop), then keeps listening until ``SECONDS`` passed.

Usage: tak_multicast_probe.py INTERFACE_IP UID_PREFIX SECONDS
"""

from __future__ import annotations

import json
import socket
import sys
import time

from meshchat.tak import cot
from meshchat.tak.cot import Place
from meshchat.tak.transport import SA_GROUP, SA_PORT

UID = "ANDROID-multicast-1"


def main() -> None:
    interface, prefix, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((SA_GROUP, SA_PORT))
    sock.setsockopt(
        socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(SA_GROUP) + socket.inet_aton(interface)
    )
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
    sock.settimeout(0.2)
    deadline = time.monotonic() + seconds
    said = 0
    heard = False
    while time.monotonic() < deadline:
        try:
            data, sender = sock.recvfrom(65_536)
        except TimeoutError:
            data = b""
        if data:
            event = cot.read_event(data)
            if event.uid.startswith(prefix):
                heard = True
                print(json.dumps({"uid": event.uid, "type": event.type, "callsign": event.callsign, "from": sender[0]}))
                sys.stdout.flush()
        if heard and said < 5:
            now = int(time.time() * 1000)
            place = Place(52.2, 5.3, 12.0)
            sock.sendto(
                cot.pli(uid=UID, callsign="MCAST-1", place=place, time_ms=now, stale_ms=now + 60_000, now_ms=now,
                        colour="Red", gps=True),
                (SA_GROUP, SA_PORT),
            )  # fmt: skip
            sock.sendto(
                cot.geochat(message_uid=f"GeoChat.{UID}.All Chat Rooms.m1", sender_uid=UID, sender_callsign="MCAST-1",
                            text="Heard you on the group", place=place, now_ms=now, stale_ms=now + 60_000),
                (SA_GROUP, SA_PORT),
            )  # fmt: skip
            said += 1


if __name__ == "__main__":
    main()
