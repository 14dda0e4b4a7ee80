"""What HQ pins before it trusts an export: the team and the key that signed the manifest.

Anyone can re-sign an export with a key of their own, and anyone can found a team of the same name and fill
its log with whatever they like. So ``meshchat export`` prints the team id and the signer's key in a form to
read over the radio, and HQ passes them to ``meshchat verify --expect-team ... --expect-signer ...``.

A pin is the hex of the id or key, whole or a prefix of at least :data:`MIN_DIGITS` digits (128 bits: making
a key or a team whose id starts with given 128 bits is a second-preimage search of 2^128 steps). Spaces,
dashes and colons are ignored, so ``3fa2 c1d0 ...`` as read out works as it is written down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_DIGITS = 32
GROUP = 4
_SEPARATORS = re.compile(r"[\s:-]+")
_HEX = re.compile(r"[0-9a-f]+")


class PinError(ValueError):
    """A pin that is not hex, or too short to pin anything."""


@dataclass(frozen=True, slots=True)
class Expected:
    """The pins HQ gives ``verify`` (``None``: not pinned)."""

    team: str | None = None
    signer: str | None = None


def parse_pin(text: str, what: str = "pin") -> str:
    """``text`` as a pin: lower-case hex digits, :data:`MIN_DIGITS` to 64 of them."""
    digits = _SEPARATORS.sub("", text).lower()
    if not _HEX.fullmatch(digits or "-"):
        raise PinError(f"the {what} must be hex digits (as 'meshchat export' printed it), not {text!r}")
    if not MIN_DIGITS <= len(digits) <= 64:
        given = len(digits)
        raise PinError(
            f"the {what} must be {MIN_DIGITS} to 64 hex digits, as 'meshchat export' printed it ({given} given)"
        )
    return digits


def matches(pin: str, value: bytes) -> bool:
    return value.hex().startswith(pin)


def radio_text(value: bytes) -> str:
    """The first :data:`MIN_DIGITS` hex digits in groups of four, to read over the radio: ``3fa2 c1d0 ...``."""
    digits = value.hex()[:MIN_DIGITS]
    return " ".join(digits[i : i + GROUP] for i in range(0, len(digits), GROUP))


def compact(value: bytes) -> str:
    """The same digits as :func:`radio_text`, unbroken, for a command line."""
    return value.hex()[:MIN_DIGITS]
