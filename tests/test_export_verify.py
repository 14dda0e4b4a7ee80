"""verify: an untouched export verifies; any tampering is detected and the entry it touched is named."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from export_support import HOSTILE, LogFrame, copy_export, export, found_team, frames, resign, rewrite_log, sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshchat.export import manifest
from meshchat.export.bundle import import_stream
from meshchat.export.errors import ExportError
from meshchat.export.framing import frame_prefix
from meshchat.export.heads import write_heads
from meshchat.export.problems import Severity, VerifyReport
from meshchat.export.verify import verify_export
from meshchat.export.writer import export_store
from meshchat.identity import Identity
from meshchat.log.entry import Entry, sign_entry
from meshchat.profile import Profile
from meshchat.store import Store


@dataclass
class Built:
    out: Path
    ana: Profile
    ben: Profile
    cy: Profile
    named_cy: Entry  # cy's entry named by ben's heads entry


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("team")
    ana, ben, cy = found_team(root)
    ben.post("general", "Water rising at the north levee")
    hostile = cy.post("general", HOSTILE)
    incident = ana.open_incident("Levee breach", 2, location="north dam", room="general")
    for i in range(6):
        ben.post("general", f"sandbags at bridge {i}")
        cy.post("general", f"road {i} blocked")
    sync(cy, ben)
    named_cy = cy.store.entry(cy.me, cy.store.head(cy.me).seq)  # type: ignore[union-attr]
    write_heads(ben)  # ben's witness: names cy's head as it is now
    cy.post("general", "after ben's heads entry")
    for a, b in ((ben, ana), (cy, ana)):
        sync(a, b)
    cy.retract(hostile.id)
    sync(cy, ana)
    ana.update_incident(incident.hex(), {"status": "active", "commander": "Ana"})
    out = root / "export"
    export(ana, out)
    assert named_cy is not None
    yield Built(out, ana, ben, cy, named_cy)
    for p in (ana, ben, cy):
        p.close()


def errors(report: VerifyReport) -> list[tuple[str, bytes | None, int | None]]:
    return [(p.code, p.author, p.seq) for p in report.errors]


def names_entry(report: VerifyReport, entry: Entry, code: str | None = None) -> bool:
    """Whether some error names ``entry`` by author and seq (and by id, where it gives one)."""
    return any(
        p.author == entry.author and p.seq == entry.seq and (p.id is None or p.id == entry.id)
        for p in report.errors
        if code is None or p.code == code
    )


def middle_of_a_chain(log: list[LogFrame], author: bytes) -> LogFrame:
    mine = [f for f in log if f.entry.author == author]
    return mine[len(mine) // 2]


# ---- the untouched export ----------------------------------------------------------------------------------


def test_untouched_export_verifies(built: Built) -> None:
    report = verify_export(built.out)
    assert report.ok, report.errors
    assert not report.warnings
    header, log = frames(built.out / manifest.LOG_FILE)
    assert report.entries == len(log) == header.entries == built.ana.store.count()
    assert report.signatures_checked == len(log)
    assert report.authors == 3
    assert sorted(report.roles.values()) == ["member", "member", "owner"]
    assert report.heads_checked >= 3  # ben's and ana's heads entries name every author
    assert report.team_name == "Flood response"
    assert report.exported_by == built.ana.me and report.signer_role == "owner"
    retracted = [r for r in report.retractions if r.effective]
    assert len(retracted) == 1 and retracted[0].target_author == built.cy.me


def test_verify_needs_only_the_directory(built: Built, tmp_path: Path) -> None:
    moved = copy_export(built.out, tmp_path / "usb" / "export")
    assert verify_export(moved).ok


# ---- any byte changed --------------------------------------------------------------------------------------


def test_every_byte_of_an_entry_frame_changed_is_detected_and_named(built: Built, tmp_path: Path) -> None:
    """Exhaustive over one entry in the middle of a chain: its length prefix and every byte it holds."""
    _, log = frames(built.out / manifest.LOG_FILE)
    target = middle_of_a_chain(log, built.ben.me)
    original = (built.out / manifest.LOG_FILE).read_bytes()
    size = len(frame_prefix(len(target.data))) + len(target.data)
    work = copy_export(built.out, tmp_path / "x")
    for position in range(target.offset, target.offset + size):
        changed = bytearray(original)
        changed[position] ^= 0x01
        (work / manifest.LOG_FILE).write_bytes(bytes(changed))
        report = verify_export(work, workers=1)
        assert not report.ok, f"byte {position} changed, not detected"
        named = names_entry(report, target.entry) or any(
            f"frame {target.index} " in p.where + p.message for p in report.errors
        )
        assert named, f"byte {position}: {[p.message for p in report.errors]}"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_byte_of_any_file_changed_is_detected(built: Built, data: st.DataObject) -> None:
    files = sorted(p.relative_to(built.out).as_posix() for p in built.out.rglob("*") if p.is_file())
    name = data.draw(st.sampled_from(files), label="file")
    size = (built.out / name).stat().st_size
    position = data.draw(st.integers(0, size - 1), label="offset")
    flip = data.draw(st.integers(1, 255), label="xor")
    with tempfile.TemporaryDirectory() as tmp:
        work = copy_export(built.out, Path(tmp) / "x")
        content = bytearray((work / name).read_bytes())
        content[position] ^= flip
        (work / name).write_bytes(bytes(content))
        report = verify_export(work, workers=1)
    assert not report.ok, f"{name} byte {position} ^ {flip} not detected"


# ---- dropping, reordering, swapping ------------------------------------------------------------------------


@pytest.mark.parametrize("careful", [False, True], ids=["naive", "re-signed"])
def test_entry_dropped_from_the_middle_of_a_chain_is_named(built: Built, tmp_path: Path, careful: bool) -> None:
    work = copy_export(built.out, tmp_path / "x")
    _, log = frames(work / manifest.LOG_FILE)
    dropped = middle_of_a_chain(log, built.cy.me)
    if careful:
        rewrite_log(work, [f.data for f in log if f is not dropped])
        resign(work, Identity.generate())
    else:
        raw = (work / manifest.LOG_FILE).read_bytes()
        size = len(frame_prefix(len(dropped.data))) + len(dropped.data)
        (work / manifest.LOG_FILE).write_bytes(raw[: dropped.offset] + raw[dropped.offset + size :])
    report = verify_export(work)
    assert names_entry(report, dropped.entry, "gap"), errors(report)
    gap = next(p for p in report.errors if p.code == "gap")
    assert gap.id == dropped.entry.id  # the id of the missing entry, from its successor's prev


@pytest.mark.parametrize("careful", [False, True], ids=["naive", "re-signed"])
def test_reordered_entries_are_named(built: Built, tmp_path: Path, careful: bool) -> None:
    work = copy_export(built.out, tmp_path / "x")
    _, log = frames(work / manifest.LOG_FILE)
    first = middle_of_a_chain(log, built.ben.me)
    second = log[first.index]  # the next frame: same author, next seq
    assert second.entry.author == first.entry.author and second.entry.seq == first.entry.seq + 1
    raws = [f.data for f in log]
    raws[first.index - 1], raws[first.index] = raws[first.index], raws[first.index - 1]
    rewrite_log(work, raws)
    if careful:
        resign(work, Identity.generate())
    report = verify_export(work)
    assert names_entry(report, first.entry, "order"), errors(report)


def test_author_sections_swapped_are_detected(built: Built, tmp_path: Path) -> None:
    work = copy_export(built.out, tmp_path / "x")
    _, log = frames(work / manifest.LOG_FILE)
    by_author: dict[bytes, list[bytes]] = {}
    for f in log:
        by_author.setdefault(f.entry.author, []).append(f.data)
    sections = list(by_author.values())
    sections[1], sections[2] = sections[2], sections[1]
    rewrite_log(work, [raw for section in sections for raw in section])
    resign(work, Identity.generate())
    report = verify_export(work)
    assert any(p.code == "order" for p in report.errors), errors(report)


@pytest.mark.parametrize("same_key", [False, True], ids=["stranger", "same-author-other-team"])
def test_entry_of_another_team_swapped_in_is_named(built: Built, tmp_path: Path, same_key: bool) -> None:
    """Also the sneaky case: the same person's entry with the same seq and prev, from another team they
    belong to."""
    work = copy_export(built.out, tmp_path / "x")
    _, log = frames(work / manifest.LOG_FILE)
    replaced = middle_of_a_chain(log, built.ben.me)
    signer = built.ben.identity if same_key else Identity.generate()
    foreign = sign_entry(
        signer,
        team_id=bytes(range(32)),
        seq=replaced.entry.seq,
        prev=replaced.entry.prev,
        clock=replaced.entry.clock,
        kind="msg.post",
        body={"room": bytes(16), "text": "from another team"},
    )
    rewrite_log(work, [foreign.raw if f is replaced else f.data for f in log])
    resign(work, Identity.generate())
    report = verify_export(work)
    assert names_entry(report, foreign, "other-team"), errors(report)
    assert names_entry(report, replaced.entry, "gap"), errors(report)


# ---- completeness: the tail ----------------------------------------------------------------------------------


def test_dropped_tail_is_caught_by_a_heads_entry_even_in_a_consistent_forgery(built: Built, tmp_path: Path) -> None:
    """A forger drops cy's tail and exports the shortened log from a store of their own: every chain holds
    and the manifest agrees with the log, but ben's signed heads entry names an entry that is not there."""
    _, log = frames(built.out / manifest.LOG_FILE)
    named = built.named_cy
    kept = [f.data for f in log if not (f.entry.author == named.author and f.entry.seq >= named.seq)]
    forger = Identity.generate()
    with Store.create(tmp_path / "forger.db", built.ana.team_id) as store:
        import_stream(store, kept)
        assert store.head(named.author).seq == named.seq - 1  # type: ignore[union-attr]
        export_store(store, forger, tmp_path / "forged")
    report = verify_export(tmp_path / "forged")
    assert {p.code for p in report.errors} == {"missing-head", "signer-not-member"}  # the forger's key is no member
    assert names_entry(report, named, "missing-head")  # and ben's and ana's heads entries both witness
    assert report.signer_role == "unknown"


