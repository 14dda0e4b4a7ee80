"""Issue 12.2: a member's clock cannot rewrite the shared picture.

Entries are placed by their *effective* clock (``meshchat.log.timing``): bounded above by when a majority of the
other members' signed ``heads`` entries show they held it, and below by what the author's own heads entries
show it had seen. Honest entries never move; a clock in 2076 earns nothing once the team has witnessed the
entry; a backdated entry sits after what its author had said it held; a reused incident id is refused.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable

from meshchat.cli.output import message_line, when
from meshchat.export.reports.model import ReportFilter, collect
from meshchat.export.reports.text import utc
from meshchat.export.reports.timeline import write_timeline
from meshchat.log.effects import new_object_id
from meshchat.log.entry import Entry
from meshchat.log.views import time_doubt_text
from meshchat.store import Store
from meshchat.store.queries import Cursor, Views
from meshchat.testing import AuthorLog, TestTeam

StoreFor = Callable[..., Store]
YEAR_2076 = 3_345_000_000_000


def heads(writer: AuthorLog, team: TestTeam, clock: int | None = None) -> Entry:
    """What ``writer``'s node signs: the head of every log it holds (here: all of the team's)."""
    named = {a.key: [a.entries[-1].seq, a.entries[-1].id] for a in team.authors if a.entries and a is not writer}
    return writer.write("heads", {"heads": named}, clock=team.tick() if clock is None else clock)


def load(store_for: StoreFor, team: TestTeam, *, reverse: bool = False) -> Store:
    store = store_for(team.team_id)
    entries = team.all_entries()
    if reverse:  # arrival order must not matter: feed the authors' logs the other way round
        by_author: dict[bytes, list[Entry]] = {}
        for e in entries:
            by_author.setdefault(e.author, []).append(e)
        entries = [e for log in reversed(list(by_author.values())) for e in log]
    store.accept_batch([e.raw for e in entries], now=team.clock)  # all received as the story ends
    return store


def open_incident(team: TestTeam, opener: AuthorLog, title: str, incident: bytes | None = None) -> bytes:
    obj = incident or new_object_id(opener.key, secrets.token_bytes(8))
    opener.write("incident.open", {"incident": obj, "title": title, "severity": 2}, clock=team.tick())
    return obj


def test_an_update_from_2076_loses_to_a_later_correction(store_for: StoreFor) -> None:
    """The defect: a member wrote ``incident.update`` with a clock in 2076, and the status was fixed for good."""
    team = TestTeam(members=3)
    rogue, b, c = team.members
    incident = open_incident(team, team.founder, "Levee breach")
    rogue.write("incident.update", {"incident": incident, "fields": {"status": "closed"}}, clock=YEAR_2076)
    heads(b, team)  # the nodes that store it sign what they hold soon after (see test_node_clocks)
    heads(c, team)
    team.founder.write("incident.update", {"incident": incident, "fields": {"status": "active"}}, clock=team.tick())
    for reverse in (False, True):
        store = load(store_for, team, reverse=reverse)
        obj = Views(store).incidents()[0]
        assert obj.get("status") == "active", "the owner's later correction wins"
        rogue_change = next(ch for ch in obj.history if ch.author == rogue.key)
        # more than half of its witnesses (b and c) held it by c's heads entry: that is where it counts
        assert rogue_change.claimed == YEAR_2076 and rogue_change.clock == c.entries[-1].clock
        assert rogue_change.time_doubt is not None and rogue_change.time_doubt.moved


def test_a_post_from_the_future_does_not_stay_at_the_end_of_the_room(store_for: StoreFor) -> None:
    team = TestTeam(members=3)
    rogue, b, c = team.members
    team.post(b, "before")
    rogue.write("msg.post", {"room": team.room, "text": "from 2076"}, clock=YEAR_2076)
    heads(b, team)
    heads(c, team)
    team.post(c, "after")
    store = load(store_for, team)
    views = Views(store)
    shown = views.messages(team.room)
    assert [m.text for m in shown] == ["before", "from 2076", "after"]
    future = shown[1]
    assert future.claimed == YEAR_2076 and future.clock < shown[2].clock
    # Paging in the team's order finds it where it sits, from either side.
    assert [m.text for m in views.messages(team.room, before=Cursor(shown[2].clock, c.key, shown[2].seq))] == [
        "before",
        "from 2076",
    ]
    assert [m.text for m in views.messages(team.room, after=Cursor(shown[0].clock, b.key, shown[0].seq))] == [
        "from 2076",
        "after",
    ]
    assert [m.text for m in views.messages(team.room, limit=1)] == ["after"]


def test_one_witness_cannot_drag_an_honest_entry_back(store_for: StoreFor) -> None:
    """A liar's heads entry that claims to have held an honest message long before it was written moves it
    only while it is the only witness: more than half of the witnesses decide."""
    team = TestTeam(members=4)
    honest, liar, b, c = team.members
    old = team.post(b, "an old message")
    team.tick(3_600_000)
    message = team.post(honest, "ordered at 10:00")
    named = {b.key: [old.seq, old.id], team.founder.key: [1, team.founder.entries[0].id]}
    named[honest.key] = [message.seq, message.id]
    liar.write("heads", {"heads": named}, clock=old.clock + 5)  # "I held it an hour before it was written"
    store = load(store_for, team)
    assert Views(store).messages(team.room)[-1].clock == old.clock + 5, "alone, the liar moves it"
    heads(b, team)
    heads(c, team)
    store = load(store_for, team)
    placed = Views(store).messages(team.room)[-1]
    assert placed.text == "ordered at 10:00" and placed.clock == message.clock and placed.time_doubt is None


def test_a_witness_whose_clock_is_far_behind_moves_nothing(store_for: StoreFor) -> None:
    """A node a day slow signs heads naming entries of 'tomorrow': it is no witness, even alone."""
    team = TestTeam(members=2)
    slow, b = team.members
    message = team.post(b, "today")
    heads(slow, team, clock=message.clock - 86_400_000)
    store = load(store_for, team)
    assert Views(store).messages(team.room)[-1].clock == message.clock


def test_a_backdated_post_sits_after_what_its_author_had_seen(store_for: StoreFor) -> None:
    """The defect: a member backdated 'owner ordered us to stand down' so that it showed before older
    messages. Its own earlier heads entry names what it held: it cannot sit before those."""
    team = TestTeam(members=2)
    backdater, b = team.members
    team.post(b, "hold the line")
    team.tick(60_000)
    order = team.post(team.founder, "evacuate sector 4")
    # Its clock runs behind (or it lies): its chain, hourly heads included, says 'long before the order' ...
    heads(backdater, team, clock=order.clock - 2_400_000)  # ... but names the order: it held it
    backdater.write("msg.post", {"room": team.room, "text": "owner ordered us to stand down"}, clock=order.clock - 1)
    store = load(store_for, team)
    shown = Views(store).messages(team.room)
    assert [m.text for m in shown] == ["hold the line", "evacuate sector 4", "owner ordered us to stand down"]
    backdated = shown[-1]
    assert backdated.claimed == order.clock - 1 and backdated.clock == order.clock + 1, "right after what it had seen"
    assert shown[1].clock == order.clock, "a witness whose clock is that far behind moves nothing"


def test_a_late_arrival_shows_when_it_was_received(store_for: StoreFor) -> None:
    """An entry that reaches a node long after its clock claims, when the node already held later entries
    (written offline, held back, or backdated), says when it arrived beside its time."""
    team = TestTeam(members=2)
    backdater, b = team.members
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in team.all_entries()], now=team.clock)
    first = team.post(b, "first")
    store.accept(first.raw, now=first.clock)
    backdater.write("msg.post", {"room": team.room, "text": "claims 10 minutes later"}, clock=team.tick(600_000))
    team.tick(3_600_000)
    news = team.post(b, "an hour later")
    store.accept(news.raw, now=news.clock)
    store.accept_batch([e.raw for e in backdater.entries], now=news.clock + 600_000)
    shown = Views(store).messages(team.room)
    assert [m.text for m in shown] == ["first", "claims 10 minutes later", "an hour later"]
    assert shown[0].time_doubt is None and shown[2].time_doubt is None
    doubt = shown[1].time_doubt
    assert doubt is not None and doubt.late and not doubt.moved and doubt.received == news.clock + 600_000
    assert time_doubt_text(doubt, str) == f"received {news.clock + 600_000}"


def test_a_history_received_at_once_is_not_late(store_for: StoreFor) -> None:
    """A newcomer (or HQ) that receives the whole history at once held nothing later before: nothing shows
    as late, although everything arrives long after it was written."""
    team = TestTeam(members=2)
    for i in range(3):
        team.post(team.members[i % 2], f"message {i}")
        team.tick(3_600_000)
    store = store_for(team.team_id)
    store.accept_batch([e.raw for e in team.all_entries()], now=team.clock + 86_400_000)
    shown = Views(store).messages(team.room)
    assert len(shown) == 3 and all(m.time_doubt is None for m in shown)
    assert all(m.received == team.clock + 86_400_000 for m in shown)


def test_a_reused_incident_id_is_refused_with_a_reason(store_for: StoreFor) -> None:
    """The defect: a member backdated an ``incident.open`` reusing an existing id to become its opener."""
    team = TestTeam(members=2)
    usurper, b = team.members
    incident = open_incident(team, b, "Bridge closed")
    usurper.write(
        "incident.open",
        {"incident": incident, "title": "Bridge open, carry on", "severity": 5},
        clock=b.entries[-1].clock - 1,  # "before" the real one
    )
    for reverse in (False, True):
        store = load(store_for, team, reverse=reverse)
        obj = Views(store).incidents()[0]
        assert obj.opened_by == b.key and obj.get("title") == "Bridge closed" and obj.get("severity") == 2
        [refused] = obj.refused
        assert refused.author == usurper.key and "belongs to another member" in refused.reason


def test_legacy_ids_fall_back_to_the_first_open(store_for: StoreFor) -> None:
    """Ids made before they named their opener: the first open in the team's order owns it."""
    team = TestTeam(members=2)
    first, second = team.members
    incident = bytes(16)
    open_incident(team, first, "first", incident)
    open_incident(team, second, "second", incident)
    obj = Views(load(store_for, team)).incidents()[0]
    assert obj.opened_by == first.key and obj.get("title") == "first"
    assert [r.author for r in obj.refused] == [second.key]


