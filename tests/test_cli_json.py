"""Every reading command has ``--json``: one JSON document of the shape docs/cli.md gives ("JSON output"),
the same object for the same thing in every command (a message in ``log`` and ``pending`` alike)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from meshchat.cli.main import main
from meshchat.events import PeerInfo, PeerStatus
from meshchat.identity import Identity
from meshchat.profile import Profile
from meshchat.status import STATUS_KEY, NodeStatus
from meshchat.testing import cli_commands

TIME = {"clock": int, "time": str}
MESSAGE = {
    "id": str,
    "room": str,
    "room_name": str,
    "author": str,
    "author_name": str,
    "seq": int,
    **TIME,
    "claimed": dict,
    "received": (dict, type(None)),
    "text": str,
    "priority": str,
    "flash": bool,
    "ack_required": bool,
    "acked_by": list,
    "pinned": bool,
    "retracted": bool,
    "reply_to": (str, type(None)),
    "location": (dict, type(None)),
    "files": list,
}
MEMBER = {"key": str, "name": str, "callsign": str, "role": (str, type(None)), "removed_upto": (int, type(None))}
MEMBER |= {"added_by": (str, type(None))}
CHANGE = {"field": str, "value": object, "by": str, "by_name": str, **TIME}
TRACKED = {"id": str, "opened_by": str, "opened_by_name": str, "opened": dict, "last_change": dict}
INCIDENT = {**TRACKED, "title": str, "severity": int, "status": str, "commander": object, "location": object}
INCIDENT |= {"summary": object, "room": (str, type(None))}
TASK = {**TRACKED, "title": str, "status": str, "owner": (str, type(None)), "owner_name": (str, type(None))}
TASK |= {"incident": (str, type(None))}
CHECKIN = {"id": str, "room": str, "question": str, "deadline": (dict, type(None)), "requested_by": str}
CHECKIN |= {"requested_by_name": str, **TIME, "replies": list, "missing": list}
INVITE = {"id": str, "invite_key": str, "role": str, "state": str, "expires": dict, "issuer": str}
INVITE |= {
    "issuer_name": str,
    "used_by": (str, type(None)),
    "used": (dict, type(None)),
    "revoked_by": (str, type(None)),
}
PEER = {"address": str, "found_by": str, "key": (str, type(None)), "state": str, "why": str, "entries_in": int}
PEER |= {"entries_out": int, "duplicates_in": int, "bytes_in": int, "bytes_out": int, "error": str}
PEER |= {"last_sync": (dict, type(None))}
ROOM = {"id": str, "name": str, "topic": str, "archived": bool, "created_by": str, "created_by_name": str}
ROOM |= {**TIME, "messages": int}
TEAM = {"team": str, "name": str, "entries": int, "path": str, "verification": dict}
WHOAMI = {"key": str, "name": str, "callsign": str, "role": (str, type(None)), "status": str, "team": str}
WHOAMI |= {"team_name": str, "home": str, "writing_paused": (str, type(None))}
PEERS = {"running": bool, "pid": (int, type(None)), "listen": list, "peers": list}


def fits(document: Any, shape: dict[str, Any]) -> None:
    """``document`` has exactly the keys of ``shape``, each value of its type."""
    assert isinstance(document, dict), document
    assert set(document) == set(shape), (sorted(set(document) ^ set(shape)), document)
    for key, kind in shape.items():
        assert isinstance(document[key], kind), (key, document[key])


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """Ana's home: Bo a member, messages (a FLASH Ana acknowledged, a pinned one, a retracted one, a reply),
    an incident with a task Bo owns, a roll call Ana answered, an invite, and a node's status."""
    home = tmp_path / "ana"
    bo = Identity.generate().public_key
    with Profile.init(home, "Flood response", display_name="Ana", callsign="LEAD-1") as ana:
        ana.add_member(bo, "member", "Bo")
        first = ana.post("general", "Water rising")
        ana.post("general", "Evacuate sector 4", flash=True)
        ana.pin(first.id)
        ana.post("general", "Reply", reply_to=first.id)
        ana.retract(ana.post("general", "wrong room").id)
        incident = ana.open_incident("Levee breach", 2, location="north dam")
        ana.update_incident(incident, {"status": "active", "commander": "Ana"})
        ana.open_task("Sandbags", owner=bo, incident=incident)
        checkin = ana.request_checkin("general", "Safe?")
        ana.reply_checkin(checkin, "safe", "all good")
        from meshchat.invites import create_invite

        create_invite(ana, role="observer", addresses=(), ttl_ms=3_600_000)
        peer = PeerStatus(PeerInfo("10.0.0.5:7766", "static", bo), "live", 12, 3, 1_790_000_000_000, why="static peer")
        status = NodeStatus(os.getpid(), int(datetime.now().timestamp() * 1000), ("0.0.0.0:7766",), (peer,))
        ana.store.set_local(STATUS_KEY, status.encode())
    return home


