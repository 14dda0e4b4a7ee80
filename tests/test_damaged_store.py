"""A damaged database is found when the store is opened, reported in one line, and never served as if healthy.

The damage is what a failing disk or a half-copied file leaves: pages in the middle of the file overwritten
with noise. Before, such a store opened as usual; every link then ended in "database disk image is malformed"
(a fresh peer got none of its entries) and ``meshchat export`` printed a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from meshchat.events import NodeProblem
from meshchat.net.link import LinkEnded
from meshchat.node import Node
from meshchat.profile import STORE_FILE, Profile, ProfileError
from meshchat.proto.messages import Entries
from meshchat.store import Store, StoreDamagedError, StoreError
from meshchat.testing import author_home, damage_database, run_cli, synthetic_history

ENTRIES = 3_000


@pytest.fixture(scope="module")
def damaged_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A member's home holding a 3,000-entry history, two pages of which a failing disk overwrote."""
    team = synthetic_history(ENTRIES)
    home = tmp_path_factory.mktemp("damaged") / "home"
    author_home(home, team.members[0], network_key=b"d" * 32, raws=[e.raw for e in team.all_entries()])
    damage_database(home / STORE_FILE)
    return home


def test_opening_a_damaged_store_says_so_in_one_line(damaged_home: Path) -> None:
    with pytest.raises(StoreDamagedError) as caught:
        Store.open(damaged_home / STORE_FILE)
    message = str(caught.value)
    assert "is damaged" in message and "meshchat repair" in message
    assert "\n" not in message
    with pytest.raises(ProfileError, match="is damaged"):
        Profile.open(damaged_home)
    with pytest.raises(ProfileError, match="is damaged"):
        Node.open(damaged_home)


@pytest.mark.parametrize(
    "command",
    [
        ("log", "general"),
        ("rooms",),
        ("post", "general", "hello"),
        ("export", "--out", "{tmp}/export"),
        ("bundle", "export", "{tmp}/b.bundle"),
        ("node", "--no-listen", "--no-discovery"),
    ],
)
def test_every_command_on_a_damaged_store_says_so_in_one_line(
    damaged_home: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    args = [arg.format(tmp=tmp_path) for arg in command]
    result = run_cli(damaged_home, *args, ok=False)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is damaged" in lines[0] and "meshchat repair" in lines[0], result.stderr
    assert not (tmp_path / "export").exists()


async def test_a_store_damaged_while_the_node_runs_is_not_served(tmp_path: Path) -> None:
    """Damage found while the node runs (here by the connection that stores what peers send, opened with the
    first batch): the link ends with the reason, the user is told, and the node stops serving its peers,
    instead of every link failing with SQLite's words at every redial."""
    team = synthetic_history(500)
    raws = [e.raw for e in team.all_entries()]
    home = author_home(tmp_path / "home", team.members[0], network_key=b"d" * 32, raws=raws)
    node = Node.open(home)
    events = node.events()
    try:
        damage_database(home / STORE_FILE)
        with pytest.raises(LinkEnded, match="is damaged"):
            await node.replica.accept([Entries(tuple(raws[-20:]))], b"p" * 32)
        problem = events.receive_nowait()
        assert isinstance(problem, NodeProblem) and "is damaged" in problem.message
        assert node.damaged is not None and "meshchat repair" in node.damaged
    finally:
        node.close()


@pytest.mark.parametrize(
    ("replace", "kind"),
    [
        (os.mkfifo, "a named pipe"),
        (lambda path: path.mkdir(), "a directory"),
        (lambda path: path.symlink_to("/dev/null"), "a character device"),
    ],
)
def test_a_store_that_is_not_a_file_is_named_for_what_it_is(
    tmp_path: Path, replace: Callable[[Path], None], kind: str
) -> None:
    """Issue 12 leftover: a FIFO (or any non-regular file) where the store belongs said "disk I/O error"."""
    with Profile.init(tmp_path / "home", "Flood response", display_name="Ana"):
        pass
    store = tmp_path / "home" / STORE_FILE
    store.rename(tmp_path / "aside.db")
    replace(store)
    with pytest.raises(StoreError, match=f"{STORE_FILE} is {kind}, not a file"):
        Store.open(store)


def test_a_command_on_a_store_that_is_a_pipe_says_so_in_one_line(tmp_path: Path) -> None:
    """As a person sees it: one line that says what the file is, at once (no hang, no "disk I/O error")."""
    with Profile.init(tmp_path / "home", "Flood response", display_name="Ana"):
        pass
    (tmp_path / "home" / f"{STORE_FILE}-wal").unlink(missing_ok=True)
    os.mkfifo(tmp_path / "home" / f"{STORE_FILE}-wal")
    failed = run_cli(tmp_path / "home", "whoami", ok=False, timeout=30)
    assert failed.returncode == 2 and "disk I/O error" not in failed.stderr
    assert failed.stderr.strip() == (
        f"meshchat: {tmp_path / 'home' / STORE_FILE}-wal is a named pipe, not a file: meshchat keeps its store in "
        "regular files (move this one away and put the store back)"
    )
