"""``meshchat repair``: rebuild a damaged store, keeping the identity.

1. The damaged database (with its ``-wal``) is copied into ``damaged-YYYYmmdd-HHMMSS/`` in the home, where it
   stays for whoever wants to look at it; only once that copy is made and read does the damaged file leave.
2. What is still readable in it (team facts, this node's local state, entries, fork proofs, quarantine) goes
   into a new store through the one accept path: every signature and chain is checked, so a damaged entry is
   refused like a forged one (:mod:`meshchat.store.salvage`).
3. Bundles given on the command line are imported the same way.
4. The node then fetches the rest from its peers (:func:`fetch_from_peers`), like any node catching up.

Our own log needs care: its end may have been in the damaged pages. The new store records how far the damaged
one held it (:meth:`Store.expect_own`), so own writes stay paused until peers or bundles give it back, and a
repaired node never writes at seqs that others hold with other content (see ``meshchat.store.own``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import trio

from meshchat.events import EntriesAdded, NodeProblem, SyncProgress, WritingPaused
from meshchat.export.bundle import ImportResult, import_bundle, import_stream, stream_entries
from meshchat.export.errors import ExportError
from meshchat.export.progress import Progress
from meshchat.identity import IdentityError, load_identity
from meshchat.log.entry import EntryError, decode_entry
from meshchat.node import Node
from meshchat.profile import IDENTITY_FILE, STORE_FILE, ProfileError
from meshchat.store import Outcome, Store, StoreDamagedError, StoreError
from meshchat.store.own import OwnGap
from meshchat.store.salvage import Salvaged, salvage

DB_FILES = (STORE_FILE, STORE_FILE + "-wal", STORE_FILE + "-shm")
SKIPPED_LOCAL = frozenset({"node.status"})  # a dead node's status: the next node writes its own


class RepairError(ProfileError):
    """The store cannot be repaired as asked; the message says why and what to do."""


@dataclass
class Rebuilt:
    """What the rebuild did, for the report."""

    aside: Path  # where the damaged files are kept
    salvaged: Salvaged
    from_store: ImportResult
    from_bundles: list[tuple[Path, ImportResult]] = field(default_factory=list)
    own_gap: OwnGap | None = None  # our own log is still behind where the damaged store had it
    entries: int = 0  # entries the new store holds


def check_damaged(home: Path) -> StoreDamagedError:
    """The damage ``repair`` will mend; :class:`RepairError` if there is no store, or it is healthy."""
    path = home / STORE_FILE
    if not path.exists():
        raise RepairError(f"no meshchat store in {home}: nothing to repair")
    try:
        Store.open(path).close()
    except StoreDamagedError as exc:
        return exc
    except StoreError as exc:
        raise RepairError(str(exc)) from None
    raise RepairError(f"{path} is healthy: nothing to repair")


def rebuild(home: Path, bundles: Sequence[Path] = (), *, progress: Progress | None = None) -> Rebuilt:
    """Steps 1-3 of the module doc. Raises :class:`RepairError` (leaving the home as it was) when the damaged
    store does not even say which team it belongs to, or the identity cannot be read."""
    progress = progress or Progress.silent()
    check_damaged(home)
    try:
        me = load_identity(home / IDENTITY_FILE).public_key
    except IdentityError as exc:
        raise RepairError(f"cannot repair without this home's identity: {exc}") from None
    aside = _copy_aside(home)
    progress.stage("reading what is readable in the damaged store")
    salvaged = salvage(aside / STORE_FILE, me, on_rows=progress.advance)
    progress.done()
    team_id = _team_id(salvaged, bundles)
    network_key = salvaged.meta.get("network_key")
    if not isinstance(network_key, bytes):
        raise RepairError(
            f"the damaged store no longer says which network key the team uses (kept in {aside}); "
            "restore the home from a backup, or join the team again with a new invite"
        )
    for name in DB_FILES:
        (home / name).unlink(missing_ok=True)
    with Store.create(home / STORE_FILE, team_id) as store:
        for key, value in salvaged.meta.items():
            if key not in ("schema_version", "team_id"):
                store.set_meta(key, value)
        for key, raw in salvaged.local.items():
            if key not in SKIPPED_LOCAL:
                store.set_local(key, raw)
        progress.stage("storing what was readable", len(salvaged.raws))
        rebuilt = Rebuilt(aside, salvaged, import_stream(store, salvaged.raws, progress=progress))
        progress.done()
        for bundle in bundles:
            try:
                rebuilt.from_bundles.append((bundle, import_bundle(store, bundle, progress=progress)))
            except ExportError as exc:
                raise RepairError(f"the store is rebuilt, but {bundle} could not be imported: {exc}") from None
        if not store.get_meta("team_name"):
            store.set_meta("team_name", _team_name(store))
        store.expect_own(me, salvaged.own_head, "repair")
        rebuilt.own_gap = store.own_gap(me)
        rebuilt.entries = store.count()
    return rebuilt


def _copy_aside(home: Path) -> Path:
    """Copy the damaged database files into a new directory of the home; returns it."""
    aside = home / time.strftime("damaged-%Y%m%d-%H%M%S")
    while aside.exists():
        aside = aside.with_name(aside.name + "x")
    aside.mkdir(mode=0o700)
    try:
        for name in DB_FILES:
            if (home / name).exists():
                shutil.copy2(home / name, aside / name)
    except OSError as exc:
        shutil.rmtree(aside, ignore_errors=True)
        reason = f"cannot copy the damaged store aside ({exc.strerror}): free some space and try again"
        raise RepairError(reason) from None
    return aside


def _team_id(salvaged: Salvaged, bundles: Iterable[Path]) -> bytes:
    team_id = salvaged.meta.get("team_id")
    if isinstance(team_id, bytes):
        return team_id
    for raw in salvaged.raws:  # every entry names its team (the genesis entry's id is the team id)
        try:
            entry = decode_entry(raw)
        except EntryError:
            continue
        return entry.id if entry.seq == 1 and entry.kind == "team.create" else entry.team_id
    for bundle in bundles:
        try:
            header, _ = stream_entries(bundle, parts=("bundle", "chains", "forks"))
        except ExportError:
            continue
        return header.team
    raise RepairError("the damaged store no longer says which team it belongs to: give a bundle (--bundle FILE)")


def _team_name(store: Store) -> str:
    """The team's name from its genesis entry, when the damaged store's own record of it was lost."""
    membership = store.membership
    if membership.founder is None:
        return ""
    genesis = store.entry(membership.founder, 1)
    name = genesis.body().get("name") if genesis is not None else None
    return name if isinstance(name, str) else ""


def imported(result: ImportResult) -> int:
    return result.counts[Outcome.APPENDED]


# ---- step 4: the rest from peers ------------------------------------------------------------------------------


@dataclass
class Fetched:
    peers: int = 0  # peers we caught up with
    entries: int = 0  # entries they gave us
    own_gap: OwnGap | None = None  # our own log is still behind (no peer held the rest)


async def fetch_from_peers(
    node: Node,
    *,
    timeout: float,
    progress: Progress | None = None,
    on_problem: Callable[[str], None] = lambda message: None,
) -> Fetched:
    """Run ``node`` (on the rebuilt home) until every peer it linked with has caught it up and our own log is
    back, or ``timeout`` seconds passed; shows progress, and hands the node's problems to ``on_problem``."""
    progress = progress or Progress.silent()
    before = node.profile.store.count()
    fetched = Fetched()
    events = node.events(buffer=0)
    linked: dict[str, bool] = {}  # peer address -> caught up
    progress.stage("fetching from peers")
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        with trio.move_on_after(timeout):
            async for event in events:
                if isinstance(event, SyncProgress):
                    linked[event.peer.address] = linked.get(event.peer.address, False) or event.done
                elif isinstance(event, EntriesAdded):
                    progress.advance(event.count)
                elif isinstance(event, NodeProblem):
                    on_problem(event.message)
                elif isinstance(event, WritingPaused) and event.forked:
                    on_problem(event.message)
                    break
                if linked and all(linked.values()) and node.writing_paused is None:
                    break
        nursery.cancel_scope.cancel()
    progress.done()
    fetched.peers = sum(linked.values())
    fetched.entries = node.profile.store.count() - before
    fetched.own_gap = node.profile.store.own_gap(node.me)
    return fetched
