"""The network settings of a long-running node, from the command line, the environment and the home's
``config.toml``, in that order of precedence (the first that says something wins).

A node started by a service manager (docs/operations.md has a systemd unit) is configured without a command
line to edit: ``MESHCHAT_LISTEN``, ``MESHCHAT_PEERS`` and ``MESHCHAT_DISCOVERY`` in its environment, or, in
``HOME/config.toml``::

    [node]
    listen = "0.0.0.0:7766"           # or false: only dial out
    peers = ["10.0.0.5:7766", "hq.example.org:7766"]
    discovery = true                  # find teammates on the LAN (zeroconf)

Every value is checked when the node starts; a mistake names the file (or variable) and the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from meshchat.errors import UserError, excerpt
from meshchat.net.address import Address, parse_address

CONFIG_FILE = "config.toml"
DEFAULT_LISTEN = "0.0.0.0:7766"  # a node serves every interface unless told otherwise
MAX_CONFIG_BYTES = 64 * 1024
KNOWN_KEYS = frozenset({"listen", "peers", "discovery"})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingsError(UserError):
    """A setting that cannot be used: the message names where it was given and what is wrong."""


@dataclass(frozen=True)
class NodeSettings:
    """Where a node listens (``None``: it only dials out), whom it dials, and whether it looks on the LAN."""

    listen: Address | None
    peers: tuple[Address, ...]
    discovery: bool


@dataclass(frozen=True)
class Given:
    """What one source says; ``None``: it says nothing about that setting."""

    listen: str | bool | None = None  # an address, or False for "do not listen"
    peers: tuple[str, ...] | None = None
    discovery: bool | None = None
    where: str = ""


def node_settings(home: Path, command_line: Given, environ: Mapping[str, str] | None = None) -> NodeSettings:
    """The settings for a node on ``home``: the command line, then the environment, then ``config.toml``."""
    sources = (command_line, from_environment(os.environ if environ is None else environ), from_file(home))
    listen = next((s.listen for s in sources if s.listen is not None), DEFAULT_LISTEN)
    peers_from = next((s for s in sources if s.peers is not None), Given(peers=()))
    discovery = next((s.discovery for s in sources if s.discovery is not None), True)
    listen_from = next((s for s in sources if s.listen is not None), Given(where="the default"))
    return NodeSettings(
        listen=None if listen is False else _address(str(listen), listen_from.where, default_host="0.0.0.0"),  # noqa: S104
        peers=tuple(_address(p, peers_from.where) for p in peers_from.peers or ()),
        discovery=discovery,
    )


def from_environment(environ: Mapping[str, str]) -> Given:
    listen = environ.get("MESHCHAT_LISTEN")
    peers = environ.get("MESHCHAT_PEERS")
    discovery = environ.get("MESHCHAT_DISCOVERY")
    return Given(
        listen=None if listen is None else (False if listen.strip().lower() in _FALSE else listen),
        peers=None if peers is None else tuple(p for p in peers.replace(",", " ").split() if p),
        discovery=None if discovery is None else _switch(discovery, "MESHCHAT_DISCOVERY"),
        where="the environment",
    )


def from_file(home: Path) -> Given:
    path = home / CONFIG_FILE
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return Given()
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise SettingsError(f"{path} is larger than {MAX_CONFIG_BYTES // 1024} KB: is it the right file?")
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    node = document.get("node", {})
    if not isinstance(node, dict):
        raise SettingsError(f"{path}: [node] must be a table")
    unknown = sorted(set(node) - KNOWN_KEYS)
    if unknown:
        raise SettingsError(f"{path}: [node] has no setting {excerpt(unknown[0])} (settings: listen, peers, discovery)")
    where = str(path)
    listen, peers, discovery = node.get("listen"), node.get("peers"), node.get("discovery")
    if listen is not None and listen is not False and not isinstance(listen, str):
        raise SettingsError(f'{where}: listen is an address ("0.0.0.0:7766") or false')
    if peers is not None and not (isinstance(peers, list) and all(isinstance(p, str) for p in peers)):
        raise SettingsError(f'{where}: peers is a list of addresses (["10.0.0.5:7766"])')
    if discovery is not None and not isinstance(discovery, bool):
        raise SettingsError(f"{where}: discovery is true or false")
    return Given(listen, tuple(peers) if peers is not None else None, discovery, where)


def _address(text: str, where: str, *, default_host: str = "") -> Address:
    try:
        return parse_address(text, default_host=default_host)
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}") from None


def _switch(text: str, where: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise SettingsError(f"{where}: {excerpt(text)} is not on or off (1/0, true/false, yes/no)")