def run_json(home: Path, capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> Any:
    assert main(["--home", str(home), *argv, "--json"]) == code
    return json.loads(capsys.readouterr().out)


def test_messages(team: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = run_json(team, capsys, "log", "general")
    for message in log:
        fits(message, MESSAGE)
    texts = [m["text"] for m in log]
    assert texts == ["Water rising", "Evacuate sector 4", "Reply", "wrong room"]
    water, flash, reply, wrong = log
    assert flash["flash"] and flash["ack_required"] and water["pinned"] and wrong["retracted"]
    assert reply["reply_to"] == water["id"] and water["room_name"] == "general"
    assert water["claimed"] == {"clock": water["clock"], "time": water["time"]}  # no member's clock was far off
    assert abs(water["received"]["clock"] - water["clock"]) < 60_000  # when this home stored it: as it was written
    assert water["author_name"] == "LEAD-1"  # members are shown by callsign when they have one
    assert datetime.fromisoformat(water["time"]).timestamp() * 1000 == pytest.approx(water["clock"], abs=1)
    assert datetime.fromisoformat(water["time"]).utcoffset() is not None  # local time, with its offset
    assert [m["text"] for m in run_json(team, capsys, "log")] == texts  # every room
    assert run_json(team, capsys, "pending") == []  # Ana wrote the FLASH herself


def test_members_incidents_tasks_checkins(team: Path, capsys: pytest.CaptureFixture[str]) -> None:
    members = run_json(team, capsys, "members")
    for member in members:
        fits(member, MEMBER)
    assert [(m["name"], m["role"], m["callsign"]) for m in members] == [
        ("Ana", "owner", "LEAD-1"),
        ("Bo", "member", ""),
    ]
    [incident] = run_json(team, capsys, "incident", "list")
    fits(incident, INCIDENT)
    assert (incident["title"], incident["severity"], incident["status"]) == ("Levee breach", 2, "active")
    assert incident["location"] == {"text": "north dam"} and incident["commander"] == "Ana"
    fits(incident["last_change"], CHANGE)
    fits(incident["opened"], TIME)
    shown = run_json(team, capsys, "incident", "show", incident["id"][:6])
    fits(shown, {**INCIDENT, "history": list, "tasks": list})
    assert [c["field"] for c in shown["history"]][-2:] == ["commander", "status"]
    for change in shown["history"]:
        fits(change, CHANGE)
    [task] = shown["tasks"]
    fits(task, TASK)
    assert run_json(team, capsys, "task", "list") == [task]
    assert task["owner_name"] == "Bo" and task["incident"] == incident["id"] and task["status"] == "open"
    [checkin] = run_json(team, capsys, "checkin", "list")
    fits(checkin, CHECKIN)
    assert [(r["name"], r["status"], r["note"]) for r in checkin["replies"]] == [("LEAD-1", "safe", "all good")]
    assert [m["name"] for m in checkin["missing"]] == ["Bo"]


def test_invites_peers_rooms_teams_whoami(team: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [invite] = run_json(team, capsys, "invites")
    fits(invite, INVITE)
    assert (invite["role"], invite["state"], invite["issuer_name"]) == ("observer", "open", "LEAD-1")
    peers = run_json(team, capsys, "peers")
    fits(peers, PEERS)
    [peer] = peers["peers"]
    fits(peer, PEER)
    assert (peer["address"], peer["state"], peer["entries_in"], peer["why"]) == (
        "10.0.0.5:7766",
        "live",
        12,
        "static peer",
    )
    [room] = run_json(team, capsys, "rooms")
    fits(room, ROOM)
    assert (room["name"], room["messages"]) == ("general", 4)
    [own] = run_json(team, capsys, "teams")
    fits(own, TEAM)
    assert own["name"] == "Flood response"
    me = run_json(team, capsys, "whoami")
    fits(me, WHOAMI)
    assert (me["name"], me["callsign"], me["role"], me["team_name"]) == ("Ana", "LEAD-1", "owner", "Flood response")
    assert me["writing_paused"] is None


def test_search_and_files(team: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = run_json(team, capsys, "search", "levee")
    assert found["unindexed"] == 0
    [hit] = found["hits"]
    assert (hit["kind"], hit["whole_words"]) == ("incident", True)
    fits(hit["incident"], INCIDENT)
    [hit] = run_json(team, capsys, "search", "water")["hits"]
    fits(hit["message"], MESSAGE)
    assert hit["message"]["text"] == "Water rising"
    assert run_json(team, capsys, "search", "nowhere at all") == {"hits": [], "unindexed": 0}
    files = run_json(team, capsys, "files")
    assert files["messages"] == [] and files["held"] == {} and files["max_attach"] > files["auto_fetch"] > 0


def test_search_reads_a_team_of_an_hq_archive(team: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hq = tmp_path / "hq"
    assert main(["--home", str(team), "export", "--out", str(tmp_path / "export"), "--quiet"]) == 0
    assert main(["--home", str(hq), "import", str(tmp_path / "export")]) == 0
    capsys.readouterr()
    [hit] = run_json(hq, capsys, "search", "--team", "flood", "evacuate")["hits"]
    assert hit["message"]["text"] == "Evacuate sector 4" and hit["message"]["author_name"] == "LEAD-1"
    assert main(["--home", str(hq), "search", "--team", "flood", "sector"]) == 0
    assert "Evacuate sector 4" in capsys.readouterr().out


def test_no_node_running_is_said_in_json_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Profile.init(tmp_path / "h", "T").close()
    assert run_json(tmp_path / "h", capsys, "peers", code=1) == {
        "running": False,
        "pid": None,
        "listen": [],
        "peers": [],
    }


def test_every_reading_command_has_json() -> None:
    """A reading command is one whose output is what it is for: each must offer --json (docs/cli.md)."""
    reading = {
        ("log",),
        ("members",),
        ("peers",),
        ("incident", "list"),
        ("incident", "show"),
        ("task", "list"),
        ("checkin", "list"),
        ("pending",),
        ("invites",),
        ("teams",),
        ("whoami",),
        ("rooms",),
        ("verify",),
        ("search",),
        ("files",),
    }
    commands = cli_commands()
    assert reading <= set(commands)
    missing = [" ".join(path) for path in sorted(reading) if "--json" not in commands[path]._option_string_actions]
    assert not missing, missing
