"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meshchat.store import Store
from meshchat.testing import TestTeam


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
