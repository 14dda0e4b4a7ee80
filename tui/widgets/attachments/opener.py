"""Opening a file with the system's viewer (``o`` in act mode): ``xdg-open`` (or ``open`` on macOS), or the
command in ``MESHCHAT_OPEN`` (``MESHCHAT_OPEN="feh -F"``), started apart from meshchat so that it outlives
neither the TUI's screen nor its keys: its output goes nowhere, it runs in a session of its own.

What is opened is a read-only copy under the file's own name (``Node.file_to_open``), never the blob itself.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

OPEN_ENV = "MESHCHAT_OPEN"


def opener_command() -> list[str] | None:
    """The command that opens a file here (the file's path is added at the end), or ``None`` if there is none."""
    configured = os.environ.get(OPEN_ENV, "").strip()
    if configured:
        return shlex.split(configured)
    name = "open" if sys.platform == "darwin" else "xdg-open"
    found = shutil.which(name)
    return [found] if found else None


def open_with_system(path: Path) -> str | None:
    """Start the system's viewer on ``path``; returns why it could not be started (``None``: started)."""
    command = opener_command()
    if command is None:
        return "No viewer to open files with here (xdg-open is not installed; set MESHCHAT_OPEN): s saves a copy."
    try:
        subprocess.Popen(
            [*command, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        return f"Cannot start {command[0]}: {exc.strerror or exc}"
    return None
