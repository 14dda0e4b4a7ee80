"""The human reports: what they show, in which order, and that hostile text stays text."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from export_support import HOSTILE, Page, export, found_team, sync

from meshchat.export.reports import ReportFilter
from meshchat.export.reports.text import clean, csv_cell, h, utc_time
from meshchat.export.writer import export_store
from meshchat.log.entry import Entry
from meshchat.profile import Profile

WORLD = "Pumpe läuft — évacuez la zone 3, 東京 team ✓"


@dataclass
class Op:
    out: Path
    ana: Profile
    ben: Profile
    cy: Profile
    incident: bytes
    hostile: Entry
    flash: Entry
    retracted: Entry
    ack: Entry
    reply: Entry


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Op]:
    root = tmp_path_factory.mktemp("op")
    ana, ben, cy = found_team(root)
    ana.create_room("levee", "north levee works")
    sync(ana, ben)
    sync(ana, cy)
    incident = ana.open_incident("Levee breach", 2, location="north dam", room="levee")
    sync(ana, ben)
    hostile = ben.post("levee", HOSTILE)
    flash = ana.post("levee", "Evacuate sector 4", flash=True)
    retracted = cy.post("general", "Wrong sector, ignore")
    sync(ana, cy)
    sync(ben, cy)
    ack = cy.ack(flash.id)
    reply = cy.post("levee", "Moving out now", reply_to=flash.id)
    cy.retract(retracted.id)
    cy.pin(flash.id)
    sync(cy, ana)
    sync(ben, ana)
    ana.update_incident(incident.hex(), {"status": "active", "commander": "=Ana"})
    ana.open_task("Sandbags to the bridge", owner=ben.me, incident=incident.hex())
    checkin = ana.request_checkin("levee", "Roll call: are you safe?")
    sync(ana, ben)
    ben.reply_checkin(checkin, "need_help", "stuck on the roof")
    ben.reply_checkin(checkin, "safe", "picked up")
    sync(ben, ana)
    ana.update_incident(incident.hex(), {"status": "closed"})
    ben.post("general", WORLD)
    ben.post("general", "=1+2 people at the pump")
    sync(ben, ana)
    out = root / "export"
    export(ana, out)
    yield Op(out, ana, ben, cy, incident, hostile, flash, retracted, ack, reply)
    for p in (ana, ben, cy):
        p.close()


# ---- escaping ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["timeline.html", "ics309.html", "ics214/team.html"])
def test_hostile_text_stays_text_in_html(op: Op, name: str) -> None:
    html = (op.out / name).read_text(encoding="utf-8")
    page = Page(html)
    assert "script" not in page.tags and "img" not in page.tags and "link" not in page.tags
    assert not any(k.startswith("on") for k, _ in page.attrs)
    assert not any(v and ("http:" in v or "https:" in v) for _, v in page.attrs)
    if name != "ics214/team.html":
        assert clean(HOSTILE.splitlines()[0])[:60] in page.all_text
    assert "\u202e" not in html and "\x00" not in html and "\x1b" not in html  # shown as [U+202E] etc.


def test_timeline_needs_nothing_from_outside(op: Op) -> None:
    html = (op.out / "timeline.html").read_text(encoding="utf-8")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    for needle in ("<script", "<link", "src=", "url(", "@import", "http://", "https://"):
        assert needle not in html.replace(h(HOSTILE), "")  # the hostile text itself is escaped, inert text


def test_csv_cells_are_data_not_formulas(op: Op) -> None:
    rows = list(csv.DictReader(io.StringIO((op.out / "messages.csv").read_text(encoding="utf-8-sig"), newline="")))
    hostile = next(r for r in rows if r["id"] == op.hostile.id.hex())
    assert hostile["text"] == clean(HOSTILE) and hostile["text"].startswith("<script>")
    assert csv_cell("=SUM(A1)") == "'=SUM(A1)" and csv_cell("@x") == "'@x" and csv_cell("-1") == "'-1"
    assert csv_cell("plain") == "plain"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@")), row


@pytest.mark.parametrize("name", ["messages.csv", "ics309.csv"])
def test_csv_opens_in_a_spreadsheet_with_the_right_characters_and_dates(op: Op, name: str) -> None:
    """The bytes Excel and LibreOffice see: a UTF-8 byte-order mark (else Excel reads the file as the
    machine's 8-bit code page), CRLF rows, times as ``YYYY-MM-DD HH:MM:SS`` with the zone in its own column
    (a trailing ``Z`` or a ``T`` makes both keep the time as text), and formulas kept inert."""
    raw = (op.out / name).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbftime,zone,") and raw.count(b"\xef\xbb\xbf") == 1
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")  # no bare LF outside cells here
    assert WORLD.encode("utf-8") in raw  # UTF-8, one encoding for every character
    flash_row = next(line for line in raw.split(b"\r\n") if op.flash.id.hex().encode() in line)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(op.flash.clock // 1000)).encode()
    assert flash_row.startswith(when + b",UTC,")
    for line in raw.split(b"\r\n")[1:-1]:
        assert re.match(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,UTC,", line), line
    assert b"'=1+2 people at the pump" in raw and b",=1+2" not in raw


def test_json_holds_everything_escaped(op: Op) -> None:
    doc = json.loads((op.out / "incidents.json").read_text(encoding="utf-8"))
    (incident,) = doc["incidents"]
    assert incident["commander"] == "=Ana"  # JSON is data: no neutralising, only invisible characters shown


# ---- what the reports say ----------------------------------------------------------------------------------


def test_messages_csv_lists_every_message_with_its_marks(op: Op) -> None:
    rows = list(csv.DictReader(io.StringIO((op.out / "messages.csv").read_text(encoding="utf-8-sig"), newline="")))
    by_id = {r["id"]: r for r in rows}
    assert len(rows) == len(by_id) == 6
    assert [r["clock_ms"] for r in rows] == sorted(r["clock_ms"] for r in rows)
    flash = by_id[op.flash.id.hex()]
    assert (flash["priority"], flash["ack_required"], flash["pinned"]) == ("flash", "yes", "yes")
    assert flash["acknowledged_by"] == f"Cy #{op.ack.seq}"
    retracted = by_id[op.retracted.id.hex()]
    assert (retracted["retracted"], retracted["retracted_by"], retracted["text"]) == (
        "yes",
        "Cy",
        "Wrong sector, ignore",
    )
    assert by_id[op.reply.id.hex()]["reply_to"] == op.flash.id.hex()
    assert flash["seq"] == str(op.flash.seq) and flash["author_key"] == op.ana.me.hex()


def test_timeline_shows_messages_incidents_and_checkins_inline(op: Op) -> None:
    page = Page((op.out / "timeline.html").read_text(encoding="utf-8"))
    text = page.all_text
    order = [
        "Incident opened: Levee breach (S2 major) at north dam",
        "Evacuate sector 4",
        "Moving out now",
        "Incident Levee breach: status \u2192 active; commander \u2192 =Ana",
        "Task opened: Sandbags to the bridge (owner Ben) for incident Levee breach",
        "Roll call: Roll call: are you safe?",
        "NEED HELP: stuck on the roof",
        "SAFE: picked up",
        "Incident Levee breach: status \u2192 closed",
    ]
    timeline = text[text.index("Timeline") :]
    positions = [timeline.index(s) for s in order]
    assert positions == sorted(positions)
    assert "RETRACTED by Cy" in timeline and "Wrong sector, ignore" in timeline
    assert "FLASH" in timeline and "PINNED" in timeline
    assert f"acknowledged by 1: Cy {utc_time(op.ack.clock)}" in timeline  # who, and when


def test_ics214_activity_log_of_an_incident(op: Op) -> None:
    page = Page((op.out / "ics214" / f"{op.incident.hex()}.html").read_text(encoding="utf-8"))
    text = page.all_text
    assert "1. Incident name" in text and "Levee breach (S2 major, status closed)" in text
    period = text[text.index("2. Operational period") : text.index("3. Unit")]
    assert "ongoing" not in period and period.count("Z") == 2  # closed: from the opening to the closing
    resources = text[text.index("6. Resources assigned") : text.index("7. Activity log")]
    assert "=Ana" in resources and "Incident Commander" in resources
    assert "Ben" in resources and "Task owner: Sandbags to the bridge" in resources
    activity = text[text.index("7. Activity log") :]
    expected = [
        "Incident opened: Levee breach",
        "Evacuate sector 4 (in #levee, pinned by Cy)",  # a pinned message in the incident's room
        "commander \u2192 =Ana",
        "Task opened: Sandbags to the bridge",
        "Roll call: are you safe?",
        "status \u2192 closed",
    ]
    positions = [activity.index(s) for s in expected]
    assert positions == sorted(positions)
    assert "Moving out now" not in activity  # not pinned: not notable


def test_team_activity_log_has_need_help_answers_and_names_each_author_once(op: Op) -> None:
    text = Page((op.out / "ics214" / "team.html").read_text(encoding="utf-8")).all_text
    activity = text[text.index("7. Activity log") :]
    assert "Ben: NEED HELP: stuck on the roof" in activity  # a member in trouble is notable
    assert "Ben: SAFE" not in activity  # routine answers are for the roll-call table, not the activity log
    assert "HQ1 (Ana): Evacuate sector 4 (in #levee, pinned by Cy)" in activity
    assert "HQ1 (Ana): HQ1 (Ana)" not in activity and "Ben: Ben" not in activity


def test_severities_read_as_on_the_board(op: Op) -> None:
    timeline = Page((op.out / "timeline.html").read_text(encoding="utf-8")).all_text
    start = timeline.index("Last change")  # the board's header row
    board = timeline[start : timeline.index("Roll calls", start)]
    assert "S2 major" in board and "Levee breach" in board
    ics = Page((op.out / "ics214" / f"{op.incident.hex()}.html").read_text(encoding="utf-8")).all_text
    assert "(S2 major, status closed)" in ics and "severity 2" not in ics


def test_ics309_gives_sender_and_receiver_numbers(op: Op) -> None:
    rows = list(csv.DictReader(io.StringIO((op.out / "ics309.csv").read_text(encoding="utf-8-sig"), newline="")))
    flash = next(r for r in rows if r["id"] == op.flash.id.hex())
    assert flash["from"].startswith("HQ1") and flash["from_msg_no"] == str(op.flash.seq)
    assert flash["to"] == "#levee (all)" and flash["to_msg_nos"] == f"Cy #{op.ack.seq}"
    assert flash["subject"] == "FLASH: Evacuate sector 4"
    reply = next(r for r in rows if r["id"] == op.reply.id.hex())
    assert reply["to"].startswith("HQ1") and f"re #{op.flash.seq}" in reply["to"]
    assert next(r for r in rows if r["id"] == op.retracted.id.hex())["subject"].endswith("(retracted)")
    html = Page((op.out / "ics309.html").read_text(encoding="utf-8")).all_text
    assert "FLASH: Evacuate sector 4" in html and "Msg #" in html


def test_filters_narrow_reports_but_never_the_log(op: Op, tmp_path: Path) -> None:
    levee = op.ana.room("levee").room
    since = op.reply.clock
    out = tmp_path / "narrow"
    result = export_store(op.ana.store, op.ana.identity, out, report_filter=ReportFilter(since=since, room=levee))
    assert result.entries == op.ana.store.count()  # the log is whole
    rows = list(csv.DictReader(io.StringIO((out / "messages.csv").read_text(encoding="utf-8-sig"), newline="")))
    assert [r["id"] for r in rows] == [op.reply.id.hex()]
    text = Page((out / "timeline.html").read_text(encoding="utf-8")).all_text
    assert "Evacuate sector 4" not in text.split("Timeline")[-1] and "Moving out now" in text
    assert "this report shows from" in text