def test_the_cli_and_the_hq_timeline_say_what_a_doubtful_time_claims(store_for: StoreFor) -> None:
    """Where an entry sits and what its author's clock claimed, side by side, in every reader that shows times:
    the CLI's message line and the HQ timeline (the TUI: tests/tui/test_tui_time_doubt.py)."""
    team = TestTeam(members=3)
    rogue, b, c = team.members
    incident = open_incident(team, team.founder, "Levee breach")
    team.post(b, "before")
    rogue.write("msg.post", {"room": team.room, "text": "from 2076"}, clock=YEAR_2076)
    rogue.write("incident.update", {"incident": incident, "fields": {"status": "closed"}}, clock=YEAR_2076 + 60_000)
    heads(b, team)
    heads(c, team)
    store = load(store_for, team)
    views = Views(store)
    future = next(m for m in views.messages(team.room) if m.text == "from 2076")
    line = message_line(future, "rogue")
    assert f"time doubtful: claims {when(YEAR_2076)}" in line and line.startswith(when(future.clock))
    data = collect(store, report_filter=ReportFilter(), exported_at=team.clock, exported_by=team.founder.key)
    page = io.StringIO()
    write_timeline(data, page)
    html = page.getvalue()
    assert html.count(f"TIME DOUBTFUL: claims {utc(YEAR_2076)}") == 1
    assert html.count(f"TIME DOUBTFUL: claims {utc(YEAR_2076 + 60_000)}") == 1, "the incident update too"
