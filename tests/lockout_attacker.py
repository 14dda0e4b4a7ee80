"""Hold half-open connections to a node from many source addresses, re-opening each one the node closes.

python tests/lockout_attacker.py HOST PORT PER_ADDRESS SECONDS SOURCE_IP...

Run inside a test namespace that owns the source addresses. Prints one JSON line per second: how many
connections it holds and how many the node has closed so far. It sends nothing: a connection that never
says hello, as a slowloris does.
"""

from __future__ import annotations

import json
import sys

import trio


async def hold(host: str, port: int, source: str, stats: dict[str, int]) -> None:
    while True:
        try:
            sock = trio.socket.socket()
            await sock.bind((source, 0))
            await sock.connect((host, port))
        except OSError:
            await trio.sleep(0.05)  # real time (a process in a namespace): try that connection again
            continue
        stream = trio.SocketStream(sock)
        stats["open"] += 1
        try:
            while await stream.receive_some():
                pass
        except (trio.BrokenResourceError, OSError):
            pass
        stats["open"] -= 1
        stats["closed_by_node"] += 1
        await stream.aclose()


async def main(host: str, port: int, per_address: int, seconds: float, sources: list[str]) -> None:
    stats = {"open": 0, "closed_by_node": 0}
    with trio.move_on_after(seconds):
        async with trio.open_nursery() as nursery:
            for source in sources:
                for _ in range(per_address):
                    nursery.start_soon(hold, host, port, source, stats)
            while True:
                await trio.sleep(1)  # real time: what the attack holds, once a second, for the test to read
                print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5:])
