"""Network addresses as text: ``host:port`` (``[v6]:port``), read and written the same way everywhere. Plain
functions, apart from the trio network shell, so that what only reads an address (an invite code, the CLI)
does not load it."""

from __future__ import annotations

from meshchat.errors import excerpt

Address = tuple[str, int]


def format_address(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_address(text: str, *, default_host: str = "") -> Address:
    """``host:port`` (``[v6]:port`` for IPv6) into a tuple; raises ValueError with a clear message."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        raise ValueError(f"{excerpt(text)} is not HOST:PORT")
    host = host.strip("[]") or default_host
    if not host:
        raise ValueError(f"{excerpt(text)} has no host")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"{excerpt(text)}: the port must be a number") from None
    if not 0 <= number < 65536:
        raise ValueError(f"{excerpt(text)}: the port must be 0 to 65535")
    return host, number
