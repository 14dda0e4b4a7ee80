"""A courier with no team key forges an export (issue 12.4), and how HQ pins what it expects.

The courier has the USB stick and nothing else. They drop the tail of one author's log (with the exporter's
own heads entry in it) and the whole log of another author, import what is left into a throwaway home and
export it again from there: every chain holds, every signature checks, the manifest agrees with the log.
What gives it away is the signer: a key that is no member of the team. And HQ, having heard the team id and
the exporter's key over the radio, pins both.
"""

from __future__ import annotations

import re
from pathlib import Path

from export_support import found_team

from meshchat.export import manifest
from meshchat.export.framing import StreamHeader, StreamWriter, read_entries, read_header
from meshchat.log.entry import decode_entry
from meshchat.testing import run_cli


def _pins(output: str) -> tuple[str, str]:
    """The team and signer pins ``meshchat export`` printed for HQ (as read over the radio)."""
    team = re.search(r"team\s+((?:[0-9a-f]{4} ){7}[0-9a-f]{4})", output)
    signer = re.search(r"signer\s+((?:[0-9a-f]{4} ){7}[0-9a-f]{4})", output)
    assert team and signer, output
    return team.group(1), signer.group(1)


def _team_of_three(root: Path) -> Path:
    ana, ben, cy = found_team(root)
    for n in range(3):
        ana.post("general", f"Levee report {n}")
        ben.post("general", f"Sandbags {n}")
        cy.post("general", f"Shelter count {n}")
    for a in (ana, ben, cy):
        for b in (ana, ben, cy):
            if a is not b:
                b.store.accept_batch(list(a.store.iter_raw()))
    homes = ana.home
    for p in (ana, ben, cy):
        p.close()
    return homes


def _forge(export: Path, out: Path, *, drop_author: bytes, cut_author: bytes, keep: int) -> Path:
    """The courier's bundle: ``drop_author``'s whole log gone, ``cut_author``'s cut after ``keep`` entries."""
    with (export / manifest.LOG_FILE).open("rb") as f:
        header = read_header(f, where="log")
        raws = [fr.data for fr in read_entries(f, header, where="log")]
    kept = []
    for raw in raws:
        entry = decode_entry(raw)
        if entry.author == drop_author or (entry.author == cut_author and entry.seq > keep):
            continue
        kept.append(raw)
    with out.open("wb") as f:
        writer = StreamWriter(f, StreamHeader(header.team, "bundle", len(kept), header.made_by, header.made))
        for raw in kept:
            writer.write(raw)
    return out


def test_a_couriers_forgery_re_signed_by_a_throwaway_key_fails(tmp_path: Path) -> None:
    ana_home = _team_of_three(tmp_path / "team")
    stick, forged = tmp_path / "stick", tmp_path / "forged"
    exported = run_cli(ana_home, "export", "--out", str(stick)).stdout
    doc = manifest.parse_json((stick / manifest.MANIFEST_FILE).read_bytes(), where="m")
    authors = {a["name"]: a for a in doc["authors"]}
    ana, cy = bytes.fromhex(authors["Ana"]["key"]), bytes.fromhex(authors["Cy"]["key"])

    keep = authors["Ana"]["entries"] - 3  # her heads entry and her last two posts go
    bundle = _forge(stick, tmp_path / "forged.bundle", drop_author=cy, cut_author=ana, keep=keep)
    courier = tmp_path / "courier"
    run_cli(courier, "import", str(bundle))
    run_cli(courier, "export", "--out", str(forged))

    plain = run_cli(courier, "verify", str(forged), ok=False)
    assert plain.returncode == 1, plain.stdout  # main printed VERIFIED and exited 0
    assert "signer-not-member" in plain.stdout and "FAILED" in plain.stdout
    assert re.search(r"WARNING\s+missing-author: Cy " + cy.hex()[:16], plain.stdout), plain.stdout

    team_pin, ana_pin = _pins(exported)  # as HQ heard them over the radio
    assert team_pin.replace(" ", "") == doc["team"]["id"][:32] and ana_pin.replace(" ", "") == ana.hex()[:32]
    pins = ("--expect-team", team_pin, "--expect-signer", ana_pin)
    pinned = run_cli(courier, "verify", *pins, str(forged), ok=False)
    assert pinned.returncode == 1 and "unexpected-signer" in pinned.stdout, pinned.stdout

    genuine = run_cli(courier, "verify", *pins, str(stick))
    assert "VERIFIED" in genuine.stdout and "signer as expected" in genuine.stdout, genuine.stdout


def test_an_hq_archive_export_verifies_against_the_archive_key_only(tmp_path: Path) -> None:
    ana_home = _team_of_three(tmp_path / "team")
    team_pin, ana_pin = _pins(run_cli(ana_home, "export", "--out", str(tmp_path / "stick")).stdout)
    hq = tmp_path / "hq"
    run_cli(hq, "import", str(tmp_path / "stick"))
    archived = run_cli(hq, "export", "--team", team_pin.replace(" ", ""), "--out", str(tmp_path / "merged")).stdout
    _, archive_pin = _pins(archived)
    assert "no member" in archived  # the archive says what its signature is worth

    unpinned = run_cli(hq, "verify", str(tmp_path / "merged"), ok=False)
    assert unpinned.returncode == 1 and "signer-not-member" in unpinned.stdout
    as_ana = run_cli(hq, "verify", "--expect-signer", ana_pin, str(tmp_path / "merged"), ok=False)
    assert as_ana.returncode == 1 and "unexpected-signer" in as_ana.stdout
    ok = run_cli(hq, "verify", "--expect-team", team_pin, "--expect-signer", archive_pin, str(tmp_path / "merged"))
    assert "VERIFIED" in ok.stdout


def test_another_team_of_the_same_name_is_not_the_expected_team(tmp_path: Path) -> None:
    real = _team_of_three(tmp_path / "real")
    team_pin, _ = _pins(run_cli(real, "export", "--out", str(tmp_path / "real-export")).stdout)
    fake = _team_of_three(tmp_path / "fake")  # "Flood response" too, founded by someone else
    _, fake_signer = _pins(run_cli(fake, "export", "--out", str(tmp_path / "fake-export")).stdout)
    pins = ("--expect-team", team_pin, "--expect-signer", fake_signer)
    result = run_cli(fake, "verify", *pins, str(tmp_path / "fake-export"), ok=False)
    assert result.returncode == 1 and "unexpected-team" in result.stdout, result.stdout


def test_a_pin_too_short_to_pin_anything_is_refused(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "verify", "--expect-signer", "3fa2 c1d0", str(tmp_path), ok=False)
    assert result.returncode == 2 and "32 to 64 hex digits" in result.stderr, result.stderr