def test_manifest_lies_are_named(built: Built, tmp_path: Path) -> None:
    work = copy_export(built.out, tmp_path / "x")
    doc = manifest.parse_json((work / manifest.MANIFEST_FILE).read_bytes(), where="m")
    authors = doc["authors"]
    authors[1] = {**authors[1], "role": "admin"}
    resign(work, Identity.generate(), team={**doc["team"], "name": "Other name"}, authors=authors)
    report = verify_export(work)
    messages = [p.message for p in report.errors if p.code == "manifest"]
    assert any("'team'" in m for m in messages), messages
    assert any("role" in m and "'admin'" in m for m in messages), messages


def test_changed_report_is_named(built: Built, tmp_path: Path) -> None:
    work = copy_export(built.out, tmp_path / "x")
    page = (work / "timeline.html").read_text()
    (work / "timeline.html").write_text(page.replace("Water rising", "All calm"))
    report = verify_export(work)
    assert [(p.code, p.where) for p in report.errors] == [("file-changed", "timeline.html")]


def test_file_added_after_export_is_a_warning(built: Built, tmp_path: Path) -> None:
    work = copy_export(built.out, tmp_path / "x")
    (work / "notes.txt").write_text("HQ notes")
    report = verify_export(work)
    assert report.ok and [(p.code, p.where) for p in report.warnings] == [("extra-file", "notes.txt")]


