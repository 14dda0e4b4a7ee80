"""Opening files that someone else made: an export or a bundle on a USB stick, a frontier file, a path typed
at HQ. One way to do it, so that no reader forgets a trap:

- **no links followed**: the last component is opened with ``O_NOFOLLOW`` (a ``log.msgpack`` that points at
  ``/dev/zero`` or at a file outside the stick is refused), and a file inside an export directory is reached
  one directory at a time, each opened with ``O_NOFOLLOW`` too (a directory symlinked to ``/`` is refused);
- **regular files only**, checked on the opened descriptor (``fstat``), so nothing can be swapped in between
  a check and the open;
- **no blocking**: the open uses ``O_NONBLOCK``, so a FIFO or a device with no writer cannot hang the
  command; the flag is cleared once the file is known to be regular;
- **bounded size** where the caller reads a whole file (:func:`read_untrusted`).

Problems are :class:`UnsafeFileError` (an ``OSError``), with a message a person can act on.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import BinaryIO

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


class UnsafeFileError(OSError):
    """A file that is missing, not a regular file, a link, too large, or unreadable: ``str()`` says which."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing

    def __str__(self) -> str:
        return str(self.args[0])


def open_untrusted(path: Path, *, inside: Path | None = None) -> BinaryIO:
    """Open ``path`` for reading by the rules above. With ``inside``, ``path`` is relative to that directory
    and every component below it is opened without following links (``inside`` itself is where the person
    pointed, and may be reached through a link)."""
    shown = str(inside / path) if inside is not None else str(path)
    dir_fd: int | None = None
    try:
        if inside is not None:
            dir_fd = _open_dir(inside, shown)
            *folders, name = path.parts
            for folder in folders:
                if folder in ("", ".", "..", "/"):
                    raise UnsafeFileError(f"{shown}: not a plain path inside {inside}")
                next_fd = _open_dir(Path(folder), shown, dir_fd=dir_fd)
                os.close(dir_fd)
                dir_fd = next_fd
        else:
            name = str(path)
        fd = _open_file(name, shown, dir_fd=dir_fd)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError(f"{shown} is not a regular file ({file_kind(info.st_mode)}): not read")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_untrusted(path: Path, max_bytes: int, *, inside: Path | None = None) -> bytes:
    """The whole of a file opened with :func:`open_untrusted`, refusing one larger than ``max_bytes``."""
    with open_untrusted(path, inside=inside) as f:
        try:
            data = f.read(max_bytes + 1)
        except OSError as exc:
            raise UnsafeFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise UnsafeFileError(f"{path} is larger than {max_bytes:,} bytes: not read")
    return data


def is_regular_file(path: Path, *, inside: Path | None = None) -> bool:
    """Whether :func:`open_untrusted` would open ``path``."""
    try:
        open_untrusted(path, inside=inside).close()
    except OSError:
        return False
    return True


def _open_file(name: str, shown: str, *, dir_fd: int | None) -> int:
    try:
        return os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise _explained(exc, shown) from None


def _open_dir(path: Path, shown: str, *, dir_fd: int | None = None) -> int:
    flags = _DIR_FLAGS if dir_fd is not None else _DIR_FLAGS & ~os.O_NOFOLLOW
    try:
        return os.open(path, flags, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafeFileError(f"{shown}: {path} is not a plain directory (links are not followed)") from None
        raise _explained(exc, shown) from None


def _explained(exc: OSError, shown: str) -> UnsafeFileError:
    if exc.errno == errno.ENOENT:
        return UnsafeFileError(f"{shown} does not exist", missing=True)
    if exc.errno == errno.ELOOP:
        return UnsafeFileError(f"{shown} is not a regular file (a symbolic link): links are not followed")
    if exc.errno == errno.EISDIR:
        return UnsafeFileError(f"{shown} is a directory, not a file")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return UnsafeFileError(f"{shown}: permission denied")
    return UnsafeFileError(f"cannot open {shown}: {exc.strerror or exc}")


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, in words (``a named pipe``), from its ``st_mode``."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a plain file"
