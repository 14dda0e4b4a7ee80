"""The terminal UI, fed hostile text wherever a member can put text, writes none of it raw to the terminal
(issue 12.5). The app runs as ``meshchat ui`` in a pseudo-terminal, exactly as a person starts it; the test
reads every byte the app writes and visits every screen: the chat (rooms, header, messages, replies), the
incident board (board, detail, timeline, tasks, the update form), check-ins (FLASH list, roll calls,
answers), peers (a real second node whose member has a hostile name), the command palette, and the toasts a
new FLASH, a roll call and a fork raise. The guillemet-wrapped attacks of ``meshchat.testing`` must never
appear whole in those bytes (Textual writes escape codes of its own, so a raw attack is recognised by its
neighbours), and the characters Textual never writes itself (C1 controls, bidi and zero-width characters)
must not appear at all; the made-visible text ``[U+001B]`` must (the screens did show it). Nor is member
text ever read as Textual markup.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from tui_scene import GENERAL, Scene

from meshchat.testing import FAKE_LINE, HOSTILE_TEXT, TERMINAL_ATTACKS, node_process, raw_attacks_in, wait_until_sync

pytestmark = pytest.mark.slow

EVIL = FAKE_LINE + HOSTILE_TEXT  # 76 characters: fits every name field
ROOM = FAKE_LINE + "\u00ab\x1b[2J\u00bb\u00ab\u202e\u00bb"  # a room's name has 40 characters at most
MARKUP = "[@click=app.quit]tap[/]"  # as markup, a link that quits the app; it must show as these characters
LOGISTICS = bytes.fromhex("33" * 16)
INCIDENT = bytes.fromhex("44" * 16)
TASK = bytes.fromhex("55" * 16)
CHECKIN = bytes.fromhex("66" * 16)
NEVER_WRITTEN_BY_TEXTUAL = ("\u009b", "\u202e", "\u2066", "\u200b", "\u2028")
KEYS = {
    "f1": b"\x1bOP",
    "f2": b"\x1bOQ",
    "f3": b"\x1bOR",
    "f4": b"\x1bOS",
    "f5": b"\x1b[15~",
    "escape": b"\x1b",
    "ctrl+p": b"\x10",
}
COLUMNS, ROWS = 200, 50


class PtyApp:
    """A command in a pseudo-terminal of its own; every byte it writes is kept."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.master = master
        self.output = bytearray()
        self.lock = threading.Lock()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.output += chunk

    def bytes(self) -> bytes:
        with self.lock:
            return bytes(self.output)

    def press(self, *keys: str) -> None:
        for key in keys:
            os.write(self.master, KEYS.get(key, key.encode()))
            time.sleep(0.05)  # real time, as a person types: bytes written together read as one escape sequence

    def wait_for(self, pattern: str, since: int = 0, timeout: float = 30.0) -> int:
        """Wait until the output after byte ``since`` holds ``pattern``; returns the output's length then."""
        needle = pattern.encode()
        seen = 0

        def shown() -> bool:
            nonlocal seen
            data = self.bytes()
            seen = len(data)
            assert self.process.poll() is None or needle in data[since:], f"the app ended: {data[-2000:]!r}"
            return needle in data[since:]

        try:
            wait_until_sync(shown, timeout, what=repr(pattern))
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last output {self.bytes()[-3000:]!r}") from None
        return seen

    def quit(self) -> None:
        if self.process.poll() is None:
            os.write(self.master, b"\x11")  # ctrl+q
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=5)
        os.close(self.master)


