"""The TAK bridge's trust boundary, without a server: CoT read strictly (no DTD, no entities, bounded), a TCP
stream split into events within bounds, and the bridge's rules: what goes out (fresh members' positions, open
incidents, FLASH only) and what comes in (outsiders' positions and chat, marked, rate-limited, never FLASH,
never our own echo). A garbage-spewing server ends one connection, not the node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing
from clock_helpers import HOUR, team_with_a_member_off, wall_clock_off

from meshchat.log.clock import wall_ms
from meshchat.log.positions import Report
from meshchat.log.views import Outsider
from meshchat.node import Node
from meshchat.profile import Profile, ProfileError
from meshchat.store import Store
from meshchat.store.queries import Views
from meshchat.tak import cot
from meshchat.tak.bridge import BridgeSettings, TakBridge, xml_text
from meshchat.tak.cot import CotError, Place, read_event
from meshchat.tak.stream import CotStream
from meshchat.tak.transport import TakServer
from meshchat.testing import TestTeam, running_node, team_homes, wait_until

NOW = 1_796_000_000_000
PLACE = Place(52.1, 5.2, 9.0, 3.0)


def event(uid: str = "ANDROID-1", *, callsign: str = "ALPHA-1", place: Place = PLACE, at: int = NOW) -> bytes:
    return cot.pli(
        uid=uid, callsign=callsign, place=place, time_ms=at, stale_ms=at + 60_000, now_ms=at, colour="Red", gps=True
    )


def chat(text: str, *, uid: str = "GeoChat.ANDROID-1.All Chat Rooms.1", sender: str = "ANDROID-1") -> bytes:
    return cot.geochat(
        message_uid=uid,
        sender_uid=sender,
        sender_callsign="ALPHA-1",
        text=text,
        place=PLACE,
        now_ms=NOW,
        stale_ms=NOW + 60_000,
    )


# ---- reading CoT -----------------------------------------------------------------------------------------------


def test_what_we_send_reads_back() -> None:
    got = read_event(event())
    assert (got.uid, got.type, got.callsign, got.time_ms, got.stale_ms) == (
        "ANDROID-1",
        "a-f-G-U-C",
        "ALPHA-1",
        NOW,
        NOW + 60_000,
    )
    assert got.place == PLACE and got.is_position and not got.is_chat
    said = read_event(chat("Road 12 <blocked> & wet"))
    assert said.is_chat and said.chat is not None and said.chat.text == "Road 12 <blocked> & wet"
    assert (said.chat.sender_uid, said.chat.sender_callsign, said.chat.chatroom) == (
        "ANDROID-1",
        "ALPHA-1",
        "All Chat Rooms",
    )


LAUGHS = b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
EVENT = (
    b'<event uid="x" type="a-f-G" time="2026-12-03T11:00:00Z" start="2026-12-03T11:00:00Z" '
    b'stale="2026-12-03T11:01:00Z">'
)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (LAUGHS + EVENT + b"<detail><remarks>&b;</remarks></detail></event>", "without DTD or entities"),
        (b'<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + EVENT + b"<detail>&x;</detail></event>", "DTD"),
        (EVENT.replace(b'uid="x"', b'uid="' + b"u" * 129 + b'"') + b"</event>", "uid must be"),
        (EVENT.replace(b' time="2026-12-03T11:00:00Z"', b"") + b"</event>", "needs its time"),
        (EVENT.replace(b"2026-12-03T11:00:00Z", b"yesterday", 1) + b"</event>", "not ISO 8601"),
        (EVENT + b'<point lat="95" lon="5" hae="0" ce="1" le="1"/></event>', "within range"),
        (EVENT + b'<point lat="nan" lon="5" hae="0" ce="1" le="1"/></event>', "within range"),
        (b"<message/>", "not a CoT event"),
        (b"<event", "not well-formed"),
        (EVENT + b"<detail><remarks>" + b"x" * 70_000 + b"</remarks></detail></event>", "at most 65,536"),
    ],
)
def test_hostile_or_broken_cot_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(CotError, match=why):
        read_event(data)


def test_nowhere_is_no_place_and_long_chat_is_cut() -> None:
    nowhere = read_event(event(place=Place(0.0, 0.0)))
    assert nowhere.place is None and not nowhere.is_position  # ATAK's "I do not know where I am"
    long = read_event(chat("x" * 2_500))
    assert long.chat is not None and long.chat.text == "x" * 2_000 + " [cut: 500 more characters]"
    cut = read_event(event(callsign="C" * 60))
    assert cut.callsign == "C" * 39 + "…"


def test_a_stream_splits_into_events_within_bounds() -> None:
    stream = CotStream()
    one, two = event("A"), event("B")
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + one + b"\r\n" + two
    pieces = [stream.feed(data[i : i + 7]) for i in range(0, len(data), 7)]  # arriving in small pieces
    assert [e for piece in pieces for e in piece] == [one, two] and stream.skipped == 0
    assert stream.feed(b"garbage" + one) == [one] and stream.skipped == 7
    with pytest.raises(CotError, match="without a complete event"):
        stream.feed(b"<event " + b"x" * 70_000)
    quiet = CotStream()
    for _ in range(100):  # endless garbage with no event in it is dropped, never buffered
        assert quiet.feed(b"y" * 10_000) == []
    assert len(quiet._buffer) < 10


def test_text_we_send_is_text_xml_can_carry() -> None:
    assert xml_text("ok\x00\x07\x1b[2J\ud800\ufffe done\n") == "ok[2J done\n"
    read_event(event(callsign=xml_text("Ana\x1b\x07")))  # parses at the other end


# ---- the bridge's rules ----------------------------------------------------------------------------------------


class MemoryLink:
    """A TAK connection in memory: what the bridge sends, and events to hand it."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self._in, self._out = trio.open_memory_channel[bytes](100)

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    async def events(self) -> AsyncIterator[bytes]:
        async for data in self._out:
            yield data

    async def deliver(self, *data: bytes) -> None:
        for item in data:
            await self._in.send(item)

    def read(self) -> list[cot.CotEvent]:
        return [read_event(e) for e in self.sent]


