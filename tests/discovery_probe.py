"""Run discovery alone inside a test namespace and print what it sees, one JSON object per line.

python tests/discovery_probe.py NETWORK_KEY_HEX ADDRESS PORT SECONDS
"""

from __future__ import annotations

import json
import sys

import trio

from meshchat.net.discovery import Discovery, DiscoveryEvent, PeerLost, PeerSeen


async def main(key: bytes, address: str, port: int, seconds: float) -> None:
    send, receive = trio.open_memory_channel[DiscoveryEvent](100)
    discovery = Discovery(key, port, addresses=[address])
    async with trio.open_nursery() as nursery:
        await nursery.start(discovery.run, send)
        print(json.dumps({"advertising": discovery.instance}), flush=True)
        with trio.move_on_after(seconds):
            async for event in receive:
                if isinstance(event, PeerSeen):
                    print(
                        json.dumps({"seen": event.instance, "addresses": event.addresses, "port": event.port}),
                        flush=True,
                    )
                elif isinstance(event, PeerLost):
                    print(json.dumps({"lost": event.instance}), flush=True)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main, bytes.fromhex(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
