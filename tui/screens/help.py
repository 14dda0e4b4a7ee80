"""``?`` (or ``ctrl+o`` where ``?`` would be typed): every key of the screen one is on, grouped by where it works.

Made from the bindings themselves (the app's, the screen's and those of every widget on it, from our own
classes), so it cannot drift from what the keys do; a few words say what no binding can (typing writes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

from textual.actions import parse
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

GROUPS = {  # class name -> what the person calls that part of the screen
    "MeshchatApp": "Everywhere",
    "ChatScreen": "Chat",
    "RoomList": "Rooms list",
    "MessageList": "Messages",
    "ComposerInput": "Writing a message",
    "Composer": "Writing a message",
    "IncidentsScreen": "Incident board",
    "CheckinsScreen": "Check-ins",
    "FlashList": "FLASH messages waiting for you",
    "PeersScreen": "Peers",
}
NOTES = {
    "Messages": "Any other key typed goes to the composer: typing always writes. a, r, p, x, t act only after Enter.",
    "Everywhere": "ctrl+p opens the command palette (screens, rooms). The mouse works too: rooms, messages, the "
    "navigation bar, the banners and the key bar can be clicked.",
}
ACT_MODE = {"act"}  # actions shown under "Act mode (after Enter)"


def key_groups(app: DOMNode, screen: Screen[object]) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(group, [(keys, what), ...]), ...]`` for ``screen``: the screen's own widgets first, then the app.
    Keys of one action are listed together (``F1, alt+1``)."""
    groups: dict[str, dict[str, tuple[list[str], str]]] = {}
    nodes: list[DOMNode] = [screen, *screen.query("*"), app]
    for node in nodes:
        for cls in type(node).__mro__:
            group = GROUPS.get(cls.__name__)
            if group is None or not cls.__module__.startswith("tui."):
                continue
            for binding in _bindings(cls.__dict__.get("BINDINGS", ())):
                if not binding.description or not _offered(node, binding):
                    continue
                name = f"{group}: act mode (after Enter)" if binding.action.split("(")[0] in ACT_MODE else group
                keys, _ = groups.setdefault(name, {}).setdefault(binding.action, ([], binding.description))
                for key in binding.key.split(","):
                    shown = _key(node, key.strip())
                    if shown not in keys:
                        keys.append(shown)
    return [(name, [(", ".join(keys), what) for keys, what in actions.values()]) for name, actions in groups.items()]


def _offered(node: DOMNode, binding: Binding) -> bool:
    """Whether the key is this person's to use (a role may not allow it); act-mode keys are listed as such."""
    _, action, parameters = parse(binding.action)
    return action in ACT_MODE or node.check_action(action, parameters) is not False


def _bindings(declared: Iterable[BindingType]) -> list[Binding]:
    return [b for b in declared if isinstance(b, Binding)]


def _key(node: DOMNode, key: str) -> str:
    shown = node.app.get_key_display(Binding(key, ""))
    return shown.upper() if re.fullmatch(r"f\d+", shown) else shown  # F1, as on the keyboard


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,ctrl+o,enter", "close", "Close")]

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="search"):
            yield Static("Keys of this screen", id="search-title")
            yield Static(self.text(), id="help-keys")

    def text(self) -> Content:
        parts: list[Content | str | tuple[str, str]] = []
        for group, keys in key_groups(self.app, self.under):
            parts.append((f"\n{group}\n", "bold $text-accent"))
            width = max(len(k) for k, _ in keys)
            for key, what in keys:
                parts += [(f"  {key.ljust(width)}  ", "bold"), f"{what}\n"]
            if group in NOTES:
                parts.append((f"  {NOTES[group]}\n", "$text-muted"))
        parts.append(("\nEsc closes. docs/tui.md describes every screen.", "$text-muted"))
        return Content.assemble(*parts)

    def action_close(self) -> None:
        self.dismiss(None)
