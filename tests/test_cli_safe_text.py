"""Every command of the CLI, fed hostile text everywhere a member, a file or a peer can put text, writes
nothing to the terminal that acts on it, and no line it prints can be faked by a newline (issue 12.5).

The text: every escape, bell, CR and bidi attack of ``meshchat.testing.TERMINAL_ATTACKS``, after a newline
that tries to start a line "Ana: stand down", in the team's name, names, callsigns, the room, its topic,
messages, incident and task fields, roll-call questions and notes, and a peer's error. The commands run
in-process with the file descriptors captured (what the terminal would receive); ``meshchat node`` runs as a
process of its own.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshchat.cli.main import main
from meshchat.events import PeerInfo, PeerStatus
from meshchat.log.positions import Report
from meshchat.log.safe_text import NEWLINE_MARK
from meshchat.log.views import Outsider
from meshchat.profile import STORE_FILE, Profile
from meshchat.status import STATUS_KEY, NodeStatus
from meshchat.testing import (
    FAKE_LINE,
    HOSTILE_TEXT,
    attack_characters_in,
    cli_commands,
    damage_database,
    free_port,
    node_process,
)

EVIL = FAKE_LINE + HOSTILE_TEXT  # 76 characters: fits every name field (80)
ROOM = FAKE_LINE + "\u00ab\x1b[2J\u00bb\u00ab\u202e\u00bb"  # a room's name has 40 at most
FAKED = "\nAna: stand down"  # what the newline in EVIL would print as a line of its own

# Commands that run the terminal UI: tests/tui/test_tui_safe_text.py sends the same text through its screens.
TUI_COMMANDS = {("ui",), ("demo",)}
# Started as a process of its own below (it runs until stopped).
PROCESS_COMMANDS = {("node",), ("tak",)}


def command_paths() -> set[tuple[str, ...]]:
    """Every command a person can run (``incident open``, ``members``, ``members add``, ...)."""
    return set(cli_commands())


class Terminal:
    """Runs commands in-process and keeps what each wrote to the terminal (stdout and stderr, at the fd)."""

    def __init__(self, capfd: pytest.CaptureFixture[str], root: Path) -> None:
        self.capfd = capfd
        self.root = root
        self.ran: dict[tuple[str, ...], list[str]] = {}

    def run(self, who: str, *argv: str, shows_text: bool = True) -> str:
        code = main(["--home", str(self.root / who), *argv])
        out, err = self.capfd.readouterr()
        output = out + err
        words = tuple(argv[:2])
        self.ran.setdefault(words if words in _PATHS else words[:1], []).append(output)
        where = f"meshchat {' '.join(argv)}"
        assert code == 0, (where, output)
        assert not attack_characters_in(output), (where, output)
        assert FAKED not in output and not output.startswith(FAKED[1:]), (where, output)
        assert "Traceback" not in output, (where, output)
        if shows_text:  # the hostile text was shown (made visible: safe_text, JSON or repr), not left out
            assert any(shown in output for shown in ("[U+001B]", "\\u001b", "\\x1b")), (where, output)
        return output


_PATHS = command_paths()


@pytest.fixture
def terminal(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> Iterator[Terminal]:
    yield Terminal(capfd, tmp_path)


def _only(pattern: str, text: str) -> str:
    found = re.findall(pattern, text)
    assert len(found) == 1, (pattern, text)
    return str(found[0])


def test_every_command_shows_hostile_text_safely(terminal: Terminal, tmp_path: Path) -> None:
    t = terminal
    t.run("ana", "init", "--team", EVIL, "--name", EVIL, "--callsign", EVIL)
    t.run("ana", "id", shows_text=False)
    t.run("ana", "whoami")
    t.run("ana", "profile", "--name", EVIL, "--callsign", EVIL)
    t.run("ana", "room", "create", ROOM, "--topic", EVIL)
    t.run("ana", "rooms")
    t.run("ana", "room", "archive", ROOM)
    t.run("ana", "post", "general", EVIL, "--flash", shows_text=False)
    t.run("ana", "log")
    t.run("ana", "log", "general")
    hostile_file = tmp_path / f"{EVIL}.pdf"  # a file name is member text too: it travels in the message
    hostile_file.write_bytes(b"%PDF-1.4 evil")
    t.run("ana", "post", "general", EVIL, "--attach", str(hostile_file))
    blob = _only(r"blob ([0-9a-f]{16})", t.run("ana", "files"))
    (tmp_path / "saved").mkdir()
    t.run("ana", "save", blob, str(tmp_path / "saved"))
    t.run("ana", "fetch", blob)
    opened = t.run("ana", "incident", "open", EVIL, "--severity", "2", "--location", EVIL)
    incident = _only(r"opened incident ([0-9a-f]{8})", opened)
    t.run(
        "ana", "incident", "update", incident, "--commander", EVIL, "--summary", EVIL, "--title", EVIL, shows_text=False
    )
    t.run("ana", "incident", "list")
    t.run("ana", "incident", "show", incident)
    task = _only(r"opened task ([0-9a-f]{8})", t.run("ana", "task", "open", EVIL, "--incident", incident))
    t.run("ana", "task", "update", task, "--title", EVIL, shows_text=False)
    t.run("ana", "position", "52.0907", "5.1214", shows_text=False)
    t.run("ana", "position", "31U FT 12345 67890", "--json", shows_text=False)
    t.run("ana", "position")
    with Profile.open(tmp_path / "ana") as ana:  # what a TAK bridge writes: an outsider's words and position
        outsider = Outsider("tak", EVIL, EVIL[:40])
        ana.relay_post(ana.room("general").room, EVIL, outsider)
        ana.relay_position(outsider, Report(1, 2, 10, fix_ms=1_790_000_000_000))
        me = ana.me.hex()[:8]
    t.run("ana", "positions")
    t.run("ana", "positions", "--json")
    t.run("ana", "positions", "--track", me)
    assert "(TAK) via" in t.run("ana", "log", "general")
    t.run("ana", "task", "list")
    checkin = _only(r"roll call ([0-9a-f]{8})", t.run("ana", "checkin", "request", "general", EVIL, shows_text=False))
    invite = t.run("ana", "invite", "--qr", "--address", "127.0.0.1:9")
    code = _only(r"meshchat join (MC2\S+)", invite)

    # Bo joins with the code (which carries the team's hostile name); no node runs here, so Ana adds Bo's key
    # (as if read over the radio), and they trade bundles.
    joined = t.run("bo", "join", code, "--name", EVIL, "--callsign", EVIL, "--wait", "0")
    t.run("ana", "members", "add", _only(r"your key is ([0-9a-f]{64})", joined), "--name", EVIL)
    t.run("bo", "bundle", "frontier", str(tmp_path / "bo.frontier"), shows_text=False)
    t.run(
        "ana",
        "bundle",
        "export",
        str(tmp_path / "ana.bundle"),
        "--for",
        str(tmp_path / "bo.frontier"),
        shows_text=False,
    )
    t.run("bo", "bundle", "import", str(tmp_path / "ana.bundle"), shows_text=False)
    t.run("bo", "post", "general", EVIL, "--flash", shows_text=False)
    t.run("bo", "checkin", "reply", checkin, "need_help", "--note", EVIL, shows_text=False)
    t.run("bo", "pending")
    t.run("bo", "position", "--clear", shows_text=False)
    t.run("bo", "bundle", "export", str(tmp_path / "bo.bundle"), shows_text=False)
    t.run("ana", "bundle", "import", str(tmp_path / "bo.bundle"), shows_text=False)

    with Profile.open(tmp_path / "ana") as ana:
        bo = next(k for k in ana.store.membership.members if k != ana.me)
        flash = next(m for m in ana.views.messages(ana.room("general").room) if m.author == bo)
        team = ana.team_id.hex()[:12]
    t.run("ana", "pending")
    t.run("ana", "search", "stand", "down")  # messages, incidents and tasks that hold the hostile text
    for mark in ("ack", "pin", "retract"):
        t.run("ana", mark, flash.id.hex()[:8], shows_text=False)
    t.run("ana", "checkin", "list")
    t.run("ana", "members")
    t.run("ana", "members", "role", bo.hex()[:8], "observer")
    stranger = os.urandom(32).hex()
    t.run("ana", "members", "add", stranger, "--name", EVIL)
    t.run("ana", "members", "remove", stranger[:8])
    t.run("ana", "invites")
    unused = _only(r"invite revoke ([0-9a-f]{8})", t.run("ana", "invite", "--role", "observer"))
    t.run("ana", "invite", "revoke", unused, shows_text=False)

    _store_a_peer_status(tmp_path / "ana")
    t.run("ana", "peers")

    t.run("ana", "export", "--out", str(tmp_path / "export"), shows_text=False)
    (tmp_path / "export" / f"{EVIL}.txt").write_text("a file nobody vouched for, with a hostile name")
    t.run("ana", "verify", str(tmp_path / "export"))
    t.run("ana", "verify", "--json", str(tmp_path / "export"))
    t.run("hq", "import", str(tmp_path / "export"))
    t.run("hq", "teams")
    t.run("hq", "export", "--team", team, "--out", str(tmp_path / "hq-out"), shows_text=False)

    # A copy of Ana's home whose database a failing disk damaged, rebuilt from it and the bundles.
    shutil.copytree(tmp_path / "ana", tmp_path / "carol")
    damage_database(tmp_path / "carol" / STORE_FILE)
    bundles = ("--bundle", str(tmp_path / "ana.bundle"), "--bundle", str(tmp_path / "bo.bundle"))
    t.run("carol", "repair", "--offline", *bundles, shows_text=False)
    t.run("carol", "log")

    untested = _PATHS - TUI_COMMANDS - PROCESS_COMMANDS - set(t.ran)
    assert not untested, f"commands never run with hostile text here: {sorted(untested)}"


def _store_a_peer_status(home: Path) -> None:
    """What a running node would have stored: a peer whose link ended with a hostile reason."""
    peer = PeerStatus(PeerInfo("10.0.0.7:7766", "static", os.urandom(32)), "closed", 3, 4, None, f"refused: {EVIL}")
    status = NodeStatus(os.getpid(), int(time.time() * 1000), ("127.0.0.1:7766",), (peer,))
    with Profile.open(home) as profile:
        profile.store.set_local(STATUS_KEY, status.encode())


def test_the_node_logs_hostile_names_safely(tmp_path: Path) -> None:
    """``meshchat node`` logs the team's name and its peers' reasons: one record per line, nothing raw."""
    home = tmp_path / "ana"
    Profile.init(home, EVIL, display_name=EVIL).close()
    with node_process(home) as node:
        node.wait_listening()
    output = node.stop()
    first = output.splitlines()[0]
    assert "starting" in first, first
    assert not attack_characters_in(output), output
    assert FAKED not in output
    assert "\\x1b" in first or "[U+001B]" in first  # the team's name, shown


def test_the_tak_bridge_logs_hostile_names_safely(tmp_path: Path) -> None:
    """``meshchat tak`` logs the team's name, and says why it cannot reach its server: nothing raw."""
    home = tmp_path / "ana"
    Profile.init(home, EVIL, display_name=EVIL).close()
    env = {**os.environ, "MESHCHAT_HOME": str(home)}
    port = free_port()  # nobody listens on it
    command = [sys.executable, "-m", "meshchat.cli.main", "tak", "--server", f"127.0.0.1:{port}", "--room", ROOM]
    bridge = subprocess.Popen(
        [*command, "--no-listen", "--no-discovery"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert bridge.stderr is not None
        seen = [bridge.stderr.readline() for _ in range(4)]
        assert any("cannot reach tcp://127.0.0.1" in line for line in seen), seen
    finally:
        bridge.send_signal(signal.SIGTERM)
        out, err = bridge.communicate(timeout=60)
    output = "".join(seen) + out + err
    assert not attack_characters_in(output), output
    assert FAKED not in output
    assert "\\x1b" in output or "[U+001B]" in output  # the team's name, shown
    with Profile.open(home) as ana:
        assert ana.views.find_room(ROOM) is not None  # an admin's bridge made its (hostile) room


def test_a_record_of_the_node_log_stays_one_line(capfd: pytest.CaptureFixture[str]) -> None:
    """A peer's reason with a newline is one log line, shown safely (the filter ``meshchat node`` installs)."""
    import logging

    from meshchat.terminal import OneLineLogRecords, guarded_terminal

    with guarded_terminal():
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(OneLineLogRecords())
        log = logging.getLogger("test.safe")
        log.addHandler(handler)
        log.propagate = False
        try:
            log.warning("link closed: %s", EVIL)
        finally:
            log.removeHandler(handler)
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and NEWLINE_MARK in err and not attack_characters_in(err), err


def test_every_command_is_covered() -> None:
    """A new command must be added to the run above (or be a TUI command tested with the TUI)."""
    assert ("log",) in _PATHS and ("incident", "show") in _PATHS and ("members", "add") in _PATHS
    assert TUI_COMMANDS <= _PATHS and PROCESS_COMMANDS <= _PATHS


def test_a_forgotten_print_still_shows_nothing_raw(capfd: pytest.CaptureFixture[str]) -> None:
    """The net under ``say``: while a command runs, ``print`` and ``sys.stderr`` show only safe text."""
    from meshchat.terminal import guarded_terminal

    with guarded_terminal():
        print(HOSTILE_TEXT)  # a command that forgot to call say
        sys.stderr.write(HOSTILE_TEXT + "\n")
    out, err = capfd.readouterr()
    assert not attack_characters_in(out + err) and out == err and "[U+202E]" in out, (out, err)
    assert sys.stdout is not None and not hasattr(sys.stdout, "raw")  # restored afterwards


def test_progress_redraws_its_line_but_shows_a_hostile_file_name_safely() -> None:
    """Progress lines are redrawn in place with the program's own CR and erase-line, under the guard; the file
    name in the label (from a USB stick) is shown safe."""
    import io

    from meshchat.export.progress import Progress
    from meshchat.terminal import SafeTextStream

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    progress = Progress(SafeTextStream(tty), delay=0, interval=0)
    progress.stage(f"importing {ROOM}", 10)
    progress.advance(5)
    progress.done()
    text = tty.getvalue()
    assert text.startswith("\r\x1b[K") and text.count("\r\x1b[K") == 2
    assert not attack_characters_in(text.replace("\r\x1b[K", "")) and "[U+202E]" in text, text


def test_commands_print_only_through_say() -> None:
    """``say`` keeps one piece of text on one line; a bare ``print`` in a command would not."""
    cli = Path(__file__).parent.parent / "meshchat" / "cli"
    bare = [
        f"{path.name}:{number}"
        for path in sorted(cli.glob("*.py"))
        if path.name != "output.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bprint\(|\.write\(", line)
    ]
    assert not bare, f"print through meshchat.cli.output.say instead: {bare}"
