"""A post costs the same in a team with 10,000 rooms, 10,000 incidents and 1,000 members as in a fresh team.

Measured as a person posts: ``Profile.post`` with the room's name (the CLI's ``meshchat post general TEXT``),
every write committed durably. The two homes post in turns in the same run, so machine noise (other work,
fsync latency) hits both alike, and the test compares medians: the ratio, never absolute times.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from meshchat.profile import Profile
from meshchat.testing import TestTeam, author_home

ROOMS = 10_000
INCIDENTS = 10_000
MEMBERS = 1_000
POSTS = 25


def _busy_team() -> TestTeam:
    team = TestTeam(members=MEMBERS)
    founder = team.founder
    for i in range(ROOMS):
        body = {"room": i.to_bytes(16, "big"), "name": f"room {i}", "topic": ""}
        founder.write("room.create", body, clock=team.tick())
    for i in range(INCIDENTS):
        body = {"incident": i.to_bytes(16, "big"), "title": f"incident {i}", "severity": 1 + i % 5}
        founder.write("incident.open", body, clock=team.tick())
    return team


def _raws(team: TestTeam) -> list[bytes]:
    return [entry.raw for entry in team.all_entries()]


def _post_times(profile: Profile, label: str, times: list[float]) -> None:
    start = time.perf_counter()
    profile.post("general", f"{label} {len(times)}")
    times.append(time.perf_counter() - start)


def test_a_post_costs_the_same_in_a_busy_team(tmp_path: Path) -> None:
    fresh_team, busy_team = TestTeam(members=2), _busy_team()
    key = b"k" * 32
    fresh_home = author_home(tmp_path / "fresh", fresh_team.founder, network_key=key, raws=_raws(fresh_team))
    busy_home = author_home(tmp_path / "busy", busy_team.founder, network_key=key, raws=_raws(busy_team))
    fresh_times: list[float] = []
    busy_times: list[float] = []
    with Profile.open(fresh_home) as fresh, Profile.open(busy_home) as busy:
        assert len(busy.views.rooms()) == ROOMS + 1
        _post_times(fresh, "warm-up", [])
        _post_times(busy, "warm-up", [])
        for _ in range(POSTS):
            _post_times(fresh, "fresh", fresh_times)
            _post_times(busy, "busy", busy_times)
        assert busy.views.message_count(busy.room("general").room) == POSTS + 1
    ratio = statistics.median(busy_times) / statistics.median(fresh_times)
    assert ratio < 2.0, (
        f"a post costs {ratio:.1f}x as much with {ROOMS:,} rooms, {INCIDENTS:,} incidents and {MEMBERS:,} members "
        f"(median {statistics.median(busy_times) * 1000:.2f} ms against {statistics.median(fresh_times) * 1000:.2f} ms)"
    )
