"""From a failing endpoint to one failing request's records, on the demo."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable

from haven_top.core.logstore import LogStore
from haven_top.sources.collector import Collector
from haven_top.sources.log_websocket import WebSocketLogSource
from haven_top.sources.logstreams import LogHub
from haven_top.sources.scraper import Timeouts
from haven_top.ui.app import make_app
from haven_top.ui.screens.logs import LogsScreen
from haven_top.ui.screens.request import RequestScreen
from haven_top.ui.widgets.log_view import LogView

INTERVAL = 0.5


async def wait_for(pilot: Any, check: Callable[[], bool], timeout: float = 40) -> None:  # noqa: ANN401
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause(0.1)


def has_failed_request(store: LogStore) -> bool:
    return any(store.status_at(seq) >= 500 for seq in store.seqs())


async def test_endpoint_to_failed_request_in_three_keys(start_demo) -> None:  # noqa: ANN001
    service = start_demo(scenario="incident", phase_seconds=4, seed=7)
    collector = Collector(
        [service.url], interval=INTERVAL, timeouts=Timeouts(total=3.0, connect=3.0)
    )
    hub = LogHub(LogStore(20_000))
    source = WebSocketLogSource(service.url, token=service.token)
    app = make_app(collector, interval=INTERVAL, log_hub=hub, log_sources=[source])
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen

        def error_endpoint_shown() -> bool:
            snapshot = screen.snapshot
            return bool(
                snapshot
                and any((e.errors_per_second or 0) > 0 for e in snapshot.endpoints)
                and has_failed_request(hub.store)
            )

        await wait_for(pilot, error_endpoint_shown)
        table = screen.query_one("#endpoints-table", DataTable)
        # The endpoints table is the first focusable widget, so it has focus.
        assert app.focused is table
        await pilot.press("s")
        await pilot.pause()
        top = table.rows_shown[0]
        assert (top.errors_per_second or 0) > 0
        await pilot.press("enter")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        request_screen = app.screen
        assert isinstance(request_screen, RequestScreen)
        records = hub.store.request_records(request_screen.request_id)
        assert any((record.status or 0) >= 500 for record in records)
        summary = str(request_screen.query_one("#request-summary").render())
        assert top.method in summary
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_logs_alone_without_targets(tmp_path) -> None:  # noqa: ANN001
    from haven_top.sources.log_files import FileLogSource

    path = tmp_path / "app.log"
    path.write_text('{"level": "ERROR", "message": "disk full"}\nplain line\n')
    hub = LogHub(LogStore(100))
    app = make_app(None, log_hub=hub, log_sources=[FileLogSource(path)])
    async with app.run_test(size=(100, 20)) as pilot:
        assert isinstance(app.screen, LogsScreen)
        view = app.screen.query_one(LogView)
        await wait_for(pilot, lambda: len(view.selection) == 2, timeout=10)
        rows = [view.render_line(y).text for y in range(view.size.height)]
        assert any("disk full" in row for row in rows)
        assert any("plain line" in row for row in rows)
