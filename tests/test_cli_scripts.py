"""The command line as scripts and operators use it: stdin, following a room, members named as people name
them, one node per home, settings from the environment and config.toml."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from meshchat.cli.output import when
from meshchat.homelock import HomeInUse
from meshchat.identity import Identity
from meshchat.node import Node
from meshchat.profile import Profile
from meshchat.testing import node_process, run_cli, wait_until_sync

MESHCHAT = [sys.executable, "-m", "meshchat"]


def test_post_reads_the_message_from_stdin(tmp_path: Path) -> None:
    home = tmp_path / "h"
    Profile.init(home, "T").close()
    env = {**os.environ, "MESHCHAT_HOME": str(home)}
    report = "Levee report\nWater at 4.2 m\nSandbags: 300\n"
    done = subprocess.run([*MESHCHAT, "post", "general", "-"], input=report, text=True, capture_output=True, env=env)
    assert done.returncode == 0, done.stderr
    too_long = subprocess.run(
        [*MESHCHAT, "post", "general", "-"], input="x" * 40_000, text=True, capture_output=True, env=env
    )
    assert too_long.returncode == 2 and "8,000" in too_long.stderr and len(too_long.stderr) < 200
    not_text = subprocess.run([*MESHCHAT, "post", "general", "-"], input=b"\xff\xfe", capture_output=True, env=env)
    assert not_text.returncode == 2 and b"not UTF-8" in not_text.stderr
    with Profile.open(home) as profile:
        [message] = profile.views.messages(profile.room("general").room)
    assert message.text == report.rstrip("\n")


def test_log_follow_prints_messages_as_they_arrive(tmp_path: Path) -> None:
    home = tmp_path / "h"
    with Profile.init(home, "T", display_name="Ana") as profile:
        profile.post("general", "before")
        profile.create_room("logistics")
    env = {**os.environ, "MESHCHAT_HOME": str(home)}
    follow = subprocess.Popen(
        [*MESHCHAT, "log", "general", "--follow", "--json"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        # Ctrl-C as in a terminal: a background job (land.sh, CI) starts its children with SIGINT ignored,
        # and Python keeps a signal ignored at start-up ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    try:
        assert follow.stdout is not None
        assert json.loads(follow.stdout.readline())["text"] == "before"
        run_cli(home, "post", "logistics", "elsewhere")  # another room: not followed
        run_cli(home, "post", "general", "after")
        arrived = json.loads(follow.stdout.readline())  # blocks until the follower prints it
        assert arrived["text"] == "after" and arrived["room_name"] == "general" and arrived["author_name"] == "Ana"
    finally:
        follow.send_signal(signal.SIGINT)  # Ctrl-C: the way a person ends it, not an error
        assert follow.wait(timeout=10) == 0


def test_members_are_named_by_name_callsign_or_key(tmp_path: Path) -> None:
    home = tmp_path / "h"
    bo = Identity.generate().public_key
    with Profile.init(home, "T", display_name="Ana") as profile:
        profile.add_member(bo, "member", "Bo")
    run_cli(home, "task", "open", "Fill sandbags", "--owner", "bo")  # any case
    [task] = json.loads(run_cli(home, "task", "list", "--json").stdout)
    assert task["owner"] == bo.hex() and task["owner_name"] == "Bo"
    run_cli(home, "task", "update", task["id"][:6], "--owner", "Ana")
    [task] = json.loads(run_cli(home, "task", "list", "--json").stdout)
    assert task["owner_name"] == "Ana"
    run_cli(home, "task", "update", task["id"][:6], "--owner", bo.hex()[:10])
    nobody = run_cli(home, "task", "open", "x", "--owner", "Cy", ok=False)
    assert nobody.returncode == 2 and "no member matches 'Cy'" in nobody.stderr


def test_one_node_per_home(tmp_path: Path) -> None:
    home = tmp_path / "h"
    Profile.init(home, "T").close()
    with node_process(home) as first:
        first.wait_listening()
        second = run_cli(home, "node", "--no-discovery", "--listen", "127.0.0.1:0", ok=False)
        assert second.returncode == 2
        assert f"another meshchat node (process {first.process.pid}) is running on {home}" in second.stderr
        with pytest.raises(HomeInUse):
            Node.open(home)
        assert run_cli(home, "post", "general", "a command beside the node").returncode == 0
        first.process.kill()  # however it ends, the kernel lets go of the lock
        first.process.wait()
    Node.open(home).close()


def test_settings_from_the_environment_and_config_toml(tmp_path: Path) -> None:
    from meshchat.settings import Given, SettingsError, node_settings

    home = tmp_path / "h"
    home.mkdir()
    nothing = Given()
    assert node_settings(home, nothing, {}).listen == ("0.0.0.0", 7766)  # noqa: S104
    (home / "config.toml").write_text(
        '[node]\nlisten = "127.0.0.1:7000"\npeers = ["10.0.0.5:7766"]\ndiscovery = false\n'
    )
    from_file = node_settings(home, nothing, {})
    assert (from_file.listen, from_file.peers, from_file.discovery) == (
        ("127.0.0.1", 7000),
        (("10.0.0.5", 7766),),
        False,
    )
    environ = {"MESHCHAT_LISTEN": "off", "MESHCHAT_PEERS": "10.0.0.6:1, 10.0.0.7:2", "MESHCHAT_DISCOVERY": "on"}
    from_env = node_settings(home, nothing, environ)
    assert (from_env.listen, from_env.peers, from_env.discovery) == (None, (("10.0.0.6", 1), ("10.0.0.7", 2)), True)
    given = node_settings(home, Given(listen=":7100", peers=(), where="the command line"), environ)
    assert (given.listen, given.peers, given.discovery) == (("0.0.0.0", 7100), (), True)  # noqa: S104
    for text, message in (
        ("[node]\nlisten = 7766\n", "listen is an address"),
        ('[node]\nlisen = "x"\n', "has no setting 'lisen'"),
        ('[node]\npeers = ["nowhere"]\n', "'nowhere' is not HOST:PORT"),
        ("[node\n", "is not valid TOML"),
    ):
        (home / "config.toml").write_text(text)
        with pytest.raises(SettingsError, match=message) as refused:
            node_settings(home, nothing, {})
        assert str(home / "config.toml") in str(refused.value)
    with pytest.raises(SettingsError, match="MESHCHAT_DISCOVERY: 'maybe' is not on or off"):
        node_settings(home, nothing, {"MESHCHAT_DISCOVERY": "maybe"})


def test_a_node_started_by_a_service_manager_takes_its_settings_from_config_toml(tmp_path: Path) -> None:
    """The systemd unit of docs/operations.md: no options, config.toml in the home; SIGTERM stops it."""
    home = tmp_path / "h"
    Profile.init(home, "T").close()
    (home / "config.toml").write_text('[node]\nlisten = "127.0.0.1:0"\ndiscovery = false\n')
    env = {**os.environ, "MESHCHAT_HOME": str(home)}
    node = subprocess.Popen([*MESHCHAT, "node"], stderr=subprocess.PIPE, text=True, env=env)
    try:

        def status() -> dict[str, Any]:
            return dict(json.loads(run_cli(home, "peers", "--json", ok=False).stdout))

        wait_until_sync(lambda: status()["running"], 30, what="the node's status")
        assert status()["listen"][0].startswith("127.0.0.1:")
    finally:
        node.send_signal(signal.SIGTERM)
        _, log = node.communicate(timeout=15)
    assert node.returncode == 0, log
    assert "LAN discovery is off" in log


def test_times_are_local_when_printed_and_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A time the CLI prints can be given back to it: both are local time (``--since`` read UTC before)."""
    from meshchat.cli.hq import _since
    from meshchat.cli.output import when_zoned

    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30, no summer time
    time.tzset()
    try:
        seven_local = _since("2026-11-25T07:00")
        assert seven_local == datetime(2026, 11, 25, 1, 30, tzinfo=UTC).timestamp() * 1000
        assert when(seven_local) == "2026-11-25 07:00:00" and when_zoned(seven_local).endswith("+0530")
        assert _since("2026-11-25") == datetime(2026, 11, 24, 18, 30, tzinfo=UTC).timestamp() * 1000
        assert _since("2026-11-25T07:00Z") == datetime(2026, 11, 25, 7, 0, tzinfo=UTC).timestamp() * 1000
    finally:
        monkeypatch.undo()
        time.tzset()
