"""The TAK bridge against a real TAK server written by others: taky 0.10, run by the test on 127.0.0.1, with a
CoT client standing in for an ATAK user. The member's position, an open incident and a FLASH appear at the
client; the client's GeoChat appears in the team's ``tak`` room, and its position among the outsiders, written
by the bridge's member and marked as coming from outside; and every member's node sees them."""

from __future__ import annotations

from pathlib import Path

import trio
from tak_helpers import AtakStandIn, taky_server

from meshchat.log.clock import wall_ms
from meshchat.log.positions import Report
from meshchat.log.views import Outsider
from meshchat.profile import Profile
from meshchat.tak.bridge import BridgeSettings, TakBridge
from meshchat.tak.transport import TakServer
from meshchat.testing import link_nodes, running_node, team_homes, wait_until

LEVEE = {"text": "north dam", "lat_e7": 520957000, "lon_e7": 51114000}


async def test_the_bridge_round_trips_through_taky(tmp_path: Path) -> None:
    ana_home, gateway_home = team_homes(tmp_path, 2)  # Ana (the founder, an admin) and the gateway's member
    with Profile.open(ana_home) as ana:
        ana.create_room("tak", "TAK users, relayed")
        ana.report_position(Report(520907000, 51214000, 6, fix_ms=wall_ms(), source="gps", speed_cms=140))
        incident = ana.open_incident("Levee breach", 2, location=LEVEE)
        ana.post("general", "routine chat stays in the team")
        raws = list(ana.store.iter_raw())
    with Profile.open(gateway_home) as gateway:
        gateway.store.accept_batch(raws)

    with taky_server(tmp_path / "taky") as port:
        async with (
            running_node(ana_home) as ana_node,
            running_node(gateway_home) as gateway_node,
            trio.open_nursery() as nursery,
        ):
            link_nodes(nursery, ana_node, gateway_node)
            atak = AtakStandIn()
            await atak.connect(port)
            nursery.start_soon(atak.listen)
            await atak.announce(wall_ms())
            bridge = TakBridge(gateway_node, BridgeSettings(TakServer("127.0.0.1", port), retry_s=(0.2,)))
            await nursery.start(bridge.run)

            # Out: Ana's position as a PLI with her name, the incident as a marker, the FLASH as GeoChat.
            ana_uid = bridge.member_uid(ana_node.me)
            await wait_until(lambda: bool(atak.seen(ana_uid, "a-f-G-U-C")), 20)
            pli = atak.seen(ana_uid)[-1]
            assert pli.callsign == "n0" and pli.place is not None and pli.speed == 1.4
            assert (round(pli.place.lat, 4), round(pli.place.lon, 4), pli.place.ce) == (52.0907, 5.1214, 6.0)
            await wait_until(lambda: bool(atak.seen(f"{bridge.prefix}incident.{incident.hex()}")), 20)
            marker = atak.seen(f"{bridge.prefix}incident.")[-1]
            assert marker.type == "b-m-p-s-m" and marker.callsign == "S2 major: Levee breach"
            # A FLASH written now (taky keeps positions and markers for clients that come later, not chat).
            await ana_node.post("general", "Everyone off the levee crest now", flash=True)
            await wait_until(lambda: bool(atak.seen("GeoChat.", "b-t-f")), 20)
            [flash] = [e for e in atak.seen("GeoChat.") if e.chat is not None]
            assert flash.chat is not None and flash.chat.text == "FLASH from n0: Everyone off the levee crest now"
            assert not any(e.chat and "routine chat" in e.chat.text for e in atak.received)  # only FLASH leaves

            # In: the TAK user's chat in the tak room, and its position among the outsiders, marked as theirs.
            await atak.chat("Road 12 blocked at the bridge", wall_ms(), "4f9c1d2e-0001")
            tak_room = ana_node.views.find_room("tak")
            assert tak_room is not None

            def relayed() -> list[tuple[str, Outsider | None, bytes]]:
                return [(m.text, m.via, m.author) for m in ana_node.views.messages(tak_room.room)]

            await wait_until(lambda: bool(relayed()), 20)
            outsider = Outsider("tak", atak.uid, atak.callsign)
            assert relayed() == [("Road 12 blocked at the bridge", outsider, gateway_node.me)]
            await wait_until(lambda: bool(ana_node.views.outsiders()), 20)
            [where] = ana_node.views.outsiders()
            assert (
                where.via == outsider
                and where.author == gateway_node.me
                and (where.lat_e7, where.lon_e7)
                == (
                    521003000,
                    51301000,
                )
            )
            assert [f.author for f in ana_node.views.positions()] == [ana_node.me]  # never shown as a member
            assert bridge.stats.relayed_messages == 1 and bridge.stats.relayed_positions == 1
            nursery.cancel_scope.cancel()
