"""``meshchat search TEXT`` (issue 14.7): the same search as the TUI's, from the command line."""

from __future__ import annotations

from pathlib import Path

from meshchat.profile import Profile
from meshchat.testing import run_cli, team_homes


def test_meshchat_search_finds_messages_incidents_and_tasks(tmp_path: Path) -> None:
    (home,) = team_homes(tmp_path, 1)
    with Profile.open(home) as profile:
        profile.post("general", "Sandbags needed at the north levee, km 4")
        profile.post("general", "Pump truck blocked on the bridge road")
        incident = profile.open_incident("Levee breach at km 4", 2, location="north dam")
        profile.open_task("Bring sandbags to km 4", incident=incident)
    out = run_cli(home, "search", "sandbag").stdout.splitlines()
    assert len(out) == 2
    assert out[0].startswith("task ") and "Bring sandbags to km 4" in out[0]  # the newest first
    assert out[1].startswith("#general ") and "Sandbags needed at the north levee, km 4" in out[1]
    out = run_cli(home, "search", "KM", "4", "levee").stdout.splitlines()
    assert [line.split()[0] for line in out] == ["incident", "#general"]
    assert "S2 major" in out[0] and "Levee breach at km 4" in out[0]
    assert run_cli(home, "search", "helicopter").stdout.strip() == "nothing found for 'helicopter'"
