"""The TAK bridge against a real TAK server written by others: taky 0.10, run by the test on 127.0.0.1, with a
CoT client standing in for an ATAK user. The member's position, an open incident and a FLASH appear at the
client; the client's GeoChat appears in the team's ``tak`` room, and its position among the outsiders, written
by the bridge's member and marked as coming from outside; and every member's node sees them. Then the same
over TLS with client certificates (taky's TLS port, as TAK Server's 8089), and a server the bridge cannot
trust or that refuses it: the bridge says why and tries again, the node runs on."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest
import trio
import trustme
from tak_helpers import AtakStandIn, TakyTls, taky_server

from meshchat.log.clock import wall_ms
from meshchat.log.positions import Report
from meshchat.log.views import Outsider
from meshchat.profile import Profile
from meshchat.tak.bridge import BridgeSettings, TakBridge
from meshchat.tak.transport import TakServer, tls_context
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


def issue(ca: trustme.CA, name: str, where: Path) -> tuple[Path, Path]:
    """A certificate of ``ca`` for ``name`` and its key, as PEM files."""
    cert = ca.issue_cert(name)
    cert_file, key_file = where / f"{name}.crt", where / f"{name}.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return cert_file, key_file


async def test_the_bridge_speaks_tls_with_a_client_certificate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "meshchat.tak.bridge")
    ca, stranger = trustme.CA(), trustme.CA()
    ca_file = tmp_path / "ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    server_cert, server_key = issue(ca, "127.0.0.1", tmp_path)
    gateway_cert, gateway_key = issue(ca, "gateway.meshchat.test", tmp_path)
    atak_tls = ssl.create_default_context()
    ca.configure_trust(atak_tls)
    ca.issue_cert("android-5e2b0a77c1f3.atak.test").configure_cert(atak_tls)
    stranger_file = tmp_path / "stranger.crt"
    stranger.cert_pem.write_to_path(str(stranger_file))

    [home] = team_homes(tmp_path, 1)
    with Profile.open(home) as ana:
        ana.create_room("tak", "TAK users, relayed")
        ana.report_position(Report(520907000, 51214000, 6, fix_ms=wall_ms(), source="gps"))

    with taky_server(tmp_path / "taky", TakyTls(ca_file, server_cert, server_key)) as port:
        async with running_node(home) as node, trio.open_nursery() as nursery:
            atak = AtakStandIn()
            await atak.connect(port, atak_tls)
            nursery.start_soon(atak.listen)

            def bridge(tls: ssl.SSLContext) -> TakBridge:
                return TakBridge(node, BridgeSettings(TakServer("127.0.0.1", port, tls), retry_s=(0.2,)))

            def warned(why: str) -> int:
                return sum(why in r.getMessage() for r in caplog.records)

            # A server whose certificate is not of the CA the bridge was given: no connection, the reason said.
            async def run_until(scope: trio.CancelScope, bridge: TakBridge) -> None:
                with scope:
                    await bridge.run()

            untrusting, scope = (
                bridge(tls_context(cert=gateway_cert, key=gateway_key, ca=stranger_file)),
                trio.CancelScope(),
            )
            nursery.start_soon(run_until, scope, untrusting)
            await wait_until(lambda: warned("CERTIFICATE_VERIFY_FAILED") >= 2, 20)
            scope.cancel()
            # No client certificate: taky refuses the bridge, which says so and tries again.
            anonymous, scope = bridge(tls_context(cert=None, key=None, ca=ca_file)), trio.CancelScope()
            nursery.start_soon(run_until, scope, anonymous)
            await wait_until(lambda: warned("CERTIFICATE_REQUIRED") >= 2, 20)
            scope.cancel()
            assert untrusting.stats.connections == 0 and not atak.seen(
                anonymous.member_uid(node.me)
            )  # nothing got through

            # With its certificate: Ana's position reaches the TAK user over TLS, and the user's chat comes in.
            trusted = bridge(tls_context(cert=gateway_cert, key=gateway_key, ca=ca_file))
            await nursery.start(trusted.run)
            await wait_until(lambda: bool(atak.seen(trusted.member_uid(node.me), "a-f-G-U-C")), 20)
            await atak.announce(wall_ms())
            await atak.chat("Heard you over TLS", wall_ms(), "4f9c1d2e-0002")
            room = node.views.find_room("tak")
            assert room is not None
            await wait_until(lambda: [m.text for m in node.views.messages(room.room)] == ["Heard you over TLS"], 20)
            nursery.cancel_scope.cancel()
