"""How screens and widgets reach the running app (its node, its bridge) without importing ``tui.app``."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.dom import DOMNode

if TYPE_CHECKING:
    from tui.app import MeshchatApp


def session(widget: DOMNode) -> MeshchatApp:
    """The app ``widget`` belongs to, typed as meshchat's app."""
    return cast("MeshchatApp", widget.app)
