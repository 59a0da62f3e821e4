"""The dashboard screen: composes the panes and feeds them each new snapshot."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, ItemGrid, Vertical
from textual.screen import Screen
from textual.widgets import DataTable

from haven_top.core.snapshot import Snapshot
from haven_top.core.state import ENDPOINT_SORT_KEYS
from haven_top.sources.admin import AdminOptions
from haven_top.ui.screens.debug import AdminFooter, DebugControl, build_debug_control
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.alerts import AlertsPane
from haven_top.ui.widgets.bars import ProgressLine, StatusLine, TitleBar
from haven_top.ui.widgets.db_pool import DbPoolPane
from haven_top.ui.widgets.endpoints import EndpointsPane
from haven_top.ui.widgets.instances import InstancesPane
from haven_top.ui.widgets.latency import LatencyPane
from haven_top.ui.widgets.pane import STALE_AFTER_SECONDS, Pane
from haven_top.ui.widgets.process import ProcessPane
from haven_top.ui.widgets.system import SystemPane
from haven_top.ui.widgets.targets import TargetList
from haven_top.ui.widgets.traffic import TrafficPane

if TYPE_CHECKING:
    from haven_top.sources.logstreams import LogHub
    from haven_top.ui.app import SnapshotProvider

logger = logging.getLogger(__name__)

WINDOWS_SECONDS = (60.0, 300.0, 900.0)
"""The sliding windows that `w` cycles through."""
DEFAULT_ENDPOINT_LIMIT = 20
"""Rows to request before the endpoints table has a size."""
LOG_PANE_BREAKPOINTS = [(0, "-short"), (50, "-tall")]
"""Screen heights of the compact and roomy pane styles while the log pane takes
rows below the summary. Without it the app's breakpoints apply."""


