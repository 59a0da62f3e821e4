"""The dashboard end to end: the real collector scraping the demo service."""

from __future__ import annotations

import time

from test_ui_fakes import main_screen, plain, table_rows

from haven_top.demo.launcher import DemoProcess
from haven_top.sources.collector import Collector
from haven_top.sources.scraper import Timeouts
from haven_top.ui.app import make_app
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.targets import short_url

INTERVAL = 0.5
DEADLINE_SECONDS = 20.0


async def test_dashboard_shows_demo_snapshot(demo: DemoProcess) -> None:
    collector = Collector(
        [demo.url], interval=INTERVAL, timeouts=Timeouts(total=3.0, connect=3.0)
    )
    app = make_app(collector, interval=INTERVAL)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            snapshot = screen.snapshot
            if snapshot and snapshot.endpoints and snapshot.latency_seconds.p95:
                break
            await pilot.pause(0.1)
        await pilot.press("p")
        snapshot = screen.snapshot
        assert snapshot is not None
        assert snapshot.traffic.requests_per_second is not None

        target = plain(app, "#targets")
        assert f"{short_url(demo.url)}  UP  live OK  ready OK" in target
        traffic = plain(app, "#traffic-rates")
        assert fmt.rate(snapshot.traffic.requests_per_second) in traffic
        assert fmt.percent(snapshot.traffic.error_ratio) in traffic
        latency = plain(app, "#latency-quantiles")
        assert f"p95 {fmt.millis(snapshot.latency_seconds.p95)}" in latency
        assert f"{snapshot.db_pool.size:.0f} in use" in plain(app, "#db-counts")
        process = plain(app, "#process-stats")
        assert fmt.size(snapshot.process.resident_memory_bytes) in process

        rows = table_rows(app)
        for row, stats in zip(rows, snapshot.endpoints, strict=False):
            assert row[1] == stats.endpoint
            assert row[2] == fmt.rate(stats.requests_per_second, "", fmt.DASH)
        assert "PAUSED" in plain(app, "#paused-badge")
