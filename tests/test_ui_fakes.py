"""Hand-built snapshots and a provider that serves them, for the UI tests.

No tests live here. These tests check only that the screen shows what a
snapshot contains. A fake provider that returns fixed snapshots sets every
field directly, which scraping the live demo service cannot do.
"""

from __future__ import annotations

from dataclasses import replace

from textual.content import Content
from textual.widget import Widget

from haven_top.core.snapshot import (
    DbPool,
    EndpointStats,
    History,
    Latency,
    ProcessStats,
    SelfStats,
    Snapshot,
    SystemStats,
    TargetStatus,
    Traffic,
)
from haven_top.ui.app import HavenTopApp
from haven_top.ui.screens.main import MainScreen
from haven_top.ui.widgets.endpoints import EndpointsTable

NOW = 1_700_000_000.0
GIB = 1024**3
MIB = 1024**2


def endpoint_rows(count: int) -> tuple[EndpointStats, ...]:
    """`count` endpoints with distinct, easy-to-find numbers."""
    return tuple(
        EndpointStats(
            method="GET",
            endpoint=f"/api/v1/items{index}",
            requests_per_second=100.0 - index,
            errors_per_second=0.0,
            error_ratio=0.0,
            p50=0.004,
            p95=0.012,
            p99=0.020,
        )
        for index in range(count)
    )


def full_snapshot(**changes: object) -> Snapshot:
    """A snapshot with every pane filled; `changes` replaces top-level fields."""
    snapshot = Snapshot(
        taken_at=NOW,
        window_seconds=60.0,
        targets=(
            TargetStatus(
                url="http://127.0.0.1:8000",
                up=True,
                live=True,
                ready=True,
                dependencies={"database": "healthy"},
                last_scrape_age=0.4,
                last_health_age=0.6,
            ),
        ),
        traffic=Traffic(
            requests_per_second=1234.5,
            errors_per_second=6.25,
            error_ratio=0.0506,
            by_status_class={"2xx": 1200.0, "4xx": 28.25, "5xx": 6.25},
        ),
        latency_seconds=Latency(p50=0.0123, p95=0.0876, p99=0.4321),
        endpoints=(
            EndpointStats(
                method="POST",
                endpoint="/api/v1/records",
                requests_per_second=321.5,
                errors_per_second=4.0,
                error_ratio=0.0124,
                p50=0.0215,
                p95=0.1875,
                p99=0.6125,
            ),
            EndpointStats(
                method="GET",
                endpoint="/api/v1/records/{id}",
                requests_per_second=777.0,
                errors_per_second=0.0,
                error_ratio=0.0,
                p50=0.0042,
                p95=0.0311,
                p99=0.0733,
            ),
        ),
        db_pool=DbPool(active=7.0, size=20.0, usage=0.35),
        process=ProcessStats(
            cpu_cores=0.42,
            resident_memory_bytes=123.5 * MIB,
            open_fds=37.0,
            max_fds=1024.0,
            start_time_seconds=NOW - 3 * 3600 - 25 * 60,
        ),
        system=SystemStats(
            cpu_percent=23.5,
            cpu_percent_per_core=(12.0, 35.0),
            memory_used_bytes=3.25 * GIB,
            memory_total_bytes=7.75 * GIB,
            memory_percent=41.9,
            swap_used_bytes=0.0,
            swap_total_bytes=2 * GIB,
            load_average=(0.52, 0.41, 0.33),
            disk_read_bytes_per_second=1.5 * MIB,
            disk_write_bytes_per_second=300 * 1024,
            net_recv_bytes_per_second=12 * 1024,
            net_sent_bytes_per_second=8 * 1024,
        ),
        own=SelfStats(cpu_percent=1.8, resident_memory_bytes=52 * MIB),
        history=History(
            requests_per_second=tuple(float(value % 17) for value in range(120)),
            error_ratio=tuple(0.01 * (value % 5) for value in range(120)),
            p95=(None, None, 0.05, 0.08, 0.2, 0.1),
            db_usage=(0.1, 0.2, 0.35),
            system_cpu_percent=(10.0, 30.0, 23.5),
        ),
        metrics_age=0.4,
        system_age=0.7,
    )
    return replace(snapshot, **changes)


def empty_snapshot() -> Snapshot:
    """A snapshot before any data: every number unknown."""
    return Snapshot(
        taken_at=NOW,
        window_seconds=60.0,
        targets=(TargetStatus(url="http://127.0.0.1:8000"),),
    )


def rest_row(rows: tuple[EndpointStats, ...]) -> EndpointStats:
    """The summed row for `rows`; only its rate is summed, which the tests check."""
    total = sum(row.requests_per_second or 0.0 for row in rows)
    return EndpointStats(
        method="",
        endpoint=f"{len(rows)} others",
        requests_per_second=total,
        is_rest=True,
    )


class FakeProvider:
    """A `SnapshotProvider` that returns `current`, shaped by the request.

    It records each request so tests can check the window, sort and limit the
    screen asked for. It applies the window, and the limit as the real state
    does: the top rows, then one row for the rest.
    """

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self.current = snapshot or full_snapshot()
        self.requests: list[dict[str, object]] = []
        self.started = False
        self.stopped = False
        self.progress_text = ""

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def snapshot(
        self,
        *,
        window_seconds: float,
        selected_target: str | None = None,
        endpoint_sort: str = "rate",
        endpoint_limit: int | None = None,
    ) -> Snapshot:
        self.requests.append(
            {
                "window_seconds": window_seconds,
                "selected_target": selected_target,
                "endpoint_sort": endpoint_sort,
                "endpoint_limit": endpoint_limit,
            }
        )
        snapshot = replace(self.current, window_seconds=window_seconds)
        if endpoint_limit is not None and len(snapshot.endpoints) > endpoint_limit:
            rows = snapshot.endpoints
            snapshot = replace(
                snapshot,
                endpoints=rows[:endpoint_limit] + (rest_row(rows[endpoint_limit:]),),
            )
        return snapshot

    @property
    def progress(self) -> str:
        return self.progress_text


def plain(app: HavenTopApp, selector: str) -> str:
    """The text a widget renders, without styles."""
    rendered = app.screen.query_one(selector, Widget).render()
    return rendered.plain if isinstance(rendered, Content) else str(rendered)


def table_rows(app: HavenTopApp) -> list[list[str]]:
    table = app.screen.query_one(EndpointsTable)
    return [
        [cell.plain for cell in table.get_row_at(index)]
        for index in range(table.row_count)
    ]


def main_screen(app: HavenTopApp) -> MainScreen:
    assert isinstance(app.screen, MainScreen)
    return app.screen
