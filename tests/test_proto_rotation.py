"""Across a key rotation: the previous key still links (and is recognised on the LAN) during the grace period,
then not."""

from __future__ import annotations

import pytest

from meshchat.identity import Identity
from meshchat.net.discovery import Discovery, discovery_tag, tag_is_ours
from meshchat.proto.connection import Connection, State
from meshchat.proto.errors import LocalProtocolError, RemoteProtocolError
from meshchat.proto.framing import FrameReader
from meshchat.proto.handshake import Credentials, Side
from meshchat.testing import ConnectionPair, MemoryLog

OLD, NEW, OTHER = b"o" * 32, b"n" * 32, b"x" * 32


def credentials(current: bytes, *previous: bytes) -> Credentials:
    return Credentials(current, Identity.generate(), previous_keys=previous)


def link(client: Credentials, server: Credentials) -> ConnectionPair:
    pair = ConnectionPair(
        Connection(Side.CLIENT, client, lambda k, e, i: None),
        Connection(Side.SERVER, server, lambda k, e, i: None),
        MemoryLog(),
        MemoryLog(),
    )
    pair.run()
    return pair


@pytest.mark.parametrize(
    ("client", "server"),
    [
        ((NEW, OLD), (OLD,)),  # we rotated, the peer has not seen it yet
        ((OLD,), (NEW, OLD)),  # the peer rotated, we have not seen it yet
        ((NEW, OLD), (NEW, OLD)),
        ((NEW,), (NEW, OLD)),
    ],
)
def test_either_side_may_be_behind_during_the_grace_period(
    client: tuple[bytes, ...], server: tuple[bytes, ...]
) -> None:
    pair = link(credentials(*client), credentials(*server))
    assert pair.client.state is State.SYNCING and pair.server.state is State.SYNCING


@pytest.mark.parametrize(("client", "server"), [((OLD,), (NEW,)), ((NEW,), (OLD,)), ((OTHER, OLD), (NEW,))])
def test_after_the_grace_period_the_old_key_links_no_more(client: tuple[bytes, ...], server: tuple[bytes, ...]) -> None:
    with pytest.raises(RemoteProtocolError, match="network key"):
        link(credentials(*client), credentials(*server))


def test_the_current_key_is_preferred_and_the_hello_grows_only_in_the_grace_period() -> None:
    for keys, size in (((NEW,), 64), ((NEW, OLD), 96)):
        conn = Connection(Side.CLIENT, credentials(*keys), lambda k, e, i: None)
        reader = FrameReader()
        reader.feed(conn.data_to_send())
        hello = reader.next_frame()
        assert hello is not None and len(hello) == size
    # A server that holds both keys answers with the current one: a client that knows only it is served.
    pair = link(credentials(NEW), credentials(NEW, OLD))
    assert pair.client.state is State.SYNCING


def test_a_client_never_accepts_a_long_server_hello() -> None:
    client = Connection(Side.CLIENT, credentials(NEW, OLD), lambda k, e, i: None)
    client.data_to_send()
    client.receive_data(len(b"h" * 96).to_bytes(4, "big") + b"h" * 96)
    with pytest.raises(RemoteProtocolError, match="wrong size"):
        client.next_event()


def test_at_most_one_previous_key() -> None:
    with pytest.raises(LocalProtocolError):
        Credentials(NEW, Identity.generate(), previous_keys=(OLD, OTHER))


def test_discovery_advertises_the_current_key_and_recognises_both() -> None:
    keys = [(NEW, OLD)]
    discovery = Discovery(lambda: keys[0], 7000, addresses=["10.1.2.3"])
    (ad,) = discovery.advertisements

    def tag(key: bytes) -> bytes:
        return discovery_tag(key, ad.nonce, 7000, ad.addresses).encode()

    assert discovery._infos()[0].properties[b"t"] == tag(NEW)
    assert tag_is_ours((NEW, OLD), tag(OLD).decode(), ad.nonce, 7000, ad.addresses)  # a peer not rotated yet
    assert not tag_is_ours((NEW,), tag(OLD).decode(), ad.nonce, 7000, ad.addresses)  # after the grace period
    keys[0] = (OTHER,)  # rotated again: the next refresh advertises the new tag
    assert discovery.network_key == OTHER
    assert discovery._infos()[0].properties[b"t"] == tag(OTHER)
