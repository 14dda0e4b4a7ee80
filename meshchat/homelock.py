"""One running node per home: the lock a node (``meshchat node`` or the terminal UI) holds on its home.

Two nodes on one home would both write its log and both answer for it on the network: at best twice the work,
at worst two processes signing with one key. So :meth:`Node.open <meshchat.node.Node.open>` takes an exclusive
``flock`` on ``HOME/node.lock`` and holds it while the node is open. The kernel releases it when the process
ends however it ends (a crash, SIGKILL, a power cut), so a lock is never left behind. The file holds the
holder's pid, for the message a second node gets. Commands that write once and exit (``meshchat post``) take
no lock: SQLite serialises them with the node.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from meshchat.errors import UserError

LOCK_FILE = "node.lock"


class HomeInUse(UserError):
    """Another node runs on this home; ``pid`` is its process, when the lock file says."""

    def __init__(self, home: Path, pid: int | None) -> None:
        who = f" (process {pid})" if pid is not None else ""
        super().__init__(
            f"another meshchat node{who} is running on {home}: use that one (the terminal UI and "
            "'meshchat node' are both nodes), stop it first, or give another --home"
        )
        self.pid = pid


class HomeLock:
    """Held from :meth:`acquire` until :meth:`release` (or the process ends)."""

    def __init__(self, fd: int | None, path: Path) -> None:
        self._fd = fd
        self.path = path

    @classmethod
    def acquire(cls, home: Path) -> HomeLock:
        """The lock on ``home``, or :class:`HomeInUse` naming the process that holds it. A home on a read-only
        medium is locked through the lock file if it has one, and not at all if not: nothing can be written
        there, by one node or two."""
        path = home / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES):
                raise
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return cls(None, path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise HomeInUse(home, int(holder) if holder.isdigit() else None) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:  # opened read-only: locked, but the holder cannot say who it is
            pass
        return cls(fd, path)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None
