"""Per-author fair scheduling: one member posting as fast as it can does not hold back everyone else's
messages. The sync session serves authors the peer already knows in turns, one batch each, so a calm
member's new message goes out in the next batch even behind a backlog of thousands from a flooder (the
end-to-end figure is ``bench/flood.py``)."""

from __future__ import annotations

from meshchat.proto.events import EntriesReceived
from meshchat.testing import ConnectionPair, MemoryLog, TestTeam


def test_a_flooding_author_does_not_hold_back_a_calm_one() -> None:
    team = TestTeam(members=2)
    flooder, calm = team.members
    team.post(flooder, "first")
    team.post(calm, "first")
    known = team.all_entries()  # both authors known to the receiver
    for i in range(10_000):
        team.post(flooder, f"flood {i}")
    urgent = team.post(calm, "need help at the bridge")
    sender = MemoryLog(team.all_entries())
    pair = ConnectionPair.create(MemoryLog(known), sender)
    pair.run()
    batches = [e.raws for e in pair.events["client"] if isinstance(e, EntriesReceived)]
    assert sum(map(len, batches)) == 10_001  # everything arrived
    arrived_in = next(i for i, raws in enumerate(batches) if urgent.raw in raws)
    flood_batches = sum(1 for raws in batches if raws[0] != urgent.raw)
    assert flood_batches >= 5, "the flood should take several batches"
    assert arrived_in <= 1, f"the calm member's message waited behind {arrived_in} flood batches"
