"""A fault-injecting TCP proxy for the chaos tests (trio), run inside a test namespace.

    fault_proxy.py LISTEN_IP FAULT_SECONDS SEED PORT=TARGET_IP:TARGET_PORT ...

Each ``PORT`` accepts connections and forwards them to its target. For the first ``FAULT_SECONDS`` it
delays every chunk by 200 ms plus up to 100 ms of jitter (order kept, as TCP would), stalls a direction now
and then for 1-3 s, and every 2-4 s resets one open connection (an RST, not a clean close). After that it
forwards cleanly: the network has healed. Prints one JSON line per reset, for the test's figures.
"""

from __future__ import annotations

import json
import math
import random
import socket
import struct
import sys
from functools import partial

import trio

from meshchat.testing import wait_until

DELAY = 0.2
JITTER = 0.1
STALL_CHANCE = 0.02  # per chunk
RESET_EVERY = (2.0, 4.0)


class Proxy:
    def __init__(self, fault_seconds: float, seed: int) -> None:
        self.rng = random.Random(seed)
        self.faulty_until = trio.current_time() + fault_seconds
        self.open: dict[tuple[trio.SocketStream, trio.SocketStream], trio.CancelScope] = {}
        self.resets = 0

    @property
    def faulty(self) -> bool:
        return trio.current_time() < self.faulty_until

    async def serve(self, target: tuple[str, int], client: trio.SocketStream) -> None:
        try:
            upstream = await trio.open_tcp_stream(*target)
        except OSError:
            await client.aclose()
            return
        pair = (client, upstream)
        try:
            async with trio.open_nursery() as nursery:
                self.open[pair] = nursery.cancel_scope
                nursery.start_soon(self.pump, client, upstream, nursery.cancel_scope)
                nursery.start_soon(self.pump, upstream, client, nursery.cancel_scope)
        finally:
            self.open.pop(pair, None)
            for stream in pair:
                with trio.move_on_after(1):
                    await stream.aclose()

    async def pump(self, source: trio.SocketStream, sink: trio.SocketStream, scope: trio.CancelScope) -> None:
        send, receive = trio.open_memory_channel[tuple[float, bytes]](1000)

        async def deliver() -> None:
            try:
                async for due, data in receive:
                    await trio.sleep_until(due)
                    if self.faulty and self.rng.random() < STALL_CHANCE:
                        await trio.sleep(self.rng.uniform(1.0, 3.0))  # real time: a stall, as nodes see it
                    await sink.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                scope.cancel()

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(deliver)
                async with send:
                    while data := await source.receive_some(65536):
                        delay = DELAY + self.rng.uniform(0, JITTER) if self.faulty else 0.0
                        await send.send((trio.current_time() + delay, data))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        scope.cancel()

    async def reset_now_and_then(self) -> None:
        """Every 2-4 s of the fault phase, reset an open connection; when none is open (cut, redialling), the
        next one to open: a fault phase that happened to find none open at its moments reset nothing."""
        while self.faulty:
            await trio.sleep(self.rng.uniform(*RESET_EVERY))  # real time: the nodes are other processes
            await wait_until(lambda: self.open or not self.faulty, timeout=math.inf)
            if self.open and self.faulty:
                pair = self.rng.choice(sorted(self.open, key=id))
                for stream in pair:
                    # SO_LINGER 0: closing sends an RST, as a NAT or a flaky access point would.
                    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.open[pair].cancel()  # serve() closes both ends
                self.resets += 1
                print(json.dumps({"reset": self.resets}), flush=True)


async def main(listen_ip: str, fault_seconds: float, seed: int, routes: list[str]) -> None:
    proxy = Proxy(fault_seconds, seed)
    async with trio.open_nursery() as nursery:
        for route in routes:
            port, target = route.split("=")
            host, target_port = target.rsplit(":", 1)
            handler = partial(proxy.serve, (host, int(target_port)))
            await nursery.start(partial(trio.serve_tcp, handler, int(port), host=listen_ip))
        print(json.dumps({"listening": len(routes)}), flush=True)
        nursery.start_soon(proxy.reset_now_and_then)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
