"""Fixes from a GPS, through a running gpsd: ``meshchat node --gps`` and ``meshchat ui --gps``.

gpsd owns the receiver (serial, USB or Bluetooth, NMEA or binary) and speaks JSON on TCP port 2947; we read its
TPV reports with the gpsdclient library in a worker thread (its socket reads block) and pass them to trio.
A report is written when the member moved more than ``min_distance_m`` or ``max_interval_s`` passed, and never
more often than every ``min_interval_s`` (:class:`ReportPolicy`), by the node's own monotonic clock: a receiver
that replays old data or whose clock races cannot flood the log. The defaults keep a walking team (1.4 m/s)
under one report per 30 s each, and a member standing still says "still here" every five minutes.

gpsd is a local daemon but still input: lines are bounded, every field is checked, and a fix outside the
ranges of the ``position`` kind, or without a 2D fix, is skipped.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import trio
from gpsdclient.client import GPSDClient, parse_datetime

from meshchat.events import GpsStatus
from meshchat.geo.measure import distance_m
from meshchat.geo.point import Point
from meshchat.log.positions import Report

log = logging.getLogger(__name__)

GPSD_PORT = 2947
MAX_LINE = 65_536  # gpsd's longest reports (SKY with many satellites) are a few KB
RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # reconnecting to gpsd: it may start after us, or restart


@dataclass(frozen=True, slots=True)
class ReportPolicy:
    """When a new fix becomes a report."""

    min_distance_m: float = 50.0  # moved at least this far since the last report
    min_interval_s: float = 30.0  # and never more often than this
    max_interval_s: float = 300.0  # or this long passed: "still here"

    def due(self, last: tuple[float, Point] | None, now_s: float, point: Point) -> bool:
        """Whether a fix at ``point``, seen at ``now_s`` (monotonic seconds), is reported; ``last`` is when and
        where the previous report was."""
        if last is None:
            return True
        elapsed = now_s - last[0]
        if elapsed < self.min_interval_s:
            return False
        return elapsed >= self.max_interval_s or distance_m(last[1], point) >= self.min_distance_m


@dataclass(frozen=True, slots=True)
class GpsSettings:
    host: str = "127.0.0.1"
    port: int = GPSD_PORT
    policy: ReportPolicy = field(default_factory=ReportPolicy)
    retry_s: tuple[float, ...] = RETRY_S  # waits before reconnecting, one per failure in a row, then the last


def report_from_tpv(tpv: dict[str, Any], now_ms: int) -> Report | None:
    """A ``position`` report from a gpsd TPV object, or None if it holds no usable 2D fix. The fix's time is
    the receiver's (GPS time is good), unless it is missing or more than a day from ``now_ms``: our clock on
    the team's time (``Node.team_now``), so a laptop whose clock is off neither refuses good GPS time nor
    dates a fix with its own wrong clock."""
    mode = tpv.get("mode")
    lat, lon = _number(tpv.get("lat")), _number(tpv.get("lon"))
    if not isinstance(mode, int) or mode < 2 or lat is None or lon is None:
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    point = Point.degrees(lat, lon)
    accuracy = _number(tpv.get("eph"))
    if accuracy is None:
        errors = [e for e in (_number(tpv.get("epx")), _number(tpv.get("epy"))) if e is not None]
        accuracy = max(errors) if errors else None
    if accuracy is None or not 0 <= accuracy <= 1_000_000:
        return None  # a fix with no error estimate cannot say how far to trust it
    fix_ms = now_ms
    when = tpv.get("time")
    if isinstance(when, str):  # gpsdclient converts it; a raw report says "2026-12-03T11:00:00.000Z"
        when = parse_datetime(when)
    if isinstance(when, datetime) and when.tzinfo is not None:
        gps_ms = int(when.timestamp() * 1000)
        if abs(gps_ms - now_ms) <= 86_400_000:
            fix_ms = gps_ms
    alt = _number(tpv.get("altHAE", tpv.get("alt")))
    track, speed = _number(tpv.get("track")), _number(tpv.get("speed"))
    return Report(
        point.lat_e7,
        point.lon_e7,
        math.ceil(accuracy),
        fix_ms=fix_ms,
        source="gps",
        alt_m=round(alt) if alt is not None and mode >= 3 and -12_000 <= alt <= 100_000 else None,
        heading_deg=round(track) % 360 if track is not None and 0 <= track <= 360 else None,
        speed_cms=round(speed * 100) if speed is not None and 0 <= speed <= 1000 else None,
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class _BoundedClient(GPSDClient):
    """gpsdclient reading lines of at most :data:`MAX_LINE` characters (its own reader has no bound), and whose
    blocking read can be ended from another thread (:meth:`interrupt`)."""

    def gpsd_lines(self) -> Iterator[str]:
        self.close()  # type: ignore[no-untyped-call]
        self.sock = socket.create_connection(address=(self.host, int(self.port)), timeout=self.timeout)
        self.sock.settimeout(None)
        self.sock.sendall(b'?WATCH={"enable":true,"json":true}\n')
        stream = self.sock.makefile("r", encoding="utf-8", errors="replace", newline="\n")
        while line := stream.readline(MAX_LINE):
            if not line.endswith("\n"):
                raise OSError(f"gpsd sent a line longer than {MAX_LINE} characters")
            yield line

    def interrupt(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


async def follow_gpsd(
    settings: GpsSettings,
    report: Callable[[Report], Awaitable[object]],
    status: Callable[[GpsStatus], None],
    *,
    now_ms: Callable[[], int],
) -> None:
    """Read gpsd until cancelled, writing a report whenever the policy says one is due. gpsd not running, or
    going away, is said (``status``) and retried with backoff; it never ends the node."""
    where = f"{settings.host}:{settings.port}"
    last: tuple[float, Point] | None = None
    failures = 0
    while True:
        status(GpsStatus("connecting", f"gpsd at {where}"))
        ended: list[str] = []
        async with trio.open_nursery() as nursery:
            reports: trio.MemoryReceiveChannel[dict[str, Any]] = await nursery.start(_pump, settings, ended)
            async for tpv in reports:
                failures = 0
                fixed = report_from_tpv(tpv, now_ms())
                if fixed is None:
                    status(GpsStatus("waiting", f"gpsd at {where} is up; no fix yet"))
                    continue
                point, now = Point(fixed.lat_e7, fixed.lon_e7), trio.current_time()
                status(GpsStatus("fix", f"±{fixed.accuracy_m} m", fixed))
                if settings.policy.due(last, now, point):
                    await report(fixed)
                    last = (now, point)
        problem = f"gpsd at {where}: {ended[0] if ended else 'closed the connection'}"
        delay = settings.retry_s[min(failures, len(settings.retry_s) - 1)]
        failures += 1
        log.warning("%s; trying again in %g s", problem, delay)
        status(GpsStatus("down", problem))
        await trio.sleep(delay)


async def _pump(settings: GpsSettings, ended: list[str], *, task_status: trio.TaskStatus[Any]) -> None:
    """Read gpsd's TPV reports with gpsdclient in a worker thread and send them on a channel, which closes when
    the connection ends (why, in ``ended``). Cancelling ends the thread's blocking read."""
    client = _BoundedClient(settings.host, settings.port, timeout=5.0)
    send, receive = trio.open_memory_channel[dict[str, Any]](16)

    def pump() -> None:
        try:
            for tpv in client.dict_stream(filter=["TPV"]):
                trio.from_thread.run(send.send, tpv)
        except (OSError, ValueError) as exc:  # refused, reset, not gpsd (gpsdclient says so), bad JSON
            ended.append(str(exc) or type(exc).__name__)
        except (trio.BrokenResourceError, trio.RunFinishedError, trio.Cancelled):
            pass

    task_status.started(receive)
    try:
        async with send:
            await trio.to_thread.run_sync(pump, abandon_on_cancel=True)
    finally:
        client.interrupt()
