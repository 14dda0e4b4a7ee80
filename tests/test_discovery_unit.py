"""Discovery's pure parts: the hourly tag, and validation of advertisements (no network)."""

from __future__ import annotations

from zeroconf import ServiceInfo

from meshchat.net.discovery import SERVICE_TYPE, discovery_tag, peer_from_info, tag_is_ours

KEY = b"k" * 32
NOW = 1_790_000_000.0
HOUR = int(NOW // 3600)


def info(name: str = "abc", *, key: bytes = KEY, hour: int = HOUR, port: int = 7000, **props: bytes) -> ServiceInfo:
    properties = {b"v": b"1", b"t": discovery_tag(key, hour).encode(), **{k.encode(): v for k, v in props.items()}}
    return ServiceInfo(
        SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", port=port, properties=properties, parsed_addresses=["10.1.2.3"]
    )


def test_tag_depends_on_key_and_hour() -> None:
    assert discovery_tag(KEY, HOUR) != discovery_tag(KEY, HOUR + 1)
    assert discovery_tag(KEY, HOUR) != discovery_tag(b"x" * 32, HOUR)
    assert len(discovery_tag(KEY, HOUR)) == 16


def test_tag_accepts_neighbouring_hours_only() -> None:
    for delta in (-1, 0, 1):
        assert tag_is_ours(KEY, discovery_tag(KEY, HOUR + delta), NOW)
    assert not tag_is_ours(KEY, discovery_tag(KEY, HOUR + 2), NOW)
    assert not tag_is_ours(KEY, discovery_tag(b"x" * 32, HOUR), NOW)


def test_accepts_a_teammate() -> None:
    seen = peer_from_info(info(), KEY, "self." + SERVICE_TYPE, NOW)
    assert seen is not None and seen.addresses == ("10.1.2.3",) and seen.port == 7000


def test_ignores_others_self_and_garbage() -> None:
    own = f"self.{SERVICE_TYPE}"
    assert peer_from_info(info(key=b"x" * 32), KEY, own, NOW) is None  # another team
    assert peer_from_info(info(hour=HOUR - 5), KEY, own, NOW) is None  # a stale (replayed) tag
    assert peer_from_info(info("self"), KEY, own, NOW) is None  # our own advertisement
    assert peer_from_info(info(v=b"2"), KEY, own, NOW) is None  # a version we do not speak
    assert peer_from_info(info(t=b"\xff" * 16), KEY, own, NOW) is None  # a tag that is not text
    assert peer_from_info(info(t=b"short"), KEY, own, NOW) is None
    bare = ServiceInfo(SERVICE_TYPE, f"x.{SERVICE_TYPE}", port=1, properties={}, parsed_addresses=["10.0.0.1"])
    assert peer_from_info(bare, KEY, own, NOW) is None  # a non-meshchat service under our name
