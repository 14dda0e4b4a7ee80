"""Discovery's pure parts: the tag, the advertisement's names, and validation of advertisements (no network)."""

from __future__ import annotations

from zeroconf import ServiceInfo

from meshchat.net.discovery import SERVICE_TYPE, Discovery, discovery_tag, peer_from_info, tag_is_ours

KEY = b"k" * 32
NONCE = b"n" * 8
HERE = ["10.1.2.3"]


def info(
    name: str = "abc",
    *,
    key: bytes = KEY,
    nonce: bytes = NONCE,
    port: int = 7000,
    addresses: list[str] = HERE,
    tagged: list[str] | None = None,
    **props: bytes,
) -> ServiceInfo:
    tag = discovery_tag(key, nonce, port, tagged or addresses)
    properties = {b"v": b"2", b"n": nonce.hex().encode(), b"t": tag.encode()}
    properties.update({k.encode(): v for k, v in props.items()})
    return ServiceInfo(
        SERVICE_TYPE,
        f"{name}.{SERVICE_TYPE}",
        port=port,
        properties=properties,
        server=f"host{name}.local.",
        parsed_addresses=addresses,
    )


def test_the_tag_depends_on_key_nonce_port_and_addresses_in_any_order() -> None:
    tag = discovery_tag(KEY, NONCE, 7000, ["10.1.2.3", "10.9.9.9"])
    assert tag == discovery_tag(KEY, NONCE, 7000, ["10.9.9.9", "10.1.2.3"]) and len(tag) == 16
    for other in (
        discovery_tag(b"x" * 32, NONCE, 7000, ["10.1.2.3", "10.9.9.9"]),
        discovery_tag(KEY, b"m" * 8, 7000, ["10.1.2.3", "10.9.9.9"]),
        discovery_tag(KEY, NONCE, 7001, ["10.1.2.3", "10.9.9.9"]),
        discovery_tag(KEY, NONCE, 7000, ["10.1.2.3"]),
    ):
        assert other != tag
    assert tag_is_ours((b"x" * 32, KEY), tag, NONCE, 7000, ["10.9.9.9", "10.1.2.3"])  # any accepted key


def test_advertisements_are_unlinkable_between_nodes_and_restarts() -> None:
    """Two nodes of one team, or one node before and after a restart, at the same hour: nothing in their
    advertisements is the same but the service type (the port, if they use the same one), yet a member
    recognises both."""
    first, second = (Discovery(KEY, 7766, addresses=HERE)._infos()[0] for _ in range(2))
    assert first.name != second.name and first.server != second.server
    assert first.properties[b"n"] != second.properties[b"n"]
    assert first.properties[b"t"] != second.properties[b"t"]
    for seen in (first, second):
        assert peer_from_info(seen, KEY, ()) is not None


def test_the_srv_target_is_a_host_name_of_its_own() -> None:
    """Not the instance name: strict responders read an NSEC there listing only A as "no SRV, no TXT"."""
    (advertised,) = Discovery(KEY, 7766, addresses=HERE)._infos()
    assert advertised.server is not None and advertised.server.endswith(".local.")
    assert advertised.server != advertised.name and not advertised.server.startswith(advertised.name.split(".")[0])


def test_one_advertisement_per_interface_each_with_its_own_addresses() -> None:
    discovery = Discovery(KEY, 7766, interfaces=[("10.1.2.3",), ("172.17.0.1", "172.17.0.2")])
    infos = discovery._infos()
    assert [i.parsed_addresses() for i in infos] == [["10.1.2.3"], ["172.17.0.1", "172.17.0.2"]]
    assert len({i.name for i in infos}) == 2 and len({i.server for i in infos}) == 2
    assert all(peer_from_info(i, KEY, ()) is not None for i in infos)
    assert all(peer_from_info(i, KEY, discovery.instances) is None for i in infos)  # our own


def test_accepts_a_teammate() -> None:
    seen = peer_from_info(info(), KEY, ())
    assert seen is not None and seen.addresses == ("10.1.2.3",) and seen.port == 7000


def test_ignores_others_self_copies_and_garbage() -> None:
    own = [f"self.{SERVICE_TYPE}"]
    assert peer_from_info(info(key=b"x" * 32), KEY, own) is None  # another team
    assert peer_from_info(info("self"), KEY, own) is None  # our own advertisement
    # A member's TXT record copied into an advertisement that points elsewhere (someone who wants to see
    # which hosts dial it): the tag does not cover that address or port.
    assert peer_from_info(info(addresses=["10.6.6.6"], tagged=HERE), KEY, own) is None
    assert peer_from_info(info(addresses=["10.1.2.3", "10.6.6.6"], tagged=HERE), KEY, own) is None
    forged_port = info()
    forged_port.port = 7001
    assert peer_from_info(forged_port, KEY, own) is None
    assert peer_from_info(info(v=b"1"), KEY, own) is None  # a version we do not speak
    assert peer_from_info(info(t=b"\xff" * 16), KEY, own) is None  # a tag that is not text
    assert peer_from_info(info(t=b"short"), KEY, own) is None
    assert peer_from_info(info(n=b"zz" * 8), KEY, own) is None  # a nonce that is not hex
    bare = ServiceInfo(SERVICE_TYPE, f"x.{SERVICE_TYPE}", port=1, properties={}, parsed_addresses=["10.0.0.1"])
    assert peer_from_info(bare, KEY, own) is None  # a non-meshchat service under our name
