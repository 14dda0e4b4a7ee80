"""Errors of the export package. Every one carries a message a person can act on; none is a traceback."""

from __future__ import annotations

from meshchat.errors import UserError


class ExportError(UserError):
    """An export, bundle or archive operation that cannot be done; the message says why."""


class BundleFormatError(ExportError):
    """A file that is not a well-formed meshchat log stream, manifest or frontier (truncated, garbage, too big).

    Bundles arrive on USB sticks from people we may not trust: this is the only way bad bytes surface."""
