"""The Textual app: opens the node (or the welcome screen on a first run) and switches between areas.

Kept thin on purpose: screens own their content, :mod:`tui.bridge` owns trio, :mod:`tui.changes` folds
events. The app holds what every screen shares: the node, the bridge, the fork alerts and the status facts.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePath
from typing import ClassVar, TypeVar

from rich.console import RenderableType
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.message import Message as TextualMessage
from textual.notifications import SeverityLevel
from textual.screen import Screen

from meshchat.errors import MeshchatError
from meshchat.events import ForkDetected, NodeEvent, SyncProgress, WritingPaused
from meshchat.homelock import HomeInUse
from meshchat.log.clock import wall_ms
from meshchat.log.views import Message
from meshchat.node import Node, NodeConfig
from meshchat.profile import STORE_FILE
from meshchat.store.queries import SearchHit
from tui.bridge import Companion, NodeBridge, TrioCrashed
from tui.changes import Changes, fold
from tui.desktop import notification_sequence
from tui.flash_watch import FlashWatch
from tui.format import shown, shown_body
from tui.mention_watch import MentionWatch
from tui.screens.base import AreaScreen
from tui.screens.chat import ChatScreen
from tui.screens.checkins import CheckinsScreen
from tui.screens.files import prepare_terminal
from tui.screens.help import HelpScreen
from tui.screens.incidents import IncidentsScreen
from tui.screens.map import MapScreen
from tui.screens.peers import PeersScreen
from tui.screens.problem import ProblemScreen
from tui.screens.search import SearchScreen
from tui.screens.welcome import WelcomeScreen
from tui.widgets.chrome import NAV, Fork, StatusFacts

T = TypeVar("T")
ALARM_TICK_S = 1.0  # how often the FLASH alarm looks at the time
NARROW_BELOW = 90  # columns: below this the room list folds away (ctrl+r shows it) and panes stack
SHORT_BELOW = 30  # lines: below this forms and buttons drop their spacing
# While the app runs: how long a thread holds the interpreter lock before one that waits gets it (Python's
# default is 5 ms). The node stores a catch-up in a worker thread; each time a key or a frame waits for that
# thread, it waits up to this long. Measured during a 100,000-entry catch-up (tests/tui/test_tui_catch_up.py,
# five runs each, alternating): the loop's longest stall 31 -> 22 ms (median), the slowest key 30 -> 18 ms at
# worst; the catch-up itself is no faster for it (docs/hardening.md, "Sync at field scale").
SWITCH_INTERVAL_S = 0.001


class MeshchatApp(App[int]):
    """``MeshchatApp(home).run()``; tests use ``run_test``. ``companions`` run beside the node on trio (the
    demo's simulated teammates)."""

    TITLE = "meshchat"
    # One .tcss per screen. The areas' are loaded at start: a screen's own CSS_PATH re-parses every stylesheet
    # the first time it shows (about 40 ms here), which a modal form or the first-run screen can afford.
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        "app.tcss",
        "screens/chat.tcss",
        "screens/incidents.tcss",
        "screens/checkins.tcss",
        "screens/peers.tcss",
        "screens/map.tcss",
    ]
    # Narrow terminals (a 60x20 window, a split pane) fold the room list away and stack the panes.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_BELOW, "-wide")]  # noqa: RUF012 (Textual's own type)
    VERTICAL_BREAKPOINTS = [(0, "-short"), (SHORT_BELOW, "-tall")]  # noqa: RUF012
    MODES: ClassVar[dict[str, type[AreaScreen]]] = {  # type: ignore[assignment]
        "chat": ChatScreen,
        "incidents": IncidentsScreen,
        "checkins": CheckinsScreen,
        "peers": PeersScreen,
        "map": MapScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "switch_mode('chat')", "Chat", show=False, priority=True),
        Binding("f2", "switch_mode('incidents')", "Incidents", show=False, priority=True),
        Binding("f3", "switch_mode('checkins')", "Check-ins", show=False, priority=True),
        Binding("f4", "switch_mode('peers')", "Peers", show=False, priority=True),
        Binding("f5", "switch_mode('map')", "Map", show=False, priority=True),
        # F-keys are taken by many laptops and some terminals: alt+1..4 too (macOS: Option as Meta).
        Binding("alt+1", "switch_mode('chat')", "Chat", show=False, priority=True),
        Binding("alt+2", "switch_mode('incidents')", "Incidents", show=False, priority=True),
        Binding("alt+3", "switch_mode('checkins')", "Check-ins", show=False, priority=True),
        Binding("alt+4", "switch_mode('peers')", "Peers", show=False, priority=True),
        Binding("alt+5", "switch_mode('map')", "Map", show=False, priority=True),
        Binding("ctrl+g", "search", "Search"),
        Binding("question_mark,ctrl+o", "help", "Keys", key_display="? ^o"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    @dataclass
    class NodeEvents(TextualMessage):
        """A burst of node events, delivered by the bridge."""

        events: Sequence[NodeEvent]

    @dataclass
    class NodeCrashed(TextualMessage):
        crash: TrioCrashed

    def __init__(
        self,
        home: Path,
        *,
        config: NodeConfig | None = None,
        companions: Sequence[Companion] = (),
        notice: str = "",
    ) -> None:
        super().__init__()
        self.notice = notice
        self.home = home
        self.config = config or NodeConfig()
        self.companions = tuple(companions)
        self._node: Node | None = None
        self._switch_interval: float | None = None  # the process's own, while the app has set SWITCH_INTERVAL_S
        self.bridge: NodeBridge | None = None
        self.forks: dict[bytes, int] = {}
        self.sync: dict[str, SyncProgress] = {}
        self._unacknowledged: list[Message] | None = None
        self.current_room: bytes | None = None  # the room the chat shows (roll calls default to it)
        self._announced: set[bytes] = set()  # FLASH messages and roll calls already announced
        self.invite_problem: str | None = None  # our invite was refused: what happened and what to do
        self.home_problem: str | None = None  # the home cannot be written (read-only medium, full disk)
        self.writing_problem: str | None = None  # own writes are paused (own log being fetched back, or forked)
        self.flash_watch: FlashWatch | None = None
        self.mention_watch: MentionWatch | None = None
        self.clock: Callable[[], int] = wall_ms  # the time the FLASH alarm goes by (tests set their own)
        self.bells = 0  # times the bell rang (the terminal's bell is silent in tests)
        self.desktop_notifications: list[tuple[str, str]] = []  # (title, body) of each one sent

    # ---- opening and closing -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        try:
            node = Node.open(self.home, self.config)
        except HomeInUse as exc:  # another node holds the home's lock (meshchat.homelock)
            text = in_use_text(exc.pid) if exc.pid is not None else str(exc)
            self.push_screen(ProblemScreen(f"Another meshchat is using {self.home}", text))
            return
        except MeshchatError as exc:
            if (self.home / STORE_FILE).exists():  # a profile is there: offering to make one would be wrong
                self.push_screen(ProblemScreen(f"Cannot open {self.home}", str(exc)))
                return
            problem = str(exc) if self.home.is_dir() and any(self.home.iterdir()) else ""
            self.push_screen(WelcomeScreen(self.home, problem), self._welcomed)
            return
        other = node.other_node_pid()
        if other is not None:
            node.close()
            self.push_screen(ProblemScreen(f"Another meshchat is using {self.home}", in_use_text(other)))
            return
        self._start(node)

    def _welcomed(self, created: bool | None) -> None:
        if created:
            self._start(Node.open(self.home, self.config))

    def _start(self, node: Node) -> None:
        self._node = node
        self.forks = node.forked_authors()
        self.invite_problem = node.invite_refusal()
        self.home_problem = node.read_only_reason()
        self.writing_problem = node.writing_paused
        self.switch_mode("chat")  # first: the room on screen is what a person waits for
        # What was there before we opened is not news; taken before the node runs, so nothing slips between.
        self._announced |= {m.id for m in self.unacknowledged()} | {c.checkin for c in node.views.checkins()}
        self.flash_watch = FlashWatch(node, self.name_of)
        self.mention_watch = MentionWatch(node)
        self.mention_watch.start()
        self.flash_watch.alarm.known([m.id for m in self.unacknowledged()])
        self._switch_interval = sys.getswitchinterval()  # given back when the app ends (tests run many apps)
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.bridge = NodeBridge(node, self, self.companions)
        self.bridge.start()
        self.call_after_refresh(self._after_first_paint)
        self.call_after_refresh(self.watch_flashes)  # the screens are composed by then
        self.set_interval(ALARM_TICK_S, self.watch_flashes)

    def _after_first_paint(self) -> None:
        # What exists now (modules, Textual's machinery, the screens) lives as long as the app: keep it out of
        # the garbage collector's full passes, each of which stops the app (~180 ms here for the whole heap;
        # bench/tui_open.py measures the longest stall). Cyclic garbage made later is still collected.
        gc.freeze()
        if self.notice:
            self.notify(self.notice, title="Welcome", timeout=30)

    def exit(self, result: int | None = None, return_code: int = 0, message: RenderableType | None = None) -> None:
        """Cancel trio first: Textual removes the screens before the app sees Unmount."""
        if self.bridge is not None:
            self.bridge.stop()
        super().exit(result, return_code, message)

    async def on_unmount(self) -> None:
        if self.bridge is not None:
            await self.bridge.wait_closed()
        if self._node is not None:
            self._node.close()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)

    # ---- the node ------------------------------------------------------------------------------------------

    @property
    def node(self) -> Node:
        assert self._node is not None, "the node opens on mount (or after the welcome screen)"
        return self._node

    def name_of(self, key: bytes) -> str:
        """A member's name as every screen shows it: made safe (it is whatever the member chose)."""
        return shown(self.node.name_of(key))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast, from any screen or widget, shows its text safe and never as markup: toasts carry
        members' messages, names and questions (``[@click=app.quit]`` in a FLASH would be a live link)."""
        super().notify(shown_body(message), title=shown(title), severity=severity, timeout=timeout, markup=False)

    async def write(self, action: Callable[[], Awaitable[T]]) -> T | None:
        """Run a node write on trio. A refusal (not allowed, bad input, disk full) is shown, not raised."""
        result, refusal = await self.try_write(action)
        if refusal is not None:
            self.notify(refusal, title="Not done", severity="error", timeout=8)
        return result

    async def try_write(self, action: Callable[[], Awaitable[T]]) -> tuple[T | None, str | None]:
        """Run a node write on trio: ``(result, None)``, or ``(None, why it was refused)`` for the caller to say
        (a form keeps itself open and says it)."""
        assert self.bridge is not None
        try:
            await self.bridge.wait_ready()
            return await self.bridge.call(action), None
        except MeshchatError as exc:
            return None, str(exc)

    # ---- events from the node (through the bridge) ----------------------------------------------------------

    def node_events(self, events: Sequence[NodeEvent]) -> None:
        self.post_message(self.NodeEvents(events))

    def node_crashed(self, crash: TrioCrashed) -> None:
        self.post_message(self.NodeCrashed(crash))

    def on_meshchat_app_node_events(self, message: NodeEvents) -> None:
        if not self.is_running or self._node is None:
            return  # events that arrive while the app shuts down
        changes = fold(message.events)
        self._absorb(changes)
        shown = self.screen_stack[0] if self.screen_stack else None  # the area, even under a form
        for screen in self._area_screens():
            if screen is shown:
                screen.node_changed(changes)
            else:
                screen.stale = True

    def on_meshchat_app_node_crashed(self, message: NodeCrashed) -> None:
        self.exit(return_code=1, message=shown_body(f"meshchat: the node stopped with an error\n{message.crash.text}"))

    def _absorb(self, changes: Changes) -> None:
        if changes.messages:
            self._unacknowledged = None
        self.sync.update(changes.sync)
        for fork in changes.forks:
            self._announce_fork(fork)
        for problem in changes.problems:
            self.notify(problem, title="Problem", severity="error", timeout=15)
        if changes.invite_refused and changes.invite_refused != self.invite_problem:
            self.invite_problem = changes.invite_refused  # a banner on every screen says it from now on
            self.bell()
        if changes.writing is not None:
            self._announce_writing(changes.writing)
        if changes.remote and "msg.post" in changes.kinds:
            self._announce_flashes()
            self._announce_mentions(changes.rooms)
        if changes.messages or changes.membership or changes.peers:
            self.watch_flashes()
        if changes.remote and "checkin.request" in changes.kinds:
            self._announce_rollcalls()

    def _announce_flashes(self) -> None:
        """A FLASH from a teammate interrupts: a bell and a toast that says how to acknowledge it."""
        for msg in self.unacknowledged():
            if msg.id not in self._announced:
                self._announced.add(msg.id)
                self.notify(
                    f"{msg.text}\n(F3 then a, or select it in the chat and press Enter, a)",
                    title=f"FLASH from {self.name_of(msg.author)}",
                    severity="error",
                    timeout=20,
                )  # the alarm rings (watch_flashes)

    def _announce_mentions(self, rooms: Iterable[bytes]) -> None:
        """``@name`` from a teammate rings and says where (at most three toasts a burst)."""
        if self.mention_watch is None:
            return
        found = self.mention_watch.arrived(rooms, self.clock())
        if not found:
            return
        names = {r.room: shown(r.name) for r in self.node.views.rooms()}
        for msg in found[:3]:
            where = f"{self.name_of(msg.author)} mentioned you in #{names.get(msg.room, '?')}"
            self.notify(msg.text, title=where, severity="warning", timeout=15)
            self.desktop_notify(where, msg.text)
        if len(found) > 3:
            self.notify(f"and {len(found) - 3} more mentions", title="Mentions", timeout=15)
        self.bell()

    def _announce_rollcalls(self) -> None:
        node = self.node
        for checkin in node.views.checkins():
            if checkin.checkin not in self._announced:
                self._announced.add(checkin.checkin)
                if node.me in checkin.missing:
                    self.notify(
                        f"{checkin.question}\nF3, then s (safe) or h (need help).",
                        title=f"Roll call from {self.name_of(checkin.requested_by)}",
                        severity="warning",
                        timeout=20,
                    )

    def _announce_fork(self, fork: ForkDetected) -> None:
        self.forks[fork.author] = fork.seq
        if fork.author == self.node.me:  # WritingPaused says what it means and what to do
            return
        self.notify(
            f"{self.name_of(fork.author)} signed two different entries as #{fork.seq}.",
            title="FORK DETECTED",
            severity="error",
            timeout=30,
        )
        self.bell()

    # ---- FLASH alarms --------------------------------------------------------------------------------------

    def watch_flashes(self) -> None:
        """Read the FLASH facts (once a second, and when messages change): ring, notify, redraw what changed."""
        watch = self.flash_watch
        if watch is None or not self.is_running:
            return
        now = self.clock()
        before = watch.facts.signature
        watch.read(now, self.unacknowledged())
        alarm = watch.tick(now)
        if alarm.ring:
            self.bell()
        for kind, message in alarm.notifications:
            self.desktop_notify(*watch.notification(kind, message))
        if watch.facts.signature != before:
            for screen in self._area_screens():
                if screen.is_current and screen.is_mounted:
                    screen.refresh_chrome()
                    screen.flashes_changed()
                else:
                    screen.stale = True

    def bell(self) -> None:
        self.bells += 1
        super().bell()

    def desktop_notify(self, title: str, body: str) -> None:
        """A desktop notification, where the terminal is known to show one (``tui.desktop``)."""
        self.desktop_notifications.append((title, body))
        sequence = notification_sequence(title, body, os.environ)
        if sequence is not None and not self.is_headless and self._driver is not None:
            self._driver.write(sequence)  # as App.bell writes the bell

    def _announce_writing(self, news: WritingPaused) -> None:
        """Own writes stopped (the end of our own log is being fetched back, or our key forked) or work again. A
        banner on every screen says why while they are paused; a toast and the bell say when that changes."""
        self.writing_problem = news.message if news.paused else None
        if not news.paused:
            self.notify(news.message, title="Writing works again", timeout=10)
            return
        title = "FORK OF YOUR OWN LOG" if news.forked else "Writing paused"
        self.notify(news.message, title=title, severity="error", timeout=60 if news.forked else 30)
        self.bell()

    def _area_screens(self) -> list[AreaScreen]:
        screens: list[AreaScreen] = []
        for mode in self.MODES:
            try:
                stack = self.get_screen_stack(mode)
            except KeyError:
                continue
            screens.extend(s for s in stack if isinstance(s, AreaScreen))
        return screens

    # ---- the command palette (ctrl+p) ----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self._node is None:
            return
        for mode, key, label in NAV:
            yield SystemCommand(f"{label} ({key})", f"Show the {label.lower()} screen", partial(self.switch_mode, mode))
        for room in self.node.views.rooms(include_archived=False):
            yield SystemCommand(  # the palette reads these as markup
                escape(f"Room: # {shown(room.name)}"),
                escape(shown(room.topic)) or "Open this room",
                partial(self.open_room, room.room),
            )

    def action_help(self) -> None:
        """Every key of the screen on show (``?``; ``ctrl+o`` where ``?`` would be typed)."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    @work
    async def action_search(self) -> None:
        """Search messages, incidents and tasks; open the chosen result where it lives."""
        if self._node is None or isinstance(self.screen, SearchScreen):
            return
        hit = await self.push_screen_wait(SearchScreen())
        if hit is None:
            return
        self.switch_mode("chat" if hit.message is not None else "incidents")
        self.call_after_refresh(self._open_hit, hit)  # a screen shown the first time is composed by then

    def _open_hit(self, hit: SearchHit) -> None:
        screen = self.screen
        if hit.message is not None and isinstance(screen, ChatScreen):
            screen.show_message(hit.message)
        elif hit.obj is not None and isinstance(screen, IncidentsScreen):
            screen.show_object(hit.obj)

    def open_room(self, room: bytes) -> None:
        """Show ``room`` in the chat (from the command palette)."""
        self.switch_mode("chat")
        chat = self.screen
        if isinstance(chat, ChatScreen):
            chat.open_room(room)
            chat.rooms.select_room(room)

    # ---- what every screen shows ---------------------------------------------------------------------------

    def unacknowledged(self) -> list[Message]:
        """FLASH messages waiting for my acknowledgement (cached until messages change)."""
        if self._unacknowledged is None:
            self._unacknowledged = self.node.unacknowledged()
        return self._unacknowledged

    def fork_list(self) -> list[Fork]:
        return [Fork(self.name_of(author), seq) for author, seq in sorted(self.forks.items())]

    def status_facts(self) -> StatusFacts:
        node = self.node
        role = node.my_role()
        return StatusFacts(
            me=self.name_of(node.me),
            role=role.label if role is not None else "not a member",
            peers=node.peers(),
            sync=list(self.sync.values()),
            unacknowledged=len(self.unacknowledged()),
        )


def in_use_text(pid: int) -> str:
    return (
        f"Process {pid} runs a meshchat node on this home (another meshchat window, or 'meshchat node'). Two "
        "nodes on one home would fight over its network port and its log. Close the other one (ctrl+q in its "
        "window, or stop 'meshchat node'), or open another home (meshchat --home DIR). ctrl+q quits."
    )


def run_app(
    home: Path, *, config: NodeConfig | None = None, companions: Sequence[Companion] = (), notice: str = ""
) -> int:
    """Run the TUI on ``home`` until the person quits; returns the exit code."""
    prepare_terminal()  # the picture viewer asks the terminal what it can draw: before Textual takes it over
    app = MeshchatApp(home, config=config, companions=companions, notice=notice)
    app.run()
    return app.return_code or 0