def test_entries_of_a_stranger_are_named(built: Built, tmp_path: Path) -> None:
    work = copy_export(built.out, tmp_path / "x")
    _, log = frames(work / manifest.LOG_FILE)
    stranger = Identity.generate()
    team_id = built.ana.team_id
    first = sign_entry(
        stranger,
        team_id=team_id,
        seq=1,
        prev=None,
        clock=log[-1].entry.clock + 1,
        kind="msg.post",
        body={"room": bytes(16), "text": "let me in"},
    )
    rewrite_log(work, [f.data for f in log] + [first.raw])
    resign(work, Identity.generate())
    report = verify_export(work)
    assert names_entry(report, first, "unknown-author"), errors(report)


# ---- what a correct export may hold: forks and writes after a removal ----------------------------------------


def test_fork_is_a_warning_naming_the_entry(tmp_path: Path) -> None:
    ana, ben, cy = found_team(tmp_path)
    try:
        ben.post("general", "first")
        head = ben.store.head(ben.me)
        assert head is not None
        before = ben.store.entry(ben.me, head.seq - 1)
        assert before is not None
        twin = sign_entry(
            ben.identity,
            team_id=ana.team_id,
            seq=head.seq,
            prev=before.id,
            clock=head.clock,
            kind="msg.post",
            body={"room": ana.room("general").room, "text": "second version"},
        )
        sync(ben, ana)
        ana.store.accept(twin.raw)
        out = tmp_path / "export"
        export(ana, out)
        report = verify_export(out)
        assert report.ok, report.errors
        forks = [p for p in report.warnings if p.code == "fork"]
        assert [(p.author, p.seq) for p in forks] == [(ben.me, head.seq)]
        assert twin.id.hex() in forks[0].message and head.id.hex() in forks[0].message
        assert report.fork_proofs == 1
    finally:
        for p in (ana, ben, cy):
            p.close()