def _homes(tmp_path: Path) -> tuple[Path, Path]:
    ana, gateway = team_homes(tmp_path, 2)
    with Profile.open(ana) as profile:
        profile.create_room("tak")
        raws = list(profile.store.iter_raw())
    with Profile.open(gateway) as profile:
        profile.store.accept_batch(raws)
    return ana, gateway


async def _serve(node: Node, link: MemoryLink, nursery: trio.Nursery, **settings: object) -> TakBridge:
    bridge = TakBridge(node, BridgeSettings(TakServer("127.0.0.1", 9), **settings))  # type: ignore[arg-type]
    await bridge.start()
    nursery.start_soon(bridge.serve, link)
    return bridge


async def test_outsiders_come_in_marked_bounded_and_never_as_us(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    _, gateway_home = _homes(tmp_path)
    async with running_node(gateway_home) as gateway, trio.open_nursery() as nursery:
        link = MemoryLink()
        bridge = await _serve(gateway, link, nursery, positions_per_minute=3, chats_per_sender_per_minute=2)
        us = bridge.member_uid(gateway.me)
        await link.deliver(
            event("ANDROID-1"),
            event("ANDROID-1", place=Place(52.1001, 5.2, 9.0)),  # 11 m and a moment later: not due
            event(us),  # our own, echoed back by the group
            event("ANDROID-2"),
            event("ANDROID-3"),
            event("ANDROID-4"),  # over the budget of 3 a minute
            b"<event><broken",
            chat("first"),
            chat("first", uid="GeoChat.ANDROID-1.All Chat Rooms.1"),  # the server's cache, replayed
            chat("second", uid="GeoChat.ANDROID-1.All Chat Rooms.2"),
            chat("third", uid="GeoChat.ANDROID-1.All Chat Rooms.3"),  # over 2 a minute from one sender
            chat("from another", uid="GeoChat.ANDROID-9.All Chat Rooms.1", sender="ANDROID-9"),
            chat("our own FLASH, back", uid="GeoChat.x.All Chat Rooms.9", sender=us),
        )
        tak = gateway.views.find_room("tak")
        assert tak is not None
        await wait_until(lambda: len(gateway.views.messages(tak.room)) == 3 and bridge.stats.unreadable == 1)
        await trio.testing.wait_all_tasks_blocked()  # every event handled: nothing more comes in
        assert sorted(f.via.uid for f in gateway.views.outsiders() if f.via) == ["ANDROID-1", "ANDROID-2", "ANDROID-3"]
        shown = [(m.text, m.via, m.author, m.priority, m.ack_required) for m in gateway.views.messages(tak.room)]
        assert shown == [
            ("first", Outsider("tak", "ANDROID-1", "ALPHA-1"), gateway.me, "routine", False),
            ("second", Outsider("tak", "ANDROID-1", "ALPHA-1"), gateway.me, "routine", False),
            ("from another", Outsider("tak", "ANDROID-9", "ALPHA-1"), gateway.me, "routine", False),
        ]
        assert gateway.views.positions() == [] and bridge.stats.dropped == 4
        nursery.cancel_scope.cancel()


async def test_only_fresh_positions_open_incidents_and_flash_go_out(tmp_path: Path) -> None:
    ana_home, gateway_home = _homes(tmp_path)
    now = wall_ms()
    with Profile.open(ana_home) as ana:
        ana.report_position(Report(520907000, 51214000, 6, fix_ms=now - 60_000, source="gps"))
        incident = ana.open_incident("Breach", 1, location={"text": "dam", "lat_e7": 520000000, "lon_e7": 51000000})
        ana.open_incident("Nowhere in particular", 3)
        ana.post("general", "routine")
        flash = ana.post("general", "get out", flash=True)
        retracted = ana.post("general", "never mind", flash=True)
        ana.retract(retracted.id)
        ana.relay_post(ana.room("tak").room, "an outsider's words", Outsider("tak", "A-1", "ALPHA"))
        raws = list(ana.store.iter_raw())
    with Profile.open(gateway_home) as gateway_profile:
        gateway_profile.store.accept_batch(raws)
        gateway_profile.report_position(Report(1, 1, 6, fix_ms=now - 3_600_000, source="manual"))  # an hour old
    async with running_node(gateway_home) as gateway, trio.open_nursery() as nursery:
        link = MemoryLink()
        bridge = await _serve(gateway, link, nursery, republish_s=3600)
        await wait_until(lambda: len(link.sent) == 3)
        first = link.read()
        assert [e.type for e in first] == ["a-f-G-U-C", "b-m-p-s-m", "b-t-f"]
        pli, marker, geochat = first
        assert pli.uid == bridge.member_uid(next(iter(k for k in gateway.membership.members if k != gateway.me)))
        assert pli.stale_ms == now - 60_000 + 15 * 60_000  # stale on TAK when stale by our rules
        assert marker.uid.endswith(incident.hex()) and marker.stale_ms > wall_ms()
        assert (
            geochat.chat is not None
            and geochat.chat.text == "FLASH from n0: get out"
            and flash.id.hex()[:32] in geochat.uid
        )

        await bridge.publish(link)  # nothing changed: nothing is sent again
        assert len(link.sent) == 3
        await gateway.update_incident(incident, {"status": "closed"})
        await wait_until(lambda: len(link.sent) == 4)
        closed = link.read()[-1]
        assert closed.uid == marker.uid and closed.stale_ms <= wall_ms()  # sent once more, already stale
        await bridge.publish(link, again=True)
        assert [e.type for e in link.read()[4:]] == ["a-f-G-U-C", "b-m-p-s-m"]  # the FLASH went once
        nursery.cancel_scope.cancel()


def test_the_flash_feed_goes_by_the_teams_order_not_the_clock_claimed(tmp_path: Path) -> None:
    """A FLASH whose author's clock is two hours behind, written after its author's heads entry showed it had
    seen a later post: it sits just after that post in the team's order, so the bridge's feed (FLASH placed
    after the hour before it started) carries it, though its claimed clock lies before that."""
    team = TestTeam(members=2)
    ana, bo = team.members
    team.tick(3 * 3_600_000)  # the members were added hours before
    seen = team.post(bo, "the bridge is down")
    behind = seen.clock - 2 * 3_600_000
    ana.write("heads", {"heads": {bo.key: [seen.seq, seen.id]}}, clock=behind)
    team.founder.write("heads", {"heads": {bo.key: [seen.seq, seen.id]}}, clock=team.tick())  # the team held it then
    flash = ana.write(
        "msg.post", {"room": team.room, "text": "evacuate", "priority": "flash", "ack_required": True}, clock=behind + 1
    )
    store = Store.create(tmp_path / "s.db", team.team_id)
    store.accept_batch([e.raw for e in team.all_entries()])
    [fed] = Views(store).flashes(after_clock=seen.clock - 3_600_000)
    assert fed.id == flash.id and fed.claimed == behind + 1 and fed.clock == seen.clock + 1
    store.close()


async def test_without_a_tak_room_a_member_is_told_and_an_admin_makes_one(tmp_path: Path) -> None:
    ana_home, gateway_home = team_homes(tmp_path, 2)
    async with running_node(gateway_home) as gateway:
        with pytest.raises(ProfileError, match="an admin makes it"):
            await TakBridge(gateway, BridgeSettings(TakServer("127.0.0.1", 9))).start()
    async with running_node(ana_home) as ana:
        await TakBridge(ana, BridgeSettings(TakServer("127.0.0.1", 9), room="outside")).start()
        room = ana.views.find_room("outside")
        assert room is not None and "not members of the team" in room.topic


async def test_a_server_that_sends_garbage_ends_its_connection_not_the_node(tmp_path: Path) -> None:
    ana_home, _ = _homes(tmp_path)
    connections = 0

    async def spew(stream: trio.SocketStream) -> None:
        nonlocal connections
        connections += 1
        try:
            await stream.send_all(b"<event " + b"A" * 70_000)
            await trio.sleep_forever()
        except trio.BrokenResourceError:
            return

    async with running_node(ana_home) as ana, trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, spew, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        bridge = TakBridge(ana, BridgeSettings(TakServer("127.0.0.1", port), retry_s=(0.05,)))
        await nursery.start(bridge.run)
        await wait_until(lambda: connections >= 3, 10)
        assert bridge.stats.connections >= 2
        await ana.post("general", "the node carries on")
        nursery.cancel_scope.cancel()


async def test_a_relayed_fix_is_bounded_by_the_teams_time_not_a_clock_hours_behind(
    tmp_path: Path, mock_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18's clock rule at the bridge: a relayed fix is never fresher than when it reached us, "when" on
    the team's time. A gateway laptop three hours behind used to date every TAK user's fix three hours ago (the
    bound was its own clock), so teammates' maps showed them lost as they arrived."""
    founder, gateway_home = team_with_a_member_off(tmp_path, -3 * HOUR)
    with Profile.open(founder) as profile:
        profile.create_room("tak")
        raws = list(profile.store.iter_raw())
    with Profile.open(gateway_home) as profile:
        profile.store.accept_batch(raws, now=wall_ms() - 3 * HOUR)
    true_now = wall_ms()
    with wall_clock_off(monkeypatch, -3 * HOUR):
        async with running_node(gateway_home) as gateway, trio.open_nursery() as nursery:
            link = MemoryLink()
            await _serve(gateway, link, nursery)
            await link.deliver(event(at=true_now))
            await wait_until(lambda: len(gateway.views.outsiders()) == 1)
            (relayed,) = gateway.views.outsiders()
            nursery.cancel_scope.cancel()
    assert abs(relayed.fix_ms - true_now) < 60_000, f"dated {(relayed.fix_ms - true_now) / HOUR:+.1f} h off"
