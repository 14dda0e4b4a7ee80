"""Before anything is installed: is this machine able to run meshchat? (``make run`` and ``make test`` run this
first, with the system's Python, so a missing library is one clear sentence, not a failure deep in pip.)"""

import ctypes
import ctypes.util
import sys

NAMES = ("libsodium.so", "libsodium.so.23", "libsodium.so.26", "libsodium.dylib", "/usr/local/lib/libsodium.so")


def libsodium_found() -> bool:
    """What libnacl looks for when it loads: the library by its linker name, or one of its usual files."""
    found = ctypes.util.find_library("sodium")
    for name in (found, *NAMES) if found else NAMES:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 (this runs on the system Python, before any check)
        print(f"meshchat needs Python 3.11 or newer; this is {sys.version.split()[0]} (set PYTHON=python3.11)")
        return 1
    if not libsodium_found():
        print(
            "meshchat needs libsodium, a system library: 'sudo apt-get install libsodium23' (Debian, Ubuntu, "
            "Raspberry Pi OS), 'sudo dnf install libsodium' (Fedora), 'brew install libsodium' (macOS)"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
