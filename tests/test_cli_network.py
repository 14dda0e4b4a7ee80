"""The network as a person uses it: real `meshchat` processes on 127.0.0.1."""

from __future__ import annotations

import os
import re
import socket
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import pytest

from meshchat.store import Store
from meshchat.testing import (
    NodeProcess,
    author_home,
    free_port,
    node_process,
    run_cli,
    synthetic_history,
    wait_until_sync,
)


def stopped(node: NodeProcess) -> str:
    """SIGTERM, as a service manager would; the node stops cleanly. Returns its log."""
    log = node.stop()
    assert node.returncode == 0, log
    return log


def test_invite_join_and_talk_through_two_nodes(tmp_path: Path) -> None:
    ana, bo = tmp_path / "ana", tmp_path / "bo"
    port_a, port_b = free_port(), free_port()
    run_cli(ana, "init", "--team", "Flood response", "--name", "Ana")
    invite = run_cli(ana, "invite", "--address", f"127.0.0.1:{port_a}").stdout
    code = re.search(r"meshchat join (MC2\S+)", invite).group(1)  # type: ignore[union-attr]
    with node_process(ana, f"127.0.0.1:{port_b}", listen=f"127.0.0.1:{port_a}") as node_a, ExitStack() as stack:
        # Bo's join reaches Ana's node at the address in the code, which admits Bo and serves the log.
        joined = run_cli(bo, "join", code, "--name", "Bo").stdout
        assert "Joining team 'Flood response' as member" in joined and "Admitted to 'Flood response'" in joined
        node_b = stack.enter_context(node_process(bo, f"127.0.0.1:{port_a}", listen=f"127.0.0.1:{port_b}"))
        # Bo's node learns the team (and the room) from Ana's.
        wait_until_sync(lambda: "== general" in run_cli(bo, "log").stdout)
        run_cli(ana, "post", "general", "Water rising at the north levee")
        run_cli(bo, "post", "general", "On my way with sandbags")
        for home in (ana, bo):
            wait_until_sync(
                lambda home=home: (
                    "Water rising" in (log := run_cli(home, "log", "general").stdout) and "sandbags" in log
                )
            )
        members = run_cli(ana, "members").stdout
        assert re.search(r"member\s+Bo", members), members
        bo_key = run_cli(bo, "id").stdout.strip()
        # The running node rewrites its status at most once a second: give it a moment.
        peers_of_ana = partial(run_cli, ana, "peers")
        wait_until_sync(lambda: re.search(rf"live\s+{bo_key[:12]}", peers_of_ana().stdout) is not None)
        log_a, log_b = stopped(node_a), stopped(node_b)
    for log in (log_a, log_b):
        assert "SIGTERM" in log and "stopped" in log and "Traceback" not in log
    assert "no node is running" in run_cli(ana, "peers", ok=False).stdout


def test_a_post_reaches_a_connected_peer_within_a_second(tmp_path: Path) -> None:
    ana, bo = tmp_path / "ana", tmp_path / "bo"
    port_a, port_b = free_port(), free_port()
    run_cli(ana, "init", "--team", "T", "--name", "Ana")
    code = re.search(r"(MC2\S+)", run_cli(ana, "invite").stdout).group(1)  # type: ignore[union-attr]
    run_cli(bo, "join", code)
    with (
        node_process(ana, listen=f"127.0.0.1:{port_a}"),
        node_process(bo, f"127.0.0.1:{port_a}", listen=f"127.0.0.1:{port_b}"),
    ):
        wait_until_sync(lambda: "== general" in run_cli(bo, "log").stdout)
        with Store.open(bo / "meshchat.db") as store:
            before = store.count()
            run_cli(ana, "post", "general", "quick")
            posted = time.monotonic()
            wait_until_sync(lambda: store.count() > before, timeout=5)
            assert time.monotonic() - posted < 1.0


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("hello", "not a meshchat invite code"),
        ("MC3AAAA", "newer than this meshchat"),
        ("MC2AAAA", "damaged or mistyped"),
        ("MC1AAAA", "older meshchat"),
    ],
)
def test_bad_codes_are_clear_errors(tmp_path: Path, code: str, message: str) -> None:
    result = run_cli(tmp_path / "x", "join", code, ok=False)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x" / "meshchat.db").exists()


def test_a_mistyped_character_is_caught_by_the_checksum(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    run_cli(home, "init", "--team", "T")
    code = re.search(r"(MC2\S+)", run_cli(home, "invite").stdout).group(1)  # type: ignore[union-attr]
    i = len(code) // 2
    typo = code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]
    result = run_cli(tmp_path / "bo", "join", typo, ok=False)
    assert result.returncode == 2 and "checksum" in result.stderr and "Traceback" not in result.stderr


def test_a_node_killed_mid_sync_resumes_and_converges(tmp_path: Path) -> None:
    team = synthetic_history(40_000, authors=8)
    key = os.urandom(32)
    raws = [e.raw for e in team.all_entries()]
    author_home(tmp_path / "a", team.founder, network_key=key, raws=raws)
    author_home(tmp_path / "b", team.members[0], network_key=key)
    port_a, port_b = free_port(), free_port()
    db = tmp_path / "b" / "meshchat.db"

    def count() -> int:
        with Store.open(db) as store:
            return store.count()

    with node_process(tmp_path / "a", listen=f"127.0.0.1:{port_a}") as node_a:
        with node_process(tmp_path / "b", f"127.0.0.1:{port_a}", listen=f"127.0.0.1:{port_b}") as node_b:
            wait_until_sync(lambda: count() > 2000, timeout=30)
            node_b.kill()
        interrupted = count()
        assert 0 < interrupted < len(raws), "the kill should land mid-sync"
        with Store.open(db) as store:
            assert store.integrity_check() == "ok"
        with node_process(tmp_path / "b", f"127.0.0.1:{port_a}", listen=f"127.0.0.1:{port_b}") as node_b:
            wait_until_sync(lambda: count() == len(raws), timeout=60)
            stopped(node_b)
        stopped(node_a)
    with Store.open(db) as store:
        assert store.integrity_check() == "ok"
        per_author = store.connection.execute("SELECT count(*), min(seq), max(seq) FROM entries GROUP BY author")
        for n, lo, hi in per_author:
            assert (lo, hi) == (1, n)  # every log whole: nothing lost, nothing twice
        assert store.count() == len(raws)


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    run_cli(home, "init", "--team", "T")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(home, "node", "--no-discovery", "--listen", f"127.0.0.1:{port}", ok=False)
    assert result.returncode == 2
    assert "cannot listen on 127.0.0.1" in result.stderr and "Traceback" not in result.stderr
