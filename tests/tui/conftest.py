"""Fixtures for the TUI tests: a deterministic team on disk and a pinned time zone."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_scene import Scene, pin_timezone


@pytest.fixture(autouse=True)
def utc() -> None:
    pin_timezone()


@pytest.fixture
def scene() -> Scene:
    return Scene()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "ana"
