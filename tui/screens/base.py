"""What every area screen shares: navigation bar, fork alert, status bar and footer, and how node changes
reach it (now if it is shown, on return if not)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.screen import Screen

from tui.changes import Changes
from tui.format import shown
from tui.session import session
from tui.widgets.chrome import FlashBanner, ForkBanner, KeyBar, NavBar, NavItem, NoticeBanner, StatusBar


class AreaScreen(Screen[None]):
    """Base of the chat, incidents, check-ins and peers screens (the app's modes)."""

    MODE: ClassVar[str] = ""
    # What a screen shows that moves without node events (ages, sync times): re-read this often while shown.
    REREAD_EVERY_S: ClassVar[float | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.stale = False

    def compose(self) -> ComposeResult:
        yield NavBar(shown(session(self).node.team_name), self.MODE)
        yield ForkBanner(id="fork-banner")
        yield FlashBanner(id="flash-banner")
        yield NoticeBanner(id="notice-banner")
        yield from self.compose_area()
        yield StatusBar(id="status-bar")
        yield KeyBar()

    def compose_area(self) -> ComposeResult:
        """The screen's own content, between the fork banner and the status bar."""
        yield from ()

    def on_mount(self) -> None:
        # Textual calls on_mount of every class in the MRO: subclasses use area_mounted instead.
        self.area_mounted()
        self.refresh_chrome()
        if self.REREAD_EVERY_S is not None:
            self.set_interval(self.REREAD_EVERY_S, self._reread)

    def _reread(self) -> None:
        if self.is_current:
            self.refresh_area(None)

    def area_mounted(self) -> None:
        """Fill the screen the first time (the default reads everything)."""
        self.refresh_area(None)

    def on_screen_resume(self) -> None:
        if self.stale:
            self.stale = False
            self.refresh_chrome()
            self.refresh_area(None)
            self.refresh_bindings()
        self.focus_default()

    def focus_default(self) -> None:
        """Give focus to where a person most likely types next."""

    def node_changed(self, changes: Changes) -> None:
        """Called by the app with each burst of node events while this screen is shown."""
        self.refresh_chrome()
        self.refresh_area(changes)
        if changes.membership:
            self.refresh_bindings()  # a role changed: what is offered changes with it

    def refresh_chrome(self) -> None:
        app = session(self)
        self.query_one(ForkBanner).show_forks(app.fork_list())
        self.query_one(FlashBanner).show_lines(app.flash_watch.banner_lines() if app.flash_watch else [])
        self.query_one(NoticeBanner).show_notice(app.invite_problem or app.home_problem or app.writing_problem)
        self.query_one(StatusBar).show(app.status_facts())

    def refresh_area(self, changes: Changes | None) -> None:
        """Re-read what ``changes`` touch (``None``: everything)."""

    def flashes_changed(self) -> None:
        """A FLASH's status changed without new entries (it became overdue, a member went quiet)."""

    def on_nav_item_chosen(self, event: NavItem.Chosen) -> None:
        session(self).switch_mode(event.mode)

    def on_flash_banner_clicked(self, event: FlashBanner.Clicked) -> None:
        session(self).switch_mode("checkins")
