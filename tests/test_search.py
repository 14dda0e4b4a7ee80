"""Search over messages, incidents and tasks (meshchat/store/search.py, Views.search): substring and whole-word
matches of every term, whole words first, and the same answers whether entries are indexed yet or not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from meshchat.store import Store
from meshchat.store.queries import Views
from meshchat.testing import TestTeam, team_homes

StoreFor = Callable[..., Store]
INCIDENT = b"i" * 16
TASK = b"t" * 16


def morning(team: TestTeam) -> dict[str, bytes]:
    a, b = team.members
    ids = {
        "sandbags": team.post(a, "Sandbags needed at the north levee, km 4").id,
        "sandbag": team.post(b, "One sandbag wall done").id,  # the word in another form
        "pump": team.post(a, "Pump truck blocked on the bridge road").id,
        "oops": team.post(b, "sandbags to the wrong bridge, sorry").id,
    }
    b.write("msg.retract", {"target": ids["oops"]}, clock=team.tick())
    a.write("incident.open", {"incident": INCIDENT, "title": "Levee seepage", "severity": 2}, clock=team.tick())
    b.write(
        "incident.update",
        {"incident": INCIDENT, "fields": {"summary": "Boil near the sandbag ring", "title": "Levee breach km 4"}},
        clock=team.tick(),
    )
    a.write("task.open", {"task": TASK, "title": "Bring sandbags to km 4", "incident": INCIDENT}, clock=team.tick())
    return ids


def texts(views: Views, query: str) -> list[str]:
    return [hit.text for hit in views.search(query).hits]


def check_answers(views: Views) -> None:
    # Whole-word hits first, the newest first among each.
    assert texts(views, "sandbags") == ["Bring sandbags to km 4", "Sandbags needed at the north levee, km 4"]
    found = views.search("sandbag").hits
    assert [h.text for h in found] == [
        "Levee breach km 4",  # the incident as it stands now, found by its summary "Boil near the sandbag ring"
        "One sandbag wall done",
        "Bring sandbags to km 4",  # the term inside a longer word
        "Sandbags needed at the north levee, km 4",
    ]
    assert [h.whole_words for h in found] == [True, True, False, False]
    assert [h.kind for h in found] == ["incident", "message", "task", "message"]
    assert texts(views, "bridge") == ["Pump truck blocked on the bridge road"]  # the retracted one is hidden
    assert texts(views, "BRIDGE road") == ["Pump truck blocked on the bridge road"]  # every term, any case
    assert texts(views, "km 4") == [  # terms too short for the trigram index
        "Bring sandbags to km 4",
        "Levee breach km 4",
        "Sandbags needed at the north levee, km 4",
    ]
    levee = [h for h in views.search("levee").hits if h.kind == "incident"]
    assert len(levee) == 1 and levee[0].obj is not None and levee[0].obj.obj == INCIDENT  # one hit per incident
    [task] = views.search("bring").hits
    assert task.kind == "task" and task.obj is not None and task.obj.obj == TASK
    assert texts(views, "nothing like this") == [] and texts(views, "   ") == []


def test_search_finds_substrings_and_words_indexed_or_not(team: TestTeam, store_for: StoreFor) -> None:
    morning(team)
    raws = [e.raw for e in sorted(team.all_entries(), key=lambda e: e.clock)]
    store = store_for(team.team_id)
    store.accept_batch(raws)
    views = Views(store)
    assert views.search("sandbag").unindexed == 0  # few enough to scan
    check_answers(views)  # nothing indexed yet: every hit comes from the scan
    while store.index_search(limit=3):
        pass
    assert store.index_search() == 0
    check_answers(views)  # everything indexed: the same answers from the index


def test_a_home_with_an_old_index_searches_the_new_entries_too(team: TestTeam, store_for: StoreFor) -> None:
    a, _ = team.members
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in sorted(team.all_entries(), key=lambda e: e.clock)])
    store.index_search()
    store.accept_batch([team.post(a, "Generator fuel for six hours").raw])  # after the index caught up
    assert texts(Views(store), "generator") == ["Generator fuel for six hours"]


def test_search_is_fast_on_a_big_store(tmp_path: Path) -> None:
    """A room of 20,000 messages: once indexed, a search answers from the index without scanning."""
    from meshchat.testing import synthetic_history

    team = synthetic_history(20_000)
    store = Store.create(tmp_path / "big.db", team.team_id)
    store.accept_batch([e.raw for e in sorted(team.all_entries(), key=lambda e: e.clock)])
    looked = 0
    while (batch := store.index_search()) > 0:
        looked += batch
    assert looked == store.count()
    hits = Views(store).search("sandbags levee", limit=20).hits
    assert 0 < len(hits) <= 20 and all("sandbags" in h.text and "levee" in h.text for h in hits)
    store.close()


async def test_a_running_node_keeps_the_index_up_to_date(tmp_path: Path) -> None:
    from meshchat.store import search
    from meshchat.testing import loopback_config, running_node, wait_until

    (home,) = team_homes(tmp_path, 1)
    async with running_node(home, loopback_config(listen=None)) as node:
        await node.post("general", "Generator fuel for six hours")
        conn = node.profile.store.connection
        await wait_until(lambda: search.available(conn) and search.pending(conn) == 0, timeout=10)
        hits = node.views.search("generator").hits
        assert [h.text for h in hits] == ["Generator fuel for six hours"]
        assert conn.execute("SELECT count(*) FROM search_index").fetchone()[0] >= 1  # found in the index


def test_a_rooms_pins_and_search_hits_are_read_without_a_scan_per_entry(tmp_path: Path) -> None:
    """Entries have no index by id (ingest would pay for it): a room's pins are read in one pass over the room,
    and a search hit by its rowid, never one scan of the whole log per pin or per hit (18 s for a 100,000-entry
    log with 1,100 pins, before)."""
    from meshchat.testing import synthetic_history

    team = synthetic_history(3000)
    store = Store.create(tmp_path / "pins.db", team.team_id)
    store.accept_batch([e.raw for e in sorted(team.all_entries(), key=lambda e: e.clock)])
    views = Views(store)
    pins = views.pinned()
    assert len(pins) > 10
    statements: list[str] = []
    store.connection.set_trace_callback(statements.append)
    pinned = views.pinned_in(team.room)
    assert len(statements) <= 6, statements  # not one lookup per pin
    assert [m.id for m in pinned] == [p for p in pins if p in {m.id for m in pinned}] and all(m.pinned for m in pinned)
    statements.clear()
    hits = views.search("levee", limit=30).hits
    assert hits and len(statements) < 20, statements  # a few reads in all, whatever the number of hits
    store.connection.set_trace_callback(None)
    store.close()