def hostile_scene() -> Scene:
    scene = Scene(team=EVIL)
    for author in (scene.ana, scene.bo, scene.cy):
        scene.write(author, "member.profile", name=EVIL, callsign=EVIL)
    scene.write(scene.ana, "room.create", room=LOGISTICS, name=ROOM, topic=f"{MARKUP} {EVIL}")
    flash = scene.post(scene.bo, EVIL, flash=True)
    scene.post(scene.cy, EVIL, reply_to=flash.id)
    scene.write(scene.ana, "incident.open", incident=INCIDENT, title=EVIL, severity=1, location={"text": EVIL})
    fields = {"commander": EVIL, "summary": EVIL, "location": {"text": EVIL}}
    scene.write(scene.bo, "incident.update", incident=INCIDENT, fields=fields)
    scene.write(scene.ana, "task.open", task=TASK, title=EVIL, owner=scene.bo.key, incident=INCIDENT)
    scene.write(scene.bo, "checkin.request", checkin=CHECKIN, room=GENERAL, question=EVIL)
    scene.write(scene.cy, "checkin.reply", checkin=CHECKIN, status="need_help", note=EVIL)
    # The map: everyone's position (hostile names), an outsider relayed with a hostile callsign and uid, and
    # the incident (hostile title) with coordinates; the chat: the outsider's (hostile) words.
    for offset, author in enumerate((scene.ana, scene.bo, scene.cy)):
        fix = {"lat_e7": 520907000 + 20_000 * offset, "lon_e7": 51214000, "accuracy_m": 9, "fix_ms": scene.clock}
        scene.write(author, "position", source="gps", **fix)
    outsider = {"net": "tak", "uid": EVIL, "callsign": EVIL[:40]}
    relayed = {"lat_e7": 520807000, "lon_e7": 51314000, "accuracy_m": 9, "fix_ms": scene.clock}
    scene.write(scene.bo, "position.relay", via=outsider, **relayed)
    scene.post(scene.bo, EVIL, via=outsider)
    located = {"text": EVIL, "lat_e7": 520957000, "lon_e7": 51114000}
    scene.write(scene.bo, "incident.update", incident=INCIDENT, fields={"location": located})
    return scene


def test_no_screen_writes_hostile_text_raw(tmp_path: Path) -> None:
    scene = hostile_scene()
    ana_home = scene.save(tmp_path / "ana")
    scene.me = scene.bo
    scene.save(tmp_path / "bo")  # Bo's node, so that the peers screen shows a linked peer's (hostile) name
    scene.me = scene.ana
    env = {**os.environ, "TERM": "xterm-256color", "TZ": "UTC", "LANG": "C.UTF-8"}
    env.pop("MESHCHAT_HOME", None)
    cli = [sys.executable, "-m", "meshchat.cli.main"]
    app = None
    with node_process(tmp_path / "bo", env=env) as bo:
        try:
            bo.wait_listening()
            listen = ["--listen", "127.0.0.1:0", "--peer", bo.address]
            app = PtyApp([*cli, "--home", str(ana_home), "ui", "--no-discovery", *listen], env)
            app.wait_for("ROOMS")
            app.wait_for("\u00ab")  # the messages of #general: names, texts, the reply's preview

            # New entries, as a peer brings them: a FLASH and a roll call (toasts), a fork (banner and toast).
            scene.post(scene.bo, f"{EVIL} {MARKUP}", flash=True)
            scene.write(scene.bo, "checkin.request", checkin=bytes(16), room=GENERAL, question=EVIL)
            scene.fork(scene.cy, EVIL)
            scene.deliver(ana_home)
            mark = app.wait_for("FLASH from")
            app.wait_for("FORK", since=0)

            app.press("f2")
            mark = app.wait_for("INCIDENTS", since=mark)
            app.press("e")  # the update form, its fields filled with the incident's (hostile) values
            mark = app.wait_for("Update", since=mark)
            app.press("escape")
            app.press("f3")
            mark = app.wait_for("ROLL CALLS", since=mark)
            app.press("f4")
            mark = app.wait_for("PEERS", since=mark)
            app.wait_for("1 connected", since=mark)  # Bo's node linked: the table names it
            app.press("f5")
            mark = app.wait_for("WHO IS WHERE", since=mark)
            app.press("n", "n", "n", "n")  # each item selected in turn: its name in the line under the map
            app.press("ctrl+p")
            app.press(*"Room")
            app.wait_for("Everything without a room", since=mark)  # a room command's help line
            app.press("escape")
        finally:
            if app is not None:
                app.quit()  # until the app has ended: its output is whole
    output = app.bytes()
    assert raw_attacks_in(output) == [], raw_attacks_in(output)
    text = output.decode("utf-8", "replace")
    assert [c for c in NEVER_WRITTEN_BY_TEXTUAL if c in text] == []
    assert "\nAna: stand down" not in text
    assert text.count(MARKUP) >= 2  # the FLASH toast and the palette's room command: text, not a link
    for shown in ("[U+001B][2J", "[U+202E]", "[U+0007]", "[U+009B]", "[U+000D]"):
        assert shown in text, shown
    assert set(TERMINAL_ATTACKS)  # every attack was in the scene (EVIL holds them all)
