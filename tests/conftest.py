"""Shared fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio.testing

from meshchat.store import Store
from meshchat.testing import TestTeam, catch_up_homes, virtual_clock


@pytest.fixture
def mock_clock(monkeypatch: pytest.MonkeyPatch) -> trio.testing.MockClock:
    """Virtual time for a trio test that asks for it (pytest-trio runs the test on this clock): see
    ``meshchat.testing.virtual_clock``."""
    return virtual_clock(monkeypatch)


@pytest.fixture
def team() -> TestTeam:
    return TestTeam(members=2)


@pytest.fixture
def store_for(tmp_path: Path) -> Iterator[object]:
    """A factory of fresh stores for a team id; all are closed at the end of the test."""
    stores: list[Store] = []

    def make(team_id: bytes, name: str | None = None) -> Store:
        store = Store.create(tmp_path / f"{name or len(stores)}.db", team_id)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


CATCH_UP_ENTRIES = 100_000


@pytest.fixture(scope="session")
def catch_up_originals(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Built once per run (about 10 s): a source home holding 100,000 entries and a newcomer's home."""
    return catch_up_homes(tmp_path_factory.mktemp("catch-up"), CATCH_UP_ENTRIES)


@pytest.fixture
def catch_up(catch_up_originals: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """Fresh copies of the catch-up homes for this test: (source, newcomer)."""
    source, newcomer = catch_up_originals
    return shutil.copytree(source, tmp_path / "source"), shutil.copytree(newcomer, tmp_path / "newcomer")
