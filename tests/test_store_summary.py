"""The watcher's summary of new entries agrees with reading them row by row."""

from __future__ import annotations

from pathlib import Path

from meshchat.store import Store
from meshchat.testing import synthetic_history


def test_summary_since_matches_new_since(tmp_path: Path) -> None:
    team = synthetic_history(600, authors=5)
    entries = team.all_entries()
    store = Store.create(tmp_path / "s.db", team.team_id)
    assert store.summary_since(0) is None
    store.accept_batch([e.raw for e in entries[:300]])
    first = store.last_rowid()
    store.accept_batch([e.raw for e in entries[300:]])
    for since in (0, first, first + 17):
        rows = store.new_since(since, limit=10**6)
        summary = store.summary_since(since)
        assert summary is not None
        assert summary.total == len(rows) and summary.last_rowid == rows[-1].rowid
        assert summary.kinds == {r.kind for r in rows}
        assert summary.rooms == {r.room for r in rows if r.room is not None}
        heads: dict[bytes, int] = {}
        for r in rows:
            heads[r.author] = max(heads.get(r.author, 0), r.seq)
        assert summary.heads == heads
    assert store.summary_since(store.last_rowid()) is None
    assert [r.rowid for r in store.new_since(0, upto=first)] == list(range(1, first + 1))
    store.close()


def test_membership_survives_other_connections_posts_but_not_their_membership_changes(tmp_path: Path) -> None:
    team = synthetic_history(50, authors=3)
    writer = Store.create(tmp_path / "s.db", team.team_id)
    writer.accept_batch([e.raw for e in team.all_entries()])
    reader = Store.open(tmp_path / "s.db")
    before = reader.membership
    writer.accept_batch([team.post(team.members[0], "just a message").raw])
    assert reader.membership is before  # re-evaluating after every message cost 0.4 ms per hop
    newcomer = team.add_member()
    writer.accept_batch([team.founder.entries[-1].raw])
    assert reader.membership is not before and reader.membership.role_of(newcomer.key) is not None
    reader.close()
    writer.close()
