"""The merge is a union of logs: any order of arrival, with duplicates, gives byte-identical views."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshchat.log.entry import Entry
from meshchat.store import Store
from meshchat.store.queries import Views
from meshchat.testing import AuthorLog, TestTeam


def build_history(seed: int) -> tuple[TestTeam, list[Entry]]:
    """A small but busy history: posts, FLASH and acks, retractions, pins, incidents, tasks, check-ins,
    heads entries, clocks from the future, a late member and a demotion."""
    rng = random.Random(seed)
    team = TestTeam(members=3)
    team.members[0].write("member.profile", {"name": "Bo", "callsign": "B1"}, clock=team.tick())
    incident = bytes([seed % 256]) * 16
    team.members[1].write("incident.open", {"incident": incident, "title": "Fire", "severity": 3}, clock=team.tick())
    checkin = b"c" * 16
    team.founder.write("checkin.request", {"checkin": checkin, "room": team.room, "question": "ok?"}, clock=team.tick())
    posts: list[Entry] = []
    where = random.Random(seed + 7919)  # positions draw from their own stream: the rest of the history stays as it was
    for i in range(14):
        author = rng.choice(team.authors)
        action = rng.randrange(9)
        if action == 0 and posts:
            author.write("msg.ack", {"target": rng.choice(posts).id}, clock=team.tick(rng.randrange(1, 3)))
        elif action == 1 and posts:
            author.write("msg.retract", {"target": rng.choice(posts).id}, clock=team.tick(1))
        elif action == 2:
            fields = rng.choice([{"status": "active"}, {"severity": 1}, {"commander": author.key.hex()[:6]}])
            author.write(
                "incident.update",
                {"incident": incident, "fields": fields},
                clock=team.tick(rng.randrange(0, 2)),
            )
        elif action == 3:
            author.write(
                "checkin.reply",
                {"checkin": checkin, "status": rng.choice(["safe", "need_help"])},
                clock=team.tick(),
            )
        elif action == 4 and posts:
            author.write("msg.pin", {"target": rng.choice(posts).id}, clock=team.tick())
        elif action == 5:  # a clock far ahead: where it counts depends on the heads entries that witness it
            fields = {"status": rng.choice(["closed", "contained"])}
            author.write("incident.update", {"incident": incident, "fields": fields}, clock=FUTURE + i)
        elif action == 6:  # what a node signs now and then, naming the logs it holds, maybe not all
            held = [a for a in team.authors if a.entries and rng.random() < 0.8]
            named = {a.key: [a.entries[-1].seq, a.entries[-1].id] for a in held}
            author.write("heads", {"heads": named}, clock=team.tick(rng.randrange(0, 2)))
        else:
            flash = rng.random() < 0.3
            posts.append(
                team.post(author, f"message {i}", priority="flash" if flash else "routine", ack_required=flash)
            )
        add_position(team, where.choice(team.authors), where, i)
    late = team.add_member("member")
    team.post(late, "late joiner")
    team.founder.write("member.add", {"member": team.members[2].key, "name": "", "role": "observer"}, clock=team.tick())
    team.post(team.members[2], "demoted, so not shown")
    return team, team.all_entries()


def add_position(team: TestTeam, author: AuthorLog, rng: random.Random, i: int) -> None:
    """Now and then a position report, a clear, or an outsider's fix relayed by a bridge."""
    action = rng.randrange(4)
    if action == 0:
        # A fix whose claimed time may be far ahead: latest is by the author's order, whatever it claims.
        fix_ms = team.clock + rng.choice([0, -60_000, 10**12])
        fix = {"lat_e7": rng.randrange(-(10**8), 10**8), "lon_e7": 51214000, "accuracy_m": 5, "fix_ms": fix_ms}
        author.write("position", {**fix, "source": "gps"}, clock=team.tick())
    elif action == 1:
        kind = rng.choice(["position.clear", "position.relay"])
        via = {"via": {"net": "tak", "uid": f"ANDROID-{i % 2}", "callsign": "Alpha"}}
        fix = {"lat_e7": 1, "lon_e7": 2, "accuracy_m": 9, "fix_ms": team.clock}
        author.write(kind, {} if kind == "position.clear" else {**fix, **via}, clock=team.tick())


_counter = iter(range(10**9))
FUTURE = 3_345_000_000_000  # 2076


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 50), order=st.randoms(use_true_random=False), dup_rate=st.floats(0, 0.5))
def test_any_order_with_duplicates_gives_identical_views(
    tmp_path: Path, seed: int, order: random.Random, dup_rate: float
) -> None:
    team, entries = build_history(seed)
    reference = Store.create(tmp_path / f"ref{next(_counter)}.db", team.team_id)
    reference.accept_batch([e.raw for e in entries])
    expected = Views(reference).snapshot()
    delivery = [e.raw for e in entries] + [e.raw for e in entries if order.random() < dup_rate]
    order.shuffle(delivery)
    store = Store.create(tmp_path / f"s{next(_counter)}.db", team.team_id)
    # Deliver in small batches of random size, as peers would; then once more whole (a later sync).
    i = 0
    while i < len(delivery):
        size = order.randrange(1, 6)
        store.accept_batch(delivery[i : i + size])
        i += size
    store.accept_batch(delivery)
    assert store.count() == len(entries)
    assert Views(store).snapshot() == expected
    again = Views(store).snapshot()
    store.accept_batch([e.raw for e in entries])  # accepting everything again changes nothing
    assert Views(store).snapshot() == again
    reference.close()
    store.close()


def test_history_exercises_every_view(tmp_path: Path) -> None:
    """Guard against a vacuous property test: the history really holds what it claims."""
    team, entries = build_history(7)
    store = Store.create(tmp_path / "s.db", team.team_id)
    store.accept_batch([e.raw for e in entries])
    views = Views(store)
    texts = [m.text for m in views.messages(team.room)]
    assert "late joiner" in texts and "demoted, so not shown" not in texts
    assert views.incidents() and views.checkins()
    assert views.tracks() and views.outsiders()
    store.close()


def test_histories_move_entries_from_the_future(tmp_path: Path) -> None:
    """Guard against a vacuous property for the effective clocks: some histories move entries (a clock from
    2076 witnessed by heads entries), which the property then sees placed alike in every arrival order."""
    team, entries = build_history(29)
    store = Store.create(tmp_path / "s.db", team.team_id)
    store.accept_batch([e.raw for e in entries])
    views = Views(store)
    changes = [c for o in views.incidents() for c in o.history]
    assert any(c.claimed is not None and c.claimed >= FUTURE > c.clock for c in changes)
    assert any(m.claimed is not None and m.claimed >= FUTURE > m.clock for m in views.messages(team.room))
    store.close()