def test_writes_after_a_removal_are_a_warning_naming_the_first(tmp_path: Path) -> None:
    """ben stored cy's post before the removal reached him: a correct node, and the post has no effect."""
    ana, ben, cy = found_team(tmp_path)
    try:
        cy.post("general", "still here")
        sync(cy, ana)
        ana.remove_member(cy.me)  # cut at the post above
        late = cy.post("general", "written before cy learned of the removal")
        sync(cy, ben)
        sync(ana, ben)
        out = tmp_path / "export"
        export(ben, out)
        report = verify_export(out)
        assert report.ok, report.errors
        assert [(p.code, p.author, p.seq, p.id) for p in report.warnings] == [
            ("after-removal", cy.me, late.seq, late.id)
        ]
        assert report.roles == {ana.me: "owner", ben.me: "member", cy.me: "removed"}
    finally:
        for p in (ana, ben, cy):
            p.close()


# ---- not an export, truncated, garbage -----------------------------------------------------------------------


def test_not_an_export_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="not a meshchat export"):
        verify_export(tmp_path)
    with pytest.raises(ExportError, match="not a directory"):
        verify_export(tmp_path / "nothing")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b[:3], "truncated"),
        (lambda b: b"", "empty"),
        (lambda b: b"\x00garbage" * 100, "not a msgpack bin frame"),
        (lambda b: b + b"\xc4\x01\x90", "more entries than"),
    ],
    ids=["half", "three-bytes", "empty", "garbage", "extra-frame"],
)
def test_truncated_or_garbage_log_is_a_clear_finding(
    built: Built, tmp_path: Path, damage: object, expected: str
) -> None:
    work = copy_export(built.out, tmp_path / "x")
    raw = (work / manifest.LOG_FILE).read_bytes()
    (work / manifest.LOG_FILE).write_bytes(damage(raw))  # type: ignore[operator]
    report = verify_export(work)
    assert not report.ok
    assert any(expected in p.message for p in report.errors if p.code == "framing"), [p.message for p in report.errors]


def test_garbage_manifest_is_a_clear_finding(built: Built, tmp_path: Path) -> None:
    work = copy_export(built.out, tmp_path / "x")
    (work / manifest.MANIFEST_FILE).write_bytes(b"\xff\xfe not json")
    (work / manifest.SIGNATURE_FILE).unlink()
    report = verify_export(work)
    assert [p.code for p in report.errors] == ["manifest"]
    assert "UTF-8" in report.errors[0].message
    assert report.entries > 0  # the log is still checked, by the team its header names


def test_severity_order_puts_errors_first(built: Built, tmp_path: Path) -> None:
    work = copy_export(built.out, tmp_path / "x")
    (work / "extra.txt").write_text("x")
    (work / "messages.csv").write_text("x")
    report = verify_export(work)
    assert [p.severity for p in report.problems] == [Severity.ERROR, Severity.WARNING] + [Severity.INFO] * 4
    # operation.sqlite, positions.geojson and positions.kml, and entries.jsonl's effective clocks: verify_all
    # compares them too
    assert {p.code for p in report.problems[2:]} == {"data-unchecked", "effective-unchecked"}
    shutil.rmtree(work)


def test_links_and_devices_in_an_export_are_not_followed(built: Built, tmp_path: Path) -> None:
    work = copy_export(built.out, tmp_path / "x")
    (work / "timeline.html").unlink()
    (work / "timeline.html").symlink_to("/dev/zero")
    (work / manifest.FORKS_FILE).unlink()
    (work / manifest.FORKS_FILE).symlink_to(built.out / manifest.FORKS_FILE)
    report = verify_export(work)
    found = {(p.code, p.where) for p in report.errors}
    assert ("missing-file", "timeline.html") in found
    assert any(p.code == "framing" and "not a regular file" in p.message for p in report.errors)


def test_the_exporters_own_heads_entry_must_be_in_the_log(built: Built, tmp_path: Path) -> None:
    work = copy_export(built.out, tmp_path / "x")
    doc = manifest.parse_json((work / manifest.MANIFEST_FILE).read_bytes(), where="m")
    written = doc["heads_entry"]
    assert written["author"] == built.ana.me.hex()
    resign(work, Identity.generate(), heads_entry={**written, "id": "00" * 32})
    report = verify_export(work)
    found = [(p.code, p.seq) for p in report.errors]
    assert found == [("signer-not-member", None), ("missing-head", written["seq"])], found
