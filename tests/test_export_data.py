"""HQ data: ``entries.jsonl`` (and the other machine-readable files) hold the log as the log says it, and
``verify`` names any line that does not."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from export_support import HOSTILE, copy_export, export, found_team, frames, resign, sync

from meshchat.export import manifest
from meshchat.export.entries import ENTRIES_FILE, MAX_NAMED
from meshchat.export.verify import verify_export
from meshchat.identity import Identity
from meshchat.log.entry import Entry
from meshchat.profile import Profile


@dataclass
class Team:
    out: Path
    ana: Profile
    ben: Profile
    cy: Profile
    before_rename: Entry
    after_rename: Entry
    hostile: Entry


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    root = tmp_path_factory.mktemp("data")
    ana, ben, cy = found_team(root)
    before = ben.post("general", "Water rising at the north levee")
    ben.set_profile("Benjamin", "BRAVO-2")
    after = ben.post("general", "Sandbags at the bridge")
    hostile = cy.post("general", HOSTILE)
    for a, b in ((ben, ana), (cy, ana)):
        sync(a, b)
    flash = ana.post("general", "Evacuate sector 4", flash=True)
    sync(ana, cy)
    cy.ack(flash.id)
    sync(cy, ana)
    out = root / "export"
    export(ana, out)
    yield Team(out, ana, ben, cy, before, after, hostile)
    for p in (ana, ben, cy):
        p.close()


def lines(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / ENTRIES_FILE).read_text(encoding="utf-8").splitlines()]


# ---- entries.jsonl -----------------------------------------------------------------------------------------


def test_entries_jsonl_holds_every_entry_decoded_in_the_teams_order(team: Team) -> None:
    docs = lines(team.out)
    _, log = frames(team.out / manifest.LOG_FILE)
    assert len(docs) == len(log) == team.ana.store.count()
    assert {d["id"] for d in docs} == {f.entry.id.hex() for f in log}
    order = [(d["clock_ms"], d["author"], d["seq"]) for d in docs]
    assert order == sorted(order)  # the team's order, not the log stream's author-by-author order
    by_id = {d["id"]: d for d in docs}
    first = by_id[team.before_rename.id.hex()]
    assert (first["kind"], first["author"], first["seq"]) == ("msg.post", team.ben.me.hex(), team.before_rename.seq)
    assert first["body"] == {
        "ack_required": False,
        "priority": "routine",
        "room": team.ana.room("general").room.hex(),  # bytes as hex
        "text": "Water rising at the north levee",
    }
    assert first["prev"] == team.before_rename.prev.hex()  # type: ignore[union-attr]
    assert first["sig"] == team.before_rename.sig.hex() and len(first["sig"]) == 128  # type: ignore[arg-type]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(first["time_utc"]))
    assert first["clock_ms"] == team.before_rename.clock
    genesis = docs[0]
    assert genesis["kind"] == "team.create" and genesis["seq"] == 1 and genesis["prev"] is None


def test_authors_are_named_as_they_were_called_at_the_time(team: Team) -> None:
    by_id = {d["id"]: d for d in lines(team.out)}
    before, after = by_id[team.before_rename.id.hex()], by_id[team.after_rename.id.hex()]
    assert (before["author_name"], before["author_callsign"]) == ("Ben", "")
    assert (after["author_name"], after["author_callsign"]) == ("Benjamin", "BRAVO-2")


def test_text_is_exact_and_safe_to_print(team: Team) -> None:
    raw = (team.out / ENTRIES_FILE).read_bytes()
    for char in ("\x1b", "\x00", "\u202e", "\u202c"):
        assert char.encode() not in raw  # escaped as \\u001b etc.: cat, less and a terminal show it inert
    assert b"\\u202e" in raw and b"\\u001b" in raw
    hostile = next(d for d in lines(team.out) if d["id"] == team.hostile.id.hex())
    assert hostile["body"]["text"] == HOSTILE  # type: ignore[index]  # decoding gives back the exact characters


def test_untouched_data_files_are_checked_against_the_log(team: Team) -> None:
    report = verify_export(team.out)
    assert report.ok, report.errors
    assert report.data_checked[ENTRIES_FILE] == team.ana.store.count()
    listed = json.loads((team.out / manifest.MANIFEST_FILE).read_text(encoding="utf-8"))["files"]
    assert ENTRIES_FILE in listed


def _forge(team: Team, tmp_path: Path, change: object) -> Path:
    """A copy of the export whose entries.jsonl was changed by ``change(list of lines)``, the manifest
    re-signed by a forger's key so that only the content check can say what is wrong with the file."""
    out = copy_export(team.out, tmp_path / "forged")
    text = (out / ENTRIES_FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    change(text)  # type: ignore[operator]
    (out / ENTRIES_FILE).write_text("".join(text), encoding="utf-8")
    resign(out, Identity.generate())
    return out


def _index(team: Team, entry: Entry) -> int:
    return next(i for i, d in enumerate(lines(team.out)) if d["id"] == entry.id.hex())


def test_a_changed_line_is_named_with_its_entry_and_field(team: Team, tmp_path: Path) -> None:
    i = _index(team, team.after_rename)

    def change(text: list[str]) -> None:
        text[i] = text[i].replace("Sandbags at the bridge", "Sandbags at the school")

    report = verify_export(_forge(team, tmp_path, change))
    (problem,) = [p for p in report.errors if p.code == "entries-changed"]
    assert (problem.author, problem.seq, problem.id) == (team.ben.me, team.after_rename.seq, team.after_rename.id)
    assert problem.where == f"{ENTRIES_FILE} line {i + 1}" and "in: body" in problem.message


def test_a_renamed_author_is_named(team: Team, tmp_path: Path) -> None:
    i = _index(team, team.before_rename)

    def change(text: list[str]) -> None:
        text[i] = text[i].replace('"author_name":"Ben"', '"author_name":"Cy"')

    report = verify_export(_forge(team, tmp_path, change))
    (problem,) = [p for p in report.errors if p.code == "entries-changed"]
    assert problem.seq == team.before_rename.seq and "in: author_name" in problem.message


def test_dropped_swapped_and_added_lines_are_named(team: Team, tmp_path: Path) -> None:
    i = _index(team, team.hostile)

    def drop(text: list[str]) -> None:
        del text[i]

    report = verify_export(_forge(team, tmp_path / "drop", drop))
    assert not report.ok
    codes = {p.code for p in report.errors}
    assert "entries-changed" in codes and "entries-missing" in codes
    first = next(p for p in report.errors if p.code == "entries-changed")
    assert first.id == team.hostile.id and "another entry" in first.message

    def swap(text: list[str]) -> None:
        text[i], text[i + 1] = text[i + 1], text[i]

    report = verify_export(_forge(team, tmp_path / "swap", swap))
    assert len([p for p in report.errors if p.code == "entries-changed"]) == 2

    def add(text: list[str]) -> None:
        text.append(text[-1])

    report = verify_export(_forge(team, tmp_path / "add", add))
    assert [p.code for p in report.errors if p.code.startswith("entries")] == ["entries-extra"]

    def garbage(text: list[str]) -> None:
        text[i] = "{not json\n"

    report = verify_export(_forge(team, tmp_path / "garbage", garbage))
    problem = next(p for p in report.errors if p.code == "entries-changed")
    assert problem.id == team.hostile.id and "not a JSON object" in problem.message


def test_many_changed_lines_are_named_up_to_a_bound_then_counted(team: Team, tmp_path: Path) -> None:
    def rename_everyone(text: list[str]) -> None:
        text[:] = [line.replace('"author_name":"', '"author_name":"X') for line in text] * 2  # and twice over

    report = verify_export(_forge(team, tmp_path, rename_everyone))
    total = team.ana.store.count()
    named = [p for p in report.errors if p.code == "entries-changed" and p.seq is not None]
    assert len(named) == min(total, MAX_NAMED) and all("in: author_name" in p.message for p in named)
    rest = [p for p in report.errors if p.code == "entries-changed" and p.seq is None]
    assert total <= MAX_NAMED or rest[0].message.startswith(f"{total - MAX_NAMED} more lines")
    assert [p.code for p in report.errors if p.code == "entries-extra"] == ["entries-extra"]


def test_the_same_content_spelled_otherwise_is_not_a_change(team: Team, tmp_path: Path) -> None:
    """Verify compares content: another JSON writer (key order, escapes, spacing) writes the same records."""

    def respell(text: list[str]) -> None:
        text[:] = [json.dumps(json.loads(line), sort_keys=True, indent=None) + "\n" for line in text]

    report = verify_export(_forge(team, tmp_path, respell))
    assert not [p for p in report.problems if p.code.startswith("entries")]
    assert report.data_checked[ENTRIES_FILE] == team.ana.store.count()