class MainScreen(Screen[None]):
    """Every pane of one snapshot, refreshed each interval unless paused."""

    PAUSES_LOGS = True
    """Flag for screens whose pause key also freezes the log view. The log view
    then passes its own pause key on to the screen."""

    AUTO_FOCUS = "#endpoints-table"
    """Enter on an endpoint lists its requests. The instances table comes first
    in the DOM but is hidden for a single target, and a hidden widget drops the
    focus it was given."""

    BINDINGS = [
        Binding(
            "p",
            "toggle_pause",
            "Pause",
            id="pause",
            tooltip="Hold the screen still; collection goes on. Press again to resume.",
        ),
        Binding(
            "w",
            "cycle_window",
            "Window",
            id="window",
            tooltip="Cycle the rate and latency window: 1m, 5m, 15m.",
        ),
        Binding(
            "s",
            "cycle_sort",
            "Sort",
            id="sort",
            tooltip="Cycle the endpoints order: request rate, errors, p95 latency.",
        ),
        Binding(
            "i",
            "focus_instances",
            "Instances",
            id="instances",
            tooltip="Move to the instances table; Enter on a row narrows every "
            "pane to that instance.",
        ),
        Binding(
            "escape",
            "show_fleet",
            "All instances",
            id="fleet",
            tooltip="Widen every pane from the chosen instance back to the fleet.",
        ),
        Binding(
            "d",
            "debug",
            "Debug",
            id="debug",
            tooltip="Turn debug logging on in the targets for a while (asks first), "
            "or off again.",
        ),
    ]

    def __init__(
        self,
        provider: SnapshotProvider,
        *,
        interval: float = 1.0,
        window_seconds: float = 60.0,
        read_only: bool = False,
        admin: AdminOptions | None = None,
        log_hub: LogHub | None = None,
        log_filter: str = "",
    ) -> None:
        super().__init__()
        self.provider = provider
        self.log_hub = log_hub
        """The merged log sources; None leaves the log pane out."""
        self.log_filter = log_filter
        self.read_only = read_only
        """When true, the debug key is gone and no admin call is made."""
        self.admin = admin or AdminOptions()
        self.interval = interval
        self.window_seconds = window_seconds
        self.sort_key = ENDPOINT_SORT_KEYS[0]
        self.selected_target: str | None = None
        self.paused = False
        self.logs_held_by_pause = False
        """True while the log view is held only because the screen is paused."""
        self.snapshot: Snapshot | None = None
        """The snapshot on screen; held unchanged while paused."""
        self.last_failure: str | None = None
        """The last snapshot error, logged once until a snapshot succeeds."""
        self.debug_control: DebugControl | None = None
        self.logs_shown = False
        """Whether the log pane is on screen: only once the store has records."""
        self.add_class("-no-logs")

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title-bar")
        yield TargetList(id="targets")
        yield ProgressLine(id="progress")
        with Vertical(id="panes"):
            with Container(id="summary"):
                with ItemGrid(id="rates-row"):
                    yield TrafficPane(id="traffic")
                    yield LatencyPane(id="latency")
                with ItemGrid(id="resources-row"):
                    yield DbPoolPane(id="db-pool")
                    yield ProcessPane(id="process")
                    yield SystemPane(id="system")
            yield AlertsPane(id="alerts")
            yield InstancesPane(id="instances")
        # The endpoints table and the log pane share the rows left over.
        yield EndpointsPane(id="endpoints")
        with Container(id="log-pane"):
            if self.log_hub is not None:
                from haven_top.ui.screens.logs import make_log_pane

                yield make_log_pane(self.app, self.log_hub, self.log_filter)
        yield StatusLine(id="status-line")
        yield AdminFooter(read_only=self.read_only)

    def on_mount(self) -> None:
        stale_after = max(STALE_AFTER_SECONDS, 3 * self.interval)
        for pane in self.query(Pane):
            pane.stale_after = stale_after
        self.query_one(StatusLine).stale_after = stale_after
        self.set_interval(self.interval, self.refresh_view, name="refresh")
        if self.log_hub is not None:
            # A row cursor in the endpoints table lets Enter drill into its logs.
            table = self.query_one(EndpointsPane).table
            table.cursor_type = "row"
            table.show_cursor = True
        if not self.read_only:
            self.debug_control = build_debug_control(
                self.admin, self.provider, self.log_hub
            )
            self.debug_control.show_warnings(self.app)
        self.call_after_refresh(self.refresh_view)

    def refresh_view(self) -> None:
        """Show a fresh snapshot unless the screen is paused."""
        if self.paused:
            return
        try:
            snapshot = self.take_snapshot()
        except Exception as error:
            # A bug in building one snapshot must not end the monitor: the last
            # good data stays on screen and the next refresh tries again.
            message = f"Building the snapshot failed: {error!r}"
            if message != self.last_failure:
                logger.exception("Building the snapshot failed")
            self.last_failure = message
            self.query_one(StatusLine).show_failure(
                f"{message}; the screen shows older data"
            )
            return
        self.last_failure = None
        self.show_snapshot(snapshot)

    def take_snapshot(self) -> Snapshot:
        """Ask the provider for a snapshot with the screen's current settings."""
        return self.provider.snapshot(
            window_seconds=self.window_seconds,
            selected_target=self.selected_target,
            endpoint_sort=self.sort_key,
            endpoint_limit=self.endpoint_limit(),
        )

    def endpoint_limit(self) -> int:
        """Rows that fit in the endpoints table, keeping one for the summed rest."""
        rows = self.query_one(EndpointsPane).table.visible_rows
        if rows <= 0:
            return DEFAULT_ENDPOINT_LIMIT
        return max(rows - 1, 1)

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Render `snapshot` in every widget."""
        self.snapshot = snapshot
        self.query_one(TitleBar).show(snapshot)
        self.query_one(TargetList).show(snapshot)
        self.query_one(ProgressLine).show_progress(self.provider.progress)
        self.query_one(EndpointsPane).sort_key = self.sort_key
        table = self.query_one(EndpointsPane).table
        cursor_row = table.cursor_row
        for pane in self.query(Pane):
            pane.show(snapshot)
        if table.show_cursor and 0 < cursor_row < table.row_count:
            table.move_cursor(row=cursor_row, animate=False)
        self.query_one(StatusLine).show(snapshot)
        self.show_log_pane(self.log_hub is not None and len(self.log_hub.store) > 0)

    def show_log_pane(self, shown: bool) -> None:
        """Show or hide the log pane, switching the breakpoints that suit each.

        The pane stays hidden while no log record has arrived, as for a target
        without a log stream, so the endpoints table keeps the rows.
        """
        if shown == self.logs_shown:
            return
        self.logs_shown = shown
        self.VERTICAL_BREAKPOINTS = LOG_PANE_BREAKPOINTS if shown else None
        # Textual applies breakpoints on resize only, so apply them here too.
        breakpoints = self.VERTICAL_BREAKPOINTS or self.app.VERTICAL_BREAKPOINTS
        classes = {name: False for _, name in breakpoints}
        for minimum, name in sorted(breakpoints, reverse=True):
            if self.size.height >= minimum:
                classes[name] = True
                break
        classes["-no-logs"] = not shown
        self.update_classes(classes, animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on an endpoint row lists its recent requests from the logs."""
        table = self.query_one(EndpointsPane).table
        if self.log_hub is None or event.data_table is not table:
            return
        rows = table.rows_shown
        if not 0 <= event.cursor_row < len(rows) or rows[event.cursor_row].is_rest:
            return
        from haven_top.ui.screens.logs import pick_endpoint_request

        row = rows[event.cursor_row]
        pick_endpoint_request(self.app, self.log_hub.store, row.method, row.endpoint)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool:
        """Hide and disable the debug key in read-only mode, the instances key
        with one target, and Esc while the panes show the whole fleet."""
        if action == "show_fleet":
            return self.selected_target is not None
        if action == "focus_instances":
            return self.query_one(InstancesPane).display
        return action != "debug" or not self.read_only

    def on_instances_pane_selected(self, event: InstancesPane.Selected) -> None:
        """Narrow every pane to the instance picked in the instances table."""
        self.selected_target = event.url
        self.refresh_bindings()
        self.apply_setting(f"showing {event.url} only")

    def action_focus_instances(self) -> None:
        self.query_one(InstancesPane).table.focus()

    def action_show_fleet(self) -> None:
        self.selected_target = None
        self.refresh_bindings()
        self.apply_setting("showing all instances")

    def action_debug(self) -> None:
        if self.debug_control is not None:
            self.debug_control.toggle(self, self.selected_target)

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        taken_at = self.snapshot.taken_at if self.snapshot else None
        key = self.key_for("toggle_pause")
        self.query_one(TitleBar).show_paused(self.paused, taken_at, key)
        self.hold_logs(self.paused)
        self.refresh_view()

    def hold_logs(self, paused: bool) -> None:
        """Hold the log view with the rest of the screen, and let it follow again
        on resume unless the operator had held it before pausing."""
        from haven_top.ui.widgets.log_view import LogView

        for view in self.query(LogView):
            if paused and not view.held:
                view.hold()
                self.logs_held_by_pause = True
            elif not paused and self.logs_held_by_pause:
                view.follow()
        if not paused:
            self.logs_held_by_pause = False

    def action_cycle_window(self) -> None:
        self.window_seconds = next_window(self.window_seconds)
        self.apply_setting(f"window {fmt.window(self.window_seconds)}")

    def action_cycle_sort(self) -> None:
        self.sort_key = next_sort_key(self.sort_key)
        self.apply_setting(f"endpoints sorted by {self.sort_key}")

    def apply_setting(self, description: str) -> None:
        """Re-render at once with a changed setting; while paused, notify instead."""
        if self.paused:
            key = self.key_for("toggle_pause")
            self.notify(
                f"Paused: {description} applies when you press {key} to resume."
            )
            return
        self.refresh_view()

    def key_for(self, action: str) -> str:
        """Return the key bound to `action` on this screen, as the keymap set it."""
        for active in self.active_bindings.values():
            if active.binding.action == action:
                return self.app.get_key_display(active.binding)
        return action


def next_window(current: float) -> float:
    """Return the next longer window, or the shortest after the longest."""
    for seconds in WINDOWS_SECONDS:
        if seconds > current:
            return seconds
    return WINDOWS_SECONDS[0]


def next_sort_key(current: str) -> str:
    """Return the sort key after `current`, wrapping around."""
    keys = ENDPOINT_SORT_KEYS
    if current not in keys:
        return keys[0]
    return keys[(keys.index(current) + 1) % len(keys)]
