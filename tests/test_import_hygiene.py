"""The layering promise: the pure core imports no I/O library, and meshchat never imports the UI."""

from __future__ import annotations

import subprocess
import sys

PURE = [
    "meshchat.log.codec",
    "meshchat.log.entry",
    "meshchat.log.clock",
    "meshchat.log.kinds",
    "meshchat.log.rules",
    "meshchat.log.views",
    "meshchat.proto",
    "meshchat.proto.connection",
    "meshchat.proto.sources",
    "meshchat.proto.pacing",
]
IO_MODULES = ["trio", "zeroconf", "sqlite3", "textual", "socket", "meshchat.store", "meshchat.net"]


def imported_after(modules: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_pure_layers_import_no_io() -> None:
    loaded = imported_after(PURE)
    assert not {m for m in IO_MODULES if m in loaded}


def test_core_never_imports_textual() -> None:
    loaded = imported_after(["meshchat.cli.main", "meshchat.profile", "meshchat.store.queries"])
    assert "textual" not in loaded
    assert "tui" not in loaded
