"""Sneakernet bundles: two nodes that never meet converge through files on a USB stick."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from export_support import found_team, sync

from meshchat.export.bundle import (
    bundle_plan,
    import_bundle,
    read_frontier,
    store_frontier,
    write_bundle,
    write_frontier,
)
from meshchat.export.errors import BundleFormatError, ExportError
from meshchat.log.entry import sign_entry
from meshchat.profile import Profile
from meshchat.store import Outcome
from meshchat.store.queries import Views
from meshchat.testing import run_cli as meshchat


def test_bundle_round_trip_between_two_nodes_converges(tmp_path: Path) -> None:
    ana_home, ben_home, stick = tmp_path / "ana", tmp_path / "ben", tmp_path / "stick"
    stick.mkdir()
    meshchat(ana_home, "init", "--team", "Flood response", "--name", "Ana")
    with Profile.open(ana_home) as ana:  # ben's key reaches ana on paper; ana adds it
        ben = Profile.create_joining(ben_home, ana.team_id, ana.team_name, ana.network_key)
        ana.add_member(ben.me, "member", "Ben")
        ben.close()
    meshchat(ana_home, "post", "general", "Water rising at the north levee")
    meshchat(ana_home, "bundle", "export", str(stick / "a1.bundle"))
    out = meshchat(ben_home, "bundle", "import", str(stick / "a1.bundle")).stdout
    assert "0 rejected" in out
    meshchat(ben_home, "post", "general", "On my way with sandbags")
    meshchat(ana_home, "bundle", "frontier", str(stick / "ana.frontier"))
    out = meshchat(ben_home, "bundle", "export", str(stick / "b1.bundle"), "--for", str(stick / "ana.frontier")).stdout
    with Profile.open(ana_home) as ana, Profile.open(ben_home) as ben:
        lacking = sum(1 for raw in ben.store.iter_raw() if not _holds(ana, raw))
    sent = int(re.search(r"wrote (\d+) entries that", out).group(1))  # type: ignore[union-attr]
    assert sent == lacking >= 2  # ben's post and ben's heads entry, nothing ana already had
    out = meshchat(ana_home, "bundle", "import", str(stick / "b1.bundle")).stdout
    assert f"{sent} new" in out
    meshchat(ana_home, "post", "general", "Thanks Ben")
    meshchat(ben_home, "bundle", "frontier", str(stick / "ben.frontier"))
    meshchat(ana_home, "bundle", "export", str(stick / "a2.bundle"), "--for", str(stick / "ben.frontier"))
    meshchat(ben_home, "bundle", "import", str(stick / "a2.bundle"))
    with Profile.open(ana_home) as ana, Profile.open(ben_home) as ben:
        assert ana.store.frontier() == ben.store.frontier()
        assert Views(ana.store).snapshot() == Views(ben.store).snapshot()
        texts = [m.text for m in ben.views.messages(ben.room("general").room)]
        assert texts == ["Water rising at the north levee", "On my way with sandbags", "Thanks Ben"]
    again = meshchat(ben_home, "bundle", "import", str(stick / "a2.bundle")).stdout
    assert re.search(r": 0 new, \d+ already held", again)


def _holds(profile: Profile, raw: bytes) -> bool:
    from meshchat.log.entry import decode_entry

    entry = decode_entry(raw)
    held = profile.store.entry(entry.author, entry.seq)
    return held is not None and held.id == entry.id


def test_bundles_merge_in_any_order_any_number_of_times(tmp_path: Path) -> None:
    ana, ben, cy = found_team(tmp_path / "n")
    try:
        for node in (ben, cy):
            for i in range(3):
                node.post("general", f"{i}")
        write_bundle(ben.store, ben.me, tmp_path / "ben.bundle")
        write_bundle(cy.store, cy.me, tmp_path / "cy.bundle")
        for order in (("ben", "cy"), ("cy", "ben", "cy", "ben")):
            home = tmp_path / "-".join(order)
            node = Profile.create_joining(home, ana.team_id, ana.team_name, ana.network_key)
            for name in order:
                assert not import_bundle(node.store, tmp_path / f"{name}.bundle").counts[Outcome.REJECTED]
            sync(ben, ana)
            sync(cy, ana)
            assert Views(node.store).snapshot() == Views(ana.store).snapshot()
            node.close()
    finally:
        for p in (ana, ben, cy):
            p.close()


def test_fork_evidence_travels_in_a_bundle(tmp_path: Path) -> None:
    """ben signed two entries for one seq; ana holds one, cy the other. cy's frontier shows it to ana's
    bundle, which carries ana's version: cy's store records the fork."""
    ana, ben, cy = found_team(tmp_path / "n")
    try:
        post = ben.post("general", "one version")
        before = ben.store.entry(ben.me, post.seq - 1)
        assert before is not None
        twin = sign_entry(
            ben.identity,
            team_id=ana.team_id,
            seq=post.seq,
            prev=before.id,
            clock=post.clock,
            kind="msg.post",
            body={"room": ana.room("general").room, "text": "another version"},
        )
        ana.store.accept(post.raw)
        cy.store.accept(twin.raw)
        write_frontier(cy.store, cy.me, tmp_path / "cy.frontier")
        peer = read_frontier(tmp_path / "cy.frontier")
        assert (ben.me, post.seq - 1, post.seq) in bundle_plan(ana.store, peer)
        write_bundle(ana.store, ana.me, tmp_path / "b", peer=peer)
        result = import_bundle(cy.store, tmp_path / "b")
        assert result.counts[Outcome.FORK] == 1
        assert cy.store.forked_authors() == {ben.me: post.seq}
    finally:
        for p in (ana, ben, cy):
            p.close()


def test_tampered_bundle_entries_are_refused_by_the_accept_path(tmp_path: Path) -> None:
    ana, ben = found_team(tmp_path / "n", ("ana", "ben"))
    try:
        posts = [ana.post("general", f"report {i}") for i in range(3)]
        write_frontier(ben.store, ben.me, tmp_path / "f")
        write_bundle(ana.store, ana.me, tmp_path / "b", peer=read_frontier(tmp_path / "f"), now=1)
        data = bytearray((tmp_path / "b").read_bytes())
        where = data.index(b"report 1")
        data[where] ^= 0x20  # "Report 1": the body no longer matches its hash
        (tmp_path / "b").write_bytes(bytes(data))
        out = meshchat(tmp_path / "n" / "ben", "bundle", "import", str(tmp_path / "b"), ok=False)
        assert out.returncode == 1
        assert "rejected" in out.stdout and "body_hash" in out.stdout
        assert ben.store.head(ana.me).seq == posts[0].seq  # type: ignore[union-attr]  # the valid prefix went in
    finally:
        ana.close()
        ben.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"PK\x03\x04 this is a zip file", "not a msgpack bin frame"),
        (b"\xc4\x05\x81\xa1a\x01\x00", "not canonical msgpack"),
        (b"\xc4\x20\x00", "truncated"),
        (b"\xc5\xff\xff\x00", "more than the limit"),
        (b"\xc5\x00\x05\x00", "non-minimal length prefix"),
    ],
    ids=["empty", "garbage", "bad-header", "cut-short", "oversized", "non-minimal"],
)
def test_garbage_bundle_is_a_clear_message(tmp_path: Path, content: bytes, message: str) -> None:
    home = tmp_path / "h"
    meshchat(home, "init", "--team", "T")
    (tmp_path / "bad").write_bytes(content)
    result = meshchat(home, "bundle", "import", str(tmp_path / "bad"), ok=False)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_truncated_bundle_says_what_went_in(tmp_path: Path) -> None:
    ana, ben = found_team(tmp_path / "n", ("ana", "ben"))
    try:
        for i in range(5):
            ana.post("general", f"report {i}")
        write_bundle(ana.store, ana.me, tmp_path / "b")
        data = (tmp_path / "b").read_bytes()
        (tmp_path / "b").write_bytes(data[: data.index(b"report 3") + 3])
        with pytest.raises(BundleFormatError, match=r"truncated.*new entries before the damage went in"):
            import_bundle(ben.store, tmp_path / "b")
        assert [m.text for m in ben.views.messages(ben.room("general").room)][-1] == "report 2"
    finally:
        ana.close()
        ben.close()


def test_bundle_and_frontier_of_another_team_are_refused(tmp_path: Path) -> None:
    (one,) = found_team(tmp_path / "one", ("ana",))
    (two,) = found_team(tmp_path / "two", ("ana",))
    try:
        write_bundle(one.store, one.me, tmp_path / "b")
        with pytest.raises(ExportError, match="holds entries of team"):
            import_bundle(two.store, tmp_path / "b")
        write_frontier(two.store, two.me, tmp_path / "f")
        with pytest.raises(ExportError, match="the frontier is of team"):
            write_bundle(one.store, one.me, tmp_path / "b2", peer=read_frontier(tmp_path / "f"))
        assert store_frontier(two.store) == read_frontier(tmp_path / "f").heads
    finally:
        one.close()
        two.close()


@pytest.mark.parametrize(
    "text",
    ['{"format": "meshchat/frontier"}', "[]", '{"format": "meshchat/frontier", "v": 1, "made": 1.5}', "\xff"],
)
def test_bad_frontier_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "f").write_text(text, encoding="latin-1")
    with pytest.raises(BundleFormatError):
        read_frontier(tmp_path / "f")


def test_heads_entries_now_and_then(tmp_path: Path) -> None:
    """A node writes a heads entry when the last is older than the interval and the log moved since."""
    from meshchat.export.heads import write_heads_if_due

    ana, ben = found_team(tmp_path / "n", ("ana", "ben"))
    try:
        hour = 3_600_000
        first = write_heads_if_due(ana, now=10 * hour)
        assert [e.kind for e in first] == ["heads"]
        named = first[0].body()["heads"]
        assert isinstance(named, dict) and set(named) == {ana.me, ben.me}
        assert write_heads_if_due(ana, now=10 * hour + 1000) == []  # too soon
        assert write_heads_if_due(ana, now=12 * hour) == []  # nothing moved since
        ana.store.accept_batch([ben.post("general", "news").raw])
        assert len(write_heads_if_due(ana, now=12 * hour)) == 1
        from meshchat.export.heads import write_heads

        outsider = Profile.create_joining(tmp_path / "hq", ana.team_id, ana.team_name, ana.network_key)
        outsider.store.accept_batch(list(ana.store.iter_raw()))
        assert write_heads(outsider) == []  # not a member: its entries have no place in the team's log
        outsider.close()
    finally:
        ana.close()
        ben.close()
