"""A stand-in gpsd on 127.0.0.1 for tests: it speaks gpsd's JSON protocol as gpsd 3.25 does (a VERSION object
on connect; ``?WATCH={...}`` answered with DEVICES and WATCH; then TPV and SKY reports to every watcher), from
fixes the test hands it. Real sockets, so the node's gpsdclient reader is exercised as it would be."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import trio

from meshchat.testing import wait_until

VERSION = {"class": "VERSION", "release": "3.25", "rev": "3.25", "proto_major": 3, "proto_minor": 15}
DEVICE = "/dev/ttyACM0"


@dataclass
class StandInGpsd:
    port: int = 0
    watchers: list[tuple[int, trio.SocketStream]] = field(default_factory=list)  # (connection number, stream)
    commands: list[str] = field(default_factory=list)
    connections: int = 0

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._client, listeners)

    async def _client(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        watcher = (self.connections, stream)
        await _send(stream, VERSION)
        buffer = b""
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            async for data in stream:
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    command = line.decode().strip()
                    self.commands.append(command)
                    if command.startswith("?WATCH="):
                        await _send(stream, {"class": "DEVICES", "devices": [_device()]})
                        await _send(stream, {"class": "WATCH", "enable": True, "json": True, "nmea": False})
                        self.watchers.append(watcher)
        if watcher in self.watchers:
            self.watchers.remove(watcher)

    async def wait_for_watcher(self, connection: int = 1) -> None:
        """Until the ``connection``-th client (counting from 1) has asked to watch."""
        await wait_until(lambda: any(number == connection for number, _ in self.watchers), 10, "a gpsd watcher")

    async def send(self, report: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(report, separators=(",", ":")).encode() + b"\r\n")

    async def send_raw(self, data: bytes) -> None:
        for watcher in list(self.watchers):
            try:
                await watcher[1].send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                if watcher in self.watchers:
                    self.watchers.remove(watcher)

    async def drop_watchers(self) -> None:
        """gpsd restarting: every connection ends."""
        for _, stream in self.watchers:
            await stream.aclose()
        self.watchers.clear()


async def _send(stream: trio.SocketStream, obj: dict[str, Any]) -> None:
    await stream.send_all(json.dumps(obj, separators=(",", ":")).encode() + b"\r\n")


def _device() -> dict[str, Any]:
    return {"class": "DEVICE", "path": DEVICE, "driver": "u-blox", "activated": _time(datetime.now(UTC)), "flags": 1}


def _time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def tpv(lat: float, lon: float, *, when: datetime | None = None, mode: int = 3, **extra: Any) -> dict[str, Any]:
    """A TPV report as gpsd 3.25 sends it for a u-blox receiver with a 3D fix."""
    report: dict[str, Any] = {
        "class": "TPV",
        "device": DEVICE,
        "status": 2,
        "mode": mode,
        "time": _time(when or datetime.now(UTC)),
        "ept": 0.005,
        "lat": lat,
        "lon": lon,
        "altHAE": 47.2,
        "altMSL": 2.1,
        "alt": 2.1,
        "epx": 3.9,
        "epy": 4.6,
        "epv": 9.8,
        "track": 90.0,
        "speed": 1.4,
        "climb": 0.0,
        "eps": 9.2,
        "epc": 19.6,
        "eph": 6.1,
        "sep": 12.0,
    }
    report.update(extra)
    return report


def sky() -> dict[str, Any]:
    return {"class": "SKY", "device": DEVICE, "hdop": 0.9, "nSat": 14, "uSat": 9, "satellites": []}


def walk_east(lat: float, lon: float, metres_per_step: float, steps: int) -> Iterator[tuple[float, float]]:
    """Points along a walk due east (metres per step), as a receiver reports them."""
    from meshchat.geo.measure import moved
    from meshchat.geo.point import Point

    here = Point.degrees(lat, lon)
    for _ in range(steps):
        yield here.lat, here.lon
        here = moved(here, metres_per_step, 0.0)
