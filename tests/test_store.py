"""The one accept path: appends, duplicates, forks, gaps, quarantine, batches, views."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgpack
import pytest

from meshchat.identity import Identity
from meshchat.log.entry import SIGNING_CONTEXT, sign_entry
from meshchat.profile import Profile
from meshchat.store import Outcome, Store
from meshchat.store.queries import Cursor, Views
from meshchat.store.schema import SCHEMA_VERSION
from meshchat.testing import TestTeam, team_homes

StoreFor = Callable[..., Store]


def test_appends_in_order_and_ignores_duplicates(team: TestTeam, store_for: StoreFor) -> None:
    store = store_for(team.team_id)
    post = team.post(team.members[0], "hello")
    for entry in team.all_entries():
        if entry is not post:
            assert store.accept(entry.raw).outcome is Outcome.APPENDED
    assert store.accept(post.raw).outcome is Outcome.APPENDED
    before = (store.count(), Views(store).snapshot())
    assert store.accept(post.raw).outcome is Outcome.DUPLICATE
    assert (store.count(), Views(store).snapshot()) == before


def test_other_team_and_garbage_are_rejected(team: TestTeam, store_for: StoreFor) -> None:
    store = store_for(team.team_id)
    other = TestTeam()
    result = store.accept(other.founder.entries[1].raw)
    assert result.outcome is Outcome.REJECTED and "another team" in result.reason
    assert store.accept(b"\x93garbage").outcome is Outcome.REJECTED
    assert store.accept(other.founder.entries[0].raw).outcome is Outcome.REJECTED  # other team's genesis
    assert store.count() == 0


def test_gap_is_deferred_not_stored(team: TestTeam, store_for: StoreFor) -> None:
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in team.founder.entries])
    author = team.members[0]
    first, second = team.post(author, "one"), team.post(author, "two")
    result = store.accept(second.raw)
    assert result.outcome is Outcome.DEFERRED and "gap" in result.reason
    assert store.accept(first.raw).outcome is Outcome.APPENDED
    assert store.accept(second.raw).outcome is Outcome.APPENDED


def test_broken_link_and_bad_signature_are_rejected(team: TestTeam, store_for: StoreFor) -> None:
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in team.all_entries()])
    author = team.members[0]
    store.accept(team.post(author, "first").raw)
    wrong_prev = sign_entry(
        author.identity,
        team_id=team.team_id,
        seq=2,
        prev=b"\x42" * 32,
        clock=team.tick(),
        kind="msg.post",
        body={"room": team.room, "text": "x"},
    )
    result = store.accept(wrong_prev.raw)
    assert result.outcome is Outcome.REJECTED and "link" in result.reason
    author.entries.append(wrong_prev)  # so the next post takes seq 3; it must not link either
    assert store.accept(team.post(author, "after").raw).outcome is Outcome.DEFERRED
    author.entries[1:] = []
    header, sig, body = msgpack.unpackb(team.post(author, "signed by someone else").raw)
    forged = msgpack.packb([header, Identity.generate().sign(SIGNING_CONTEXT + header), body])
    result = store.accept(forged)
    assert result.outcome is Outcome.REJECTED and "signature" in result.reason


def test_fork_keeps_both_entries_as_proof(team: TestTeam, store_for: StoreFor) -> None:
    store = store_for(team.team_id)
    author = team.members[0]
    team.post(author, "before")
    store.accept_batch([e.raw for e in team.all_entries()])
    stored = team.post(author, "the one I kept")
    twin = sign_entry(
        author.identity,
        team_id=team.team_id,
        seq=stored.seq,
        prev=stored.prev,
        clock=stored.clock,
        kind="msg.post",
        body={"room": team.room, "text": "the other one"},
    )
    assert store.accept(stored.raw).outcome is Outcome.APPENDED
    result = store.accept(twin.raw)
    assert result.outcome is Outcome.FORK
    assert store.forked_authors() == {author.key: stored.seq}
    assert store.entry(author.key, stored.seq) == stored  # never overwritten
    assert store.fork_proofs() == [(stored.raw, twin.raw)]
    assert store.accept(twin.raw).outcome is Outcome.FORK  # again: still just proof, nothing new
    texts = [m.text for m in Views(store).messages(team.room)]
    assert "before" in texts and "the one I kept" not in texts  # a forked log is not trusted past the fork


def test_unknown_author_is_quarantined_until_added(team: TestTeam, store_for: StoreFor) -> None:
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in team.founder.entries[:2]])  # genesis and room, no members yet
    newcomer = team.members[0]
    post = team.post(newcomer, "early bird")
    result = store.accept_batch([post.raw])
    assert result.counts[Outcome.QUARANTINED] == 1 and store.quarantine_count() == 1
    assert store.count() == 2
    store.accept_batch([e.raw for e in team.founder.entries[2:]])  # the member.add arrives
    assert store.quarantine_count() == 0
    assert [m.text for m in Views(store).messages(team.room)] == ["early bird"]


def test_membership_entry_later_in_the_same_batch_admits(team: TestTeam, store_for: StoreFor) -> None:
    store = store_for(team.team_id)
    post = team.post(team.members[1], "hi")
    raws = [post.raw, *[e.raw for e in reversed(team.all_entries()) if e is not post]]
    result = store.accept_batch(raws)
    assert result.counts[Outcome.APPENDED] == len(raws)


def test_batch_verifies_one_signature_per_run_and_keeps_valid_prefix(
    team: TestTeam, store_for: StoreFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in team.founder.entries])
    author = team.members[0]
    posts = [team.post(author, f"p{i}") for i in range(50)]
    from meshchat.log import entry as entry_module

    calls = []
    real = entry_module.verify_signature
    monkeypatch.setattr(entry_module, "verify_signature", lambda *a: calls.append(1) or real(*a))
    result = store.accept_batch([e.raw for e in author.entries])
    assert result.counts[Outcome.APPENDED] == 50
    assert len(calls) == 1  # one run, one signature
    # A run whose last signature is bad: checked one by one, the valid prefix is kept.
    more = [team.post(author, f"q{i}") for i in range(5)]
    header, _, body = msgpack.unpackb(more[-1].raw)
    bad_last = msgpack.packb([header, b"\x00" * 64, body])
    result = store.accept_batch([e.raw for e in more[:-1]] + [bad_last])
    assert result.counts[Outcome.APPENDED] == 4 and result.counts[Outcome.REJECTED] == 1
    assert store.head(author.key).seq == posts[-1].seq + 4  # type: ignore[union-attr]


def test_retraction_hides_but_keeps(team: TestTeam, store_for: StoreFor) -> None:
    store = store_for(team.team_id)
    author = team.members[0]
    post = team.post(author, "wrong address")
    retract = author.write("msg.retract", {"target": post.id}, clock=team.tick())
    store.accept_batch([e.raw for e in team.all_entries()])
    messages = Views(store).messages(team.room)
    assert [(m.text, m.retracted) for m in messages] == [("wrong address", True)]
    assert store.entry(author.key, post.seq) == post and store.entry(author.key, retract.seq) == retract


def test_only_author_or_admin_retracts(team: TestTeam, store_for: StoreFor) -> None:
    store = store_for(team.team_id)
    a, b = team.members
    post = team.post(a, "mine")
    b.write("msg.retract", {"target": post.id}, clock=team.tick())
    store.accept_batch([e.raw for e in team.all_entries()])
    assert not Views(store).messages(team.room)[0].retracted
    team.founder.write("msg.retract", {"target": post.id}, clock=team.tick())
    store.accept_batch([e.raw for e in team.founder.entries])
    assert Views(store).messages(team.room)[0].retracted


def test_observer_posts_have_no_effect(store_for: StoreFor) -> None:
    team = TestTeam(members=0)
    observer = team.add_member("observer")
    team.post(observer, "I should not be heard")
    observer.write("msg.ack", {"target": team.founder.entries[-1].id}, clock=team.tick())
    store = store_for(team.team_id)
    result = store.accept_batch([e.raw for e in team.all_entries()])
    assert result.counts[Outcome.APPENDED] == len(team.all_entries())  # chain kept whole...
    assert Views(store).messages(team.room) == []  # ...but the post does nothing


def test_rebuild_views_gives_identical_views(team: TestTeam, store_for: StoreFor) -> None:
    store = store_for(team.team_id)
    for i, author in enumerate(team.authors * 3):
        team.post(author, f"m{i}", priority="flash", ack_required=True)
    store.accept_batch([e.raw for e in team.all_entries()])
    before = Views(store).snapshot()
    store.rebuild_views()
    assert Views(store).snapshot() == before


def test_own_entries_take_seq_from_the_store(tmp_path: Path) -> None:
    """Two handles on one store (a node and a CLI) never reuse a seq."""
    founder = Identity.generate()
    first = Store.found(tmp_path / "s.db", founder, "T")
    second = Store.open(tmp_path / "s.db")
    body = {"room": b"r" * 16, "name": "x", "topic": ""}
    a = first.append_own(founder, "room.create", body)
    b = second.append_own(founder, "room.create", body)
    c = first.append_own(founder, "room.create", body)
    assert [a.seq, b.seq, c.seq] == [2, 3, 4]
    assert b.prev == a.id and c.prev == b.id
    first.close()
    second.close()


def test_open_refuses_foreign_files(tmp_path: Path) -> None:
    from meshchat.store import StoreError

    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError):
        Store.open(tmp_path / "junk.db")
    with pytest.raises(StoreError):
        Store.open(tmp_path / "missing.db")


def test_messages_page_both_ways_from_a_cursor(team: TestTeam, store_for: StoreFor) -> None:
    """A room is read a page at a time from its end, its start or any message: the TUI's window, and search
    results that open a room at a message far back."""
    a, b = team.members
    for i in range(30):
        team.post([a, b][i % 2], f"m{i}")
        if i % 3 == 0:  # two authors in one millisecond: the cursor orders them by author, then seq
            team.clock -= 1000
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in sorted(team.all_entries(), key=lambda e: e.clock)])
    views = Views(store)
    everything = views.messages(team.room, limit=1000)
    assert len(everything) == 30
    order = [(m.clock, m.author, m.seq) for m in everything]
    assert order == sorted(order)
    newest = views.messages(team.room, limit=7)
    assert newest == everything[-7:]
    at = everything[10]
    cursor = Cursor(at.clock, at.author, at.seq)
    assert views.messages(team.room, before=cursor, limit=4) == everything[6:10]
    assert views.messages(team.room, after=cursor, limit=4) == everything[11:15]
    assert views.messages(team.room, after=cursor, limit=1000) == everything[11:]
    start = Cursor(-1, b"", 0)
    assert views.messages(team.room, after=start, limit=5) == everything[:5]
    with pytest.raises(ValueError, match="not both"):
        views.messages(team.room, before=cursor, after=cursor)


def test_a_schema_2_store_gains_positions_and_where_answers_were(tmp_path: Path, team: TestTeam) -> None:
    """Schema 3 adds the position view and a location on roll-call answers: a store written by the previous
    version (which kept position entries, as every node keeps kinds it does not know, without view rows)
    opens and shows them."""
    import sqlite3

    member = team.members[0]
    fix = {"lat_e7": 520907000, "lon_e7": 51214000, "accuracy_m": 6, "fix_ms": team.clock, "source": "gps"}
    member.write("position", fix, clock=team.tick())
    checkin = b"c" * 16
    team.founder.write("checkin.request", {"checkin": checkin, "room": team.room, "question": "ok?"}, clock=team.tick())
    where = {"text": "barn", "lat_e7": 1, "lon_e7": 2}
    member.write("checkin.reply", {"checkin": checkin, "status": "safe", "location": where}, clock=team.tick())
    path = tmp_path / "old.db"
    with Store.create(path, team.team_id) as store:
        store.accept_batch([e.raw for e in team.all_entries()])
    conn = sqlite3.connect(path)
    conn.executescript(  # what schema 2 had: no v_positions, answers without a location
        "DROP TABLE v_positions; DROP TABLE v_checkin_replies;"
        "CREATE TABLE v_checkin_replies (checkin BLOB NOT NULL, status TEXT NOT NULL, note TEXT NOT NULL,"
        " author BLOB NOT NULL, seq INTEGER NOT NULL, clock INTEGER NOT NULL);"
        "INSERT INTO v_checkin_replies SELECT checkin, 'safe', '', author, seq, clock FROM v_checkins;"
        "UPDATE meta SET value = 2 WHERE key = 'schema_version';"
    )
    conn.close()
    with Store.open(path) as store:
        assert store.get_meta("schema_version") == SCHEMA_VERSION == 4
        views = Views(store)
        assert [(f.author, f.lat_e7) for f in views.positions()] == [(member.key, 520907000)]
        [answered] = views.checkins()
        assert answered.replies[member.key].location == where and len(answered.replies) == 1


def test_a_schema_1_store_is_migrated_on_open(tmp_path: Path, team: TestTeam) -> None:
    """Schema 2 adds the receipt time of each entry and the view of signed heads entries: a store written by
    the previous version opens, keeps every entry, and gains both (receipts unknown for what it held)."""
    import sqlite3

    member = team.members[0]
    post = team.post(member, "from before the upgrade")
    member.write("heads", {"heads": {team.founder.key: [2, team.founder.entries[1].id]}}, clock=team.tick())
    path = tmp_path / "old.db"
    with Store.create(path, team.team_id) as store:
        store.accept_batch([e.raw for e in team.all_entries()])
    conn = sqlite3.connect(path)
    conn.executescript(
        "ALTER TABLE entries DROP COLUMN received; DROP TABLE v_held; DROP TABLE v_files;"
        "UPDATE meta SET value = 1 WHERE key = 'schema_version';"
    )
    conn.close()
    with Store.open(path) as store:
        assert store.get_meta("schema_version") == SCHEMA_VERSION  # through every migration since
        assert store.count() == len(team.all_entries())
        rows = store.connection.execute("SELECT held, upto, author FROM v_held").fetchall()
        assert rows == [(team.founder.key, 2, member.key)]
        assert store.connection.execute("SELECT count(*) FROM entries WHERE received IS NOT NULL").fetchone()[0] == 0
        later = team.post(member, "after the upgrade")
        store.accept(later.raw, now=later.clock + 5)
        received = store.connection.execute("SELECT received FROM entries WHERE id = ?", (later.id,)).fetchone()
        assert received == (later.clock + 5,)
        assert [m.text for m in Views(store).messages(team.room)] == [post.body()["text"], "after the upgrade"]


def test_a_schema_3_store_gains_the_files_of_its_posts(tmp_path: Path, team: TestTeam) -> None:
    """Schema 4 adds the view of attached files (what a node fetches, what HQ lists): posts with files stored
    before it (by a node that already wrote them) are found after the upgrade."""
    import sqlite3

    member = team.members[0]
    files = [{"blob": b"f" * 32, "size": 1234, "name": "breach.jpg", "type": "image/jpeg"}]
    post = team.post(member, "photo from before the upgrade", files=files)
    path = tmp_path / "old.db"
    with Store.create(path, team.team_id) as store:
        store.accept_batch([e.raw for e in team.all_entries()])
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE v_files; UPDATE meta SET value = 3 WHERE key = 'schema_version';")
    conn.close()
    with Store.open(path) as store:
        assert store.get_meta("schema_version") == SCHEMA_VERSION
        last, found = Views(store).files_since(0)
        assert [(f.blob, f.size, f.name, f.type) for f in found] == [(b"f" * 32, 1234, "breach.jpg", "image/jpeg")]
        assert Views(store).files_since(last) == (last, [])
        row = store.connection.execute("SELECT room, entry_id, author, seq FROM v_files").fetchone()
        assert row == (team.room, post.id, member.key, post.seq)


def test_a_commit_while_the_caches_reload_is_not_missed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader reloads its caches when another connection (the node's writer) committed. A control entry
    committed while that reload runs, after it checked the membership's inputs, must not be taken as seen: the
    node kept showing a newcomer nameless (tests/test_admission.py, a landing under load)."""
    (home,) = team_homes(tmp_path, 1)
    with Profile.open(home) as reader, Profile.open(home) as writer:
        assert reader.store.membership.display_name(reader.me) != "Renamed"  # evaluated, and kept
        writer.post("general", "an ordinary entry: the reader reloads, keeping the membership")
        checked = Store._membership_inputs
        renamed = False

        def inputs_then_a_commit(store: Store) -> tuple[int, int]:
            nonlocal renamed
            found = checked(store)
            if store is reader.store and not renamed:
                renamed = True
                writer.set_profile("Renamed")  # the writer thread commits right after the reader looked
            return found

        monkeypatch.setattr(Store, "_membership_inputs", inputs_then_a_commit)
        reader.store.head(reader.me)  # the reload, with the commit in the middle of it
        assert renamed
        assert reader.store.membership.display_name(reader.me) == "Renamed"
