"""The map: where everyone is, drawn in the terminal around the team (no tiles, no internet), north up, with a
scale bar; stale positions dimmed by age; the selected item's distance and bearing from me; and beside it a
table of every member's last fix, its age, distance and bearing.

Keys: arrows pan (on the map), ``+``/``-`` zoom, ``c`` centre on me, ``f`` fit everyone, ``n``/``p`` select
the next or previous item, ``r`` report my position by hand, ``x`` stop showing it. The view follows the
team (fits everyone as positions come in) until the person pans or zooms; ``f`` follows again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from meshchat.geo.describe import accuracy_text, ago_text, relation_text
from meshchat.geo.parse import CoordinateError, parse_position
from meshchat.geo.point import Point
from meshchat.log.clock import wall_ms
from meshchat.log.kinds import severity_label
from meshchat.log.positions import Fix, Report, staleness
from meshchat.log.views import TrackedObject
from tui.changes import Changes
from tui.format import clock_seconds, shown, value_text
from tui.screens.base import AreaScreen
from tui.screens.forms import ConfirmForm, Form, labelled
from tui.session import session
from tui.widgets.fields import Field
from tui.widgets.map.canvas import MapCanvas
from tui.widgets.map.member_table import MemberTable, PlaceRow
from tui.widgets.map.scene import MapItem, Viewport, fit
from tui.widgets.table import Rows

HINT = "MAP  north up · arrows pan · +/- zoom · c me · f all · n/p select"


class MapScreen(AreaScreen):
    MODE = "map"
    REREAD_EVERY_S = 5.0  # the fixes' ages move without events
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("plus,equals_sign", "zoom(-1)", "Zoom in"),
        Binding("minus", "zoom(1)", "Zoom out"),
        Binding("c", "centre", "Centre on me"),
        Binding("f", "fit", "Fit all"),
        Binding("n", "select(1)", "Next"),
        Binding("p", "select(-1)", "Previous"),
        Binding("r", "report", "Report position"),
        Binding("x", "clear", "Stop sharing"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.items: list[MapItem] = []
        self.rows: list[PlaceRow] = []
        self.fixes: dict[str, Fix] = {}
        self.incidents: dict[str, TrackedObject] = {}
        self.view: Viewport | None = None
        self.follow = True  # fit everyone on each refresh, until the person moves the view
        self.selected: str | None = None
        self.me: Point | None = None

    def compose_area(self) -> ComposeResult:
        with Horizontal(id="map"):
            with Vertical(id="map-pane"):
                yield Static(HINT, classes="section-title")
                yield MapCanvas(id="map-canvas")
                yield Static(id="map-selected", markup=False)
                yield Static(id="map-gps", markup=False)
            with Vertical(id="map-side"):
                yield Static("WHO IS WHERE", classes="section-title")
                yield MemberTable(id="map-members")

    def area_mounted(self) -> None:
        self.refresh_area(None)
        self.focus_default()

    def focus_default(self) -> None:
        self.query_one(MapCanvas).focus()

    def clock(self) -> int:
        """Now, in ms, by this computer's clock: ages depend on it (tests pin it). Ages compare with receipt
        times, which this node stamps with the same clock, so they hold even when it is off."""
        return wall_ms()

    @property
    def canvas(self) -> MapCanvas:
        return self.query_one(MapCanvas)

    # ---- reading -------------------------------------------------------------------------------------------

    def refresh_area(self, changes: Changes | None) -> None:
        if changes is not None and not (changes.positions or changes.membership):
            return
        app = session(self)
        node = app.node
        now = self.clock()
        fixes = node.views.positions()
        outsiders = node.views.outsiders()
        mine = next((f for f in fixes if f.author == node.me), None)
        self.me = Point(mine.lat_e7, mine.lon_e7) if mine else None
        self.fixes = {}
        items: list[MapItem] = []
        for fix in fixes:
            key = f"member:{fix.author.hex()}"
            self.fixes[key] = fix
            kind = "me" if fix.author == node.me else "member"
            items.append(self._item(key, kind, app.name_of(fix.author), fix, now))
        for fix in outsiders:
            assert fix.via is not None
            key = f"outsider:{fix.via.net}:{fix.via.uid}"
            self.fixes[key] = fix
            items.append(self._item(key, "outsider", shown(fix.via.label), fix, now))
        self.incidents = {}
        for incident in node.views.incidents():
            where = incident.get("location")
            if incident.get("status") == "closed" or not isinstance(where, dict):
                continue
            lat, lon = where.get("lat_e7"), where.get("lon_e7")
            if isinstance(lat, int) and isinstance(lon, int):
                key = f"incident:{incident.obj.hex()}"
                self.incidents[key] = incident
                severity = incident.get("severity")
                title = value_text(incident.get("title"))
                level = severity if isinstance(severity, int) else 3
                items.append(MapItem(key, "incident", title, Point(lat, lon), severity=level))
        self.items = items
        self.rows = self._rows(fixes, outsiders, now)
        if self.selected not in {i.key for i in items}:
            self.selected = None
        self.query_one(MemberTable).show_places(self.rows, self.me)
        self._draw()
        self._show_gps()

    def _item(self, key: str, kind: str, label: str, fix: Fix, now: int) -> MapItem:
        return MapItem(
            key,
            kind,  # type: ignore[arg-type]
            label,
            Point(fix.lat_e7, fix.lon_e7),
            accuracy_m=fix.accuracy_m,
            staleness=staleness(fix.age_ms(now)),
        )

    def _rows(self, fixes: list[Fix], outsiders: list[Fix], now: int) -> list[PlaceRow]:
        app = session(self)
        node = app.node
        by_author = {f.author: f for f in fixes}
        members = [k for k, m in node.membership.members.items() if m.role is not None]
        rows = []
        for key in sorted(members, key=lambda k: (k != node.me, app.name_of(k).lower())):
            fix = by_author.get(key)
            rows.append(self._row(f"member:{key.hex()}", app.name_of(key), fix, now))
        for fix in outsiders:
            assert fix.via is not None
            row = self._row(f"outsider:{fix.via.net}:{fix.via.uid}", shown(fix.via.label), fix, now)
            rows.append(replace(row, outsider=True))
        return rows

    @staticmethod
    def _row(key: str, name: str, fix: Fix | None, now: int) -> PlaceRow:
        if fix is None:
            return PlaceRow(key, name, None)
        age = fix.age_ms(now)
        return PlaceRow(key, name, Point(fix.lat_e7, fix.lon_e7), fix.time, age, staleness(age), fix.doubtful)

    # ---- drawing -------------------------------------------------------------------------------------------

    def _draw(self) -> None:
        canvas = self.canvas
        width, height = canvas.content_region.width or 60, canvas.content_region.height or 20
        if self.follow or self.view is None:
            self.view = fit([i.point for i in self.items], width, height, centre=self.me)
        items = self.items
        if self.selected is not None and self.selected.startswith("member:"):
            track = session(self).node.views.track(bytes.fromhex(self.selected.split(":", 1)[1]))
            points = tuple(Point(f.lat_e7, f.lon_e7) for f in track.segments[-1]) if track.segments else ()
            items = [replace(i, track=points) if i.key == self.selected else i for i in items]
        canvas.show(items, self.view, self.selected)
        self._show_selected()

    def _show_selected(self) -> None:
        line = self.query_one("#map-selected", Static)
        key = self.selected
        item = next((i for i in self.items if i.key == key), None)
        if item is None:
            count = sum(i.kind != "incident" for i in self.items)
            line.update(Content.styled(f"{count} on the map · n selects the next · f fits everyone", "$text-muted"))
            return
        parts: list[str] = [item.label]
        if item.kind == "incident":
            parts.append(severity_label(item.severity))
        fix = self.fixes.get(key or "")
        if self.me is not None and item.kind != "me":
            parts.append(f"{relation_text(self.me, item.point)} from you")
        if fix is not None:
            parts.append(accuracy_text(fix.accuracy_m))
            parts.append(f"{ago_text(fix.age_ms(self.clock()))} ({clock_seconds(fix.time)})")
            if fix.doubtful:
                parts.append(f"claims {clock_seconds(fix.fix_ms)}: time doubtful")
            if fix.via is not None:
                parts.append(f"relayed by {session(self).name_of(fix.author)}")
        parts.append(item.point.mgrs())
        if self.view is not None and not self.view.shows(item.point, *self._canvas_size()):
            parts.append("off the map (f fits everyone)")
        line.update(Content.styled(" · ".join(parts), "bold"))

    def _show_gps(self) -> None:
        status = session(self).node.gps_status
        gps = self.query_one("#map-gps", Static)
        if status is None:
            gps.update(
                Content.styled("GPS off (start with --gps to report from gpsd) · r reports by hand", "$text-muted")
            )
        elif status.state == "fix":
            gps.update(Content.styled(f"GPS: fix {status.detail}", "$text-success"))
        elif status.state == "down":
            gps.update(Content.styled(f"GPS: {status.detail} (retrying)", "$text-error"))
        else:
            gps.update(Content.styled(f"GPS: {status.detail}", "$text-warning"))

    def _canvas_size(self) -> tuple[int, int]:
        region = self.canvas.content_region
        return region.width or 60, region.height or 20

    # ---- keys ----------------------------------------------------------------------------------------------

    def on_map_canvas_moved(self, event: MapCanvas.Moved) -> None:
        self.view, self.follow = event.view, False
        self._show_selected()

    def on_resize(self) -> None:
        self._draw()

    def action_zoom(self, step: int) -> None:
        if self.view is not None:
            self.view, self.follow = self.view.zoomed(step), False
            self._draw()

    def action_centre(self) -> None:
        if self.me is None:
            self.notify("You have not reported a position: r reports one by hand.", title="No position")
            return
        zoom = self.view.zoom if self.view is not None else None
        self.view, self.follow = Viewport(self.me, zoom) if zoom is not None else Viewport(self.me), False
        self.selected = next((i.key for i in self.items if i.kind == "me"), self.selected)
        self._draw()

    def action_fit(self) -> None:
        self.follow = True
        self._draw()

    def action_select(self, step: int) -> None:
        order = sorted(self.items, key=lambda i: (i.kind != "me", i.kind == "incident", i.kind, i.label.lower()))
        if not order:
            return
        keys = [i.key for i in order]
        at = keys.index(self.selected) if self.selected in keys else (-1 if step > 0 else 0)
        self._select(keys[(at + step) % len(keys)])

    def _select(self, key: str) -> None:
        self.selected = key
        item = next(i for i in self.items if i.key == key)
        if self.view is not None and not self.view.shows(item.point, *self._canvas_size()):
            self.view, self.follow = Viewport(item.point, self.view.zoom), False
        if key in self.query_one(MemberTable).keys:
            self.query_one(MemberTable).select(key)
        self._draw()

    def on_rows_highlighted(self, event: Rows.Highlighted) -> None:
        keys = {i.key for i in self.items}
        if isinstance(event.table, MemberTable) and event.key in keys and event.key != self.selected:
            self._select(event.key)

    @work
    async def action_report(self) -> None:
        app = session(self)

        async def report(values: Report) -> str | None:
            _, refusal = await app.try_write(lambda: app.node.report_position(values))
            return refusal

        form = PositionForm(app.node.team_now)  # a fix leaves this node: dated by the team's time
        form.submit = report  # a refusal is said in the form, and what was typed stays
        reported = await app.push_screen_wait(form)
        if reported is not None:
            self.notify(f"Reported {Point(reported.lat_e7, reported.lon_e7).mgrs()}", title="Position")

    @work
    async def action_clear(self) -> None:
        app = session(self)
        if self.me is None:
            return
        detail = "Your last position stays in the log; from now on no one is shown where you are."
        if await app.push_screen_wait(ConfirmForm("Stop showing your position?", detail, "Stop")):
            await app.write(app.node.clear_position)


class PositionForm(Form[Report]):
    """Where I am, typed: decimal degrees, an MGRS reference or a geo: URI; accuracy optional."""

    TITLE_TEXT = "Report my position"
    SAVE_LABEL = "Report"

    def __init__(self, clock: Callable[[], int]) -> None:
        super().__init__()
        self.clock = clock

    def fields(self) -> ComposeResult:
        yield from labelled("Where", Field(placeholder="52.0907 5.1214  or  31U FT 12345 67890", id="position-where"))
        yield from labelled("Accuracy (m)", Field(placeholder="as precise as typed", id="position-accuracy"))

    def result(self) -> Report:
        try:
            parsed = parse_position(self.text("position-where"))
        except CoordinateError as exc:
            raise ValueError(str(exc)) from None
        accuracy = parsed.accuracy_m
        typed = self.text("position-accuracy")
        if typed:
            if not typed.isdigit() or int(typed) > 1_000_000:
                raise ValueError("Accuracy is a whole number of metres (up to 1,000,000).")
            accuracy = int(typed)
        point = parsed.point
        return Report(point.lat_e7, point.lon_e7, accuracy, fix_ms=self.clock(), source="manual")
