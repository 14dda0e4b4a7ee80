"""Text fields that keep what a person types in order when focus moves on.

A terminal hands the app keys in bursts (a fast typist, a paste): Textual passes each key to the widget that
has focus as it reads it, and the widget works through them later. So when Enter or Tab moves focus, the keys
typed right after them are already waiting in the field being left, and Textual's ``Input`` puts them there
("Flood", Tab, "Ana" gave a team called "FloodAna"). A :class:`Field` acts on Enter and Tab in turn with the
other keys (focus moves before it reads the next one) and passes every key that reaches it after focus has
moved on to the widget that has focus now. Its editing keys (backspace, ctrl+u, ...) act in turn too (Textual
runs bindings only once a key has bubbled up to the app, after the keys queued behind it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import events
from textual.widgets import Input

OnEnter = Callable[["Field"], None]


class Field(Input):
    """``on_enter``: what Enter does, at once (move to the next field, save the form)."""

    def __init__(
        self, value: str | None = None, placeholder: str = "", *, on_enter: OnEnter | None = None, **options: Any
    ) -> None:
        super().__init__(value, placeholder, **options)
        self.on_enter = on_enter

    async def _on_key(self, event: events.Key) -> None:
        focused = self.screen.focused
        if focused is not self:  # typed after focus moved on: it belongs where focus is now
            event.stop()
            event.prevent_default()
            if focused is not None:
                focused.post_message(events.Key(event.key, event.character))
            return
        if event.key in ("tab", "shift+tab"):
            event.stop()
            event.prevent_default()
            if event.key == "tab":
                self.screen.focus_next()
            else:
                self.screen.focus_previous()
            return
        if event.key == "enter" and self.on_enter is not None:
            event.stop()
            event.prevent_default()
            self.on_enter(self)
            return
        own = self._bindings.key_to_bindings.get(event.key, [])
        if own and not event.is_printable:  # an editing key (backspace, ctrl+u, ...): now, in turn with the others
            event.stop()
            event.prevent_default()
            await self.run_action(own[0].action)
            return
        await super()._on_key(event)
