"""docs/tui.md lists every key (issue 14 "Done when"): each key bound in tui/ with a description appears there."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from textual.binding import Binding

import tui.app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "tui.md"
SHOWN = {  # how docs/tui.md writes a key Textual names otherwise
    "question_mark": "?",
    "plus": "+",
    "equals_sign": "=",
    "minus": "-",
    "slash": "/",
    "escape": "Esc",
    "enter": "Enter",
    "tab": "Tab",
    "shift+tab": "shift+Tab",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "pageup": "PageUp",
    "pagedown": "PageDown",
    "home": "Home",
    "end": "End",
}


def bound_keys() -> dict[str, str]:
    """``{key as the docs write it: where it is bound}`` for every described binding of our classes."""
    keys: dict[str, str] = {}
    package = Path(tui.app.__file__).parent  # (tests/tui is on the path too: find the package by a module)
    for module in pkgutil.walk_packages([str(package)], "tui."):
        loaded = importlib.import_module(module.name)
        for value in vars(loaded).values():
            if isinstance(value, type) and value.__module__ == loaded.__name__:
                for binding in value.__dict__.get("BINDINGS", ()):
                    if isinstance(binding, Binding) and binding.description:
                        for key in binding.key.split(","):
                            key = key.strip()
                            shown = SHOWN.get(key) or (key.upper() if re.fullmatch(r"f\d+", key) else key)
                            keys[shown] = f"{value.__name__}: {binding.description}"
    return keys


def test_docs_list_every_key() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    keys = bound_keys()
    assert len(keys) > 30
    missing = {key: where for key, where in keys.items() if f"`{key}`" not in docs}
    assert not missing, f"keys bound in tui/ but not in docs/tui.md: {missing}"
