"""The logs-only screen, and the drill-down steps shared with the dashboard."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from haven_top.core.logstore import LogStore
from haven_top.sources.logstreams import LogHub
from haven_top.ui.screens.request import RequestPickerModal, RequestScreen
from haven_top.ui.widgets.log_view import LogPane, LogView


def open_request(app: App[object], store: LogStore, request_id: str | None) -> None:
    """Show every record of one request; do nothing for None (picker closed)."""
    if request_id:
        app.push_screen(RequestScreen(store, request_id))


def pick_endpoint_request(
    app: App[object], store: LogStore, method: str | None, endpoint: str
) -> None:
    """List an endpoint's recent requests (failed first), then open the pick."""
    app.push_screen(
        RequestPickerModal(store, method, endpoint),
        lambda request_id: open_request(app, store, request_id),
    )


def make_log_pane(app: App[object], hub: LogHub, initial_filter: str = "") -> LogPane:
    """Build the log pane wired to open the request screen on Enter."""
    return LogPane(
        hub,
        id="logs",
        initial_filter=initial_filter,
        on_request=lambda request_id: open_request(app, hub.store, request_id),
    )


class LogsScreen(Screen[None]):
    """The log pane alone, for `haven-top --logs FILE` without targets."""

    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="logs.quit"),
    ]

    def __init__(self, hub: LogHub, *, initial_filter: str = "") -> None:
        super().__init__()
        self.hub = hub
        self.initial_filter = initial_filter

    def compose(self) -> ComposeResult:
        yield make_log_pane(self.app, self.hub, self.initial_filter)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(LogView).focus()
