"""What every screen shows around its content: the navigation bar, the fork alert and the status bar."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widgets import Static

from meshchat.events import PeerStatus, SyncProgress
from tui.format import plural

NAV = (
    ("chat", "F1", "Chat"),
    ("incidents", "F2", "Incidents"),
    ("checkins", "F3", "Check-ins"),
    ("peers", "F4", "Peers"),
    ("map", "F5", "Map"),
)


class NavItem(Static):
    """One clickable entry of the navigation bar."""

    @dataclass
    class Chosen(TextualMessage):
        mode: str

    def __init__(self, mode: str, key: str, label: str, *, active: bool) -> None:
        super().__init__(Content.assemble((f" {key} ", "bold"), f"{label} "), classes="-active" if active else "")
        self.mode = mode

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Chosen(self.mode))


class NavBar(Horizontal):
    """``meshchat · Flood response    F1 Chat  F2 Incidents  F3 Check-ins  F4 Peers``; the mouse works too."""

    def __init__(self, team: str, active: str) -> None:
        super().__init__()
        self.team = team
        self.active = active

    def compose(self) -> ComposeResult:
        yield Static(Content.assemble(("meshchat", "bold $accent"), " · ", (self.team, "bold")), id="nav-title")
        for mode, key, label in NAV:
            yield NavItem(mode, key, label, active=mode == self.active)


@dataclass(frozen=True, slots=True)
class Fork:
    author: str  # display name
    seq: int


class ForkBanner(Static):
    """A red bar across the top of every screen while any author has forked: nobody can miss it."""

    def show_forks(self, forks: Sequence[Fork]) -> None:
        self.display = bool(forks)
        if not forks:
            return
        lines = [
            f"⚠ FORK: {f.author} signed two different entries as #{f.seq}. Their log counts only up to "
            f"#{f.seq - 1} on every node, and the proof goes to HQ. Check {f.author}'s device "
            "(a restored backup? a copied key?)."
            for f in forks
        ]
        self.update("\n".join(lines))


class FlashBanner(Static):
    """FLASH messages on every screen until they are acknowledged, and the sender's overdue ones with who is
    silent and who is unreachable. A click shows the check-ins screen, where ``a`` acknowledges."""

    @dataclass
    class Clicked(TextualMessage):
        """The person clicked the banner."""

    def show_lines(self, lines: Sequence[Content]) -> None:
        self.display = bool(lines)
        if lines:
            self.update(Content("\n").join(lines), layout=True)

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Clicked())


class NoticeBanner(Static):
    """A bar under the navigation that stays on every screen while something blocks the person (their invite
    was refused, the home cannot be written, own writes are paused): what happened and what to do."""

    def show_notice(self, text: str | None) -> None:
        self.display = bool(text)
        if text:
            self.update(Content.assemble(("⚠ ", "bold"), (text, "bold")))


@dataclass(frozen=True, slots=True)
class StatusFacts:
    """What the status bar says; the app gathers it from the node."""

    me: str
    role: str
    peers: Sequence[PeerStatus]
    sync: Sequence[SyncProgress]
    unacknowledged: int


def peers_text(peers: Sequence[PeerStatus], sync: Sequence[SyncProgress]) -> Content:
    live = [p for p in peers if p.state in ("live", "syncing")]
    syncing = [s for s in sync if not s.done]
    if syncing:
        got = sum(s.received for s in syncing)
        expected = sum(max(s.expected, s.received) for s in syncing)
        progress = f" {got:,}/{expected:,}" if expected else "…"  # before the peer says how much it has
        state = Content.styled(f"⟳ syncing{progress}", "bold $text-warning")
    elif live:
        state = Content.styled("✓ in sync", "$text-success")
    else:
        state = Content.styled("offline: messages wait to sync", "$text-muted")
    if live:
        dot = Content.styled(f"● {plural(len(live), 'peer')} connected", "bold $text-success")
    elif peers:
        dot = Content.styled(f"○ 0 of {plural(len(peers), 'known peer')} connected", "bold $text-warning")
    else:
        dot = Content.styled("○ no peers", "bold $text-muted")
    return Content.assemble(dot, " · ", state)


class StatusBar(Horizontal):
    """Peers and sync state on the left, what waits for me in the middle, who I am on the right."""

    def compose(self) -> ComposeResult:
        yield Static(id="status-peers")
        yield Static(id="status-flash")
        yield Static(id="status-me")

    def show(self, facts: StatusFacts) -> None:
        self.query_one("#status-peers", Static).update(peers_text(facts.peers, facts.sync))
        flash = self.query_one("#status-flash", Static)
        flash.update(
            Content.styled(f" ⚑ {facts.unacknowledged} FLASH to acknowledge (F3) ", "bold $text-error on $error-muted")
            if facts.unacknowledged
            else ""
        )
        self.query_one("#status-me", Static).update(Content.assemble((facts.me, "bold"), f" · {facts.role}"))


class KeyBar(Static):
    """The keys of what has focus, on one line at the bottom; click one to press it.

    Textual's ``Footer`` rebuilds one widget per key whenever the keys change, that is on every focus change
    and every mode change (about 100 ms here, during which no key is read); this redraws one line.
    """

    def __init__(self) -> None:
        super().__init__(id="key-bar")
        self._spans: list[tuple[int, int, str]] = []  # cells of each key on the line, for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self.update(self._line(), layout=False)  # one line, docked: its size never changes

    def _line(self) -> Content:
        parts: list[Content] = []
        spans: list[tuple[int, int, str]] = []
        seen: set[str] = set()
        at = 0
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            part = Content.assemble(
                (f" {key} ", "bold $footer-key-foreground" if enabled else "$text-disabled"),
                (f"{binding.description} ", "$footer-description-foreground" if enabled else "$text-disabled"),
            )
            spans.append((at, at + part.cell_length, binding.key.split(",")[0]))
            at += part.cell_length
            parts.append(part)
        self._spans = spans
        return Content("").join(parts)

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                event.stop()
                self.app.simulate_key(key)
                return
