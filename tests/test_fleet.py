"""A fleet on screen: the instances table, narrowing to one instance, alerts.

Hand-built snapshots check exact cells; a real collector over two demo
instances checks that narrowing reaches the data and the screen shows it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from test_ui_fakes import NOW, FakeProvider, full_snapshot, main_screen, plain

from haven_top.core.snapshot import Alert, Snapshot, TargetStatus
from haven_top.demo.launcher import DemoProcess
from haven_top.sources.collector import Collector
from haven_top.ui.app import make_app
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.alerts import AlertsPane
from haven_top.ui.widgets.instances import InstancesPane, InstancesTable
from haven_top.ui.widgets.targets import targets_content

SIZES = [(80, 24), (160, 50)]
SLOW = 60.0
"""A refresh interval no test waits for, so only keys and mount refresh."""

FLEET = (
    TargetStatus(
        url="http://127.0.0.1:8001",
        up=True,
        live=True,
        ready=True,
        last_scrape_age=0.4,
        requests_per_second=41.5,
        error_ratio=0.012,
        p95=0.0876,
        pool_usage=0.35,
    ),
    TargetStatus(
        url="http://127.0.0.1:8002",
        up=True,
        live=True,
        ready=False,
        ready_error="database unreachable",
        last_scrape_age=0.6,
        requests_per_second=12.25,
        error_ratio=0.25,
        p95=1.5,
        pool_usage=0.95,
    ),
    TargetStatus(
        url="http://127.0.0.1:8003",
        up=False,
        error="connection refused",
        last_scrape_age=42.0,
    ),
)


def fleet_snapshot(**changes: object) -> Snapshot:
    return replace(full_snapshot(), targets=FLEET, **changes)


class NarrowingProvider(FakeProvider):
    """A fake that echoes the requested instance back in its snapshots."""

    def snapshot(self, **request: object) -> Snapshot:  # type: ignore[override]
        snapshot = super().snapshot(**request)  # type: ignore[arg-type]
        return replace(snapshot, selected_target=request.get("selected_target"))


def instance_rows(table: InstancesTable) -> list[list[str]]:
    return [
        [cell.plain for cell in table.get_row_at(index)]
        for index in range(table.row_count)
    ]


@pytest.mark.parametrize("size", SIZES)
async def test_instances_table_matches_snapshot(size: tuple[int, int]) -> None:
    app = make_app(FakeProvider(fleet_snapshot()), interval=SLOW)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        pane = app.screen.query_one(InstancesPane)
        assert pane.display
        assert pane.region.height > 0
        rows = instance_rows(pane.table)
        assert rows[0] == [
            "127.0.0.1:8001",
            "UP",
            "OK",
            "OK",
            "41.5",
            "1.2",
            "87.6",
            "35.0",
            "0.4s",
        ]
        assert rows[1][3] == "FAIL"
        assert rows[1][5:8] == ["25.0", "1,500", "95.0"]
        assert rows[2][:2] == ["127.0.0.1:8003", "DOWN"]
        assert rows[2][2:5] == ["–", "–", "–"]
        assert rows[2][-1] == "42s"
        assert "Instances (3)" in str(pane.border_title)


UNKNOWN_HEALTH = tuple(
    TargetStatus(url=f"127.0.0.1:{8001 + index}", up=True, last_scrape_age=0.5)
    for index in range(4)
)
"""Instances read through Prometheus: up, with live and ready unknown."""


def test_unknown_health_is_not_unhealthy() -> None:
    ready_failed = replace(UNKNOWN_HEALTH[0], url="127.0.0.1:9000", ready=False)
    lines = targets_content((*UNKNOWN_HEALTH, ready_failed)).plain.splitlines()
    assert lines[0] == "5 targets: 5 UP, 1 unhealthy"
    assert lines[1].startswith("127.0.0.1:9000  UP  live –  ready FAIL")
    assert len(lines) == 2
    quiet = targets_content(UNKNOWN_HEALTH).plain.splitlines()
    assert quiet == ["4 targets: 4 UP, 0 unhealthy"]


async def test_unknown_health_shows_dash() -> None:
    snapshot = replace(full_snapshot(), targets=UNKNOWN_HEALTH)
    app = make_app(FakeProvider(snapshot), interval=SLOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        rows = instance_rows(app.screen.query_one(InstancesTable))
        assert [row[1:4] for row in rows] == [["UP", "–", "–"]] * 4
        header = plain(app, "#targets")
        assert "0 unhealthy" in header
        assert "FAIL" not in header


async def test_single_target_hides_instances_and_alerts() -> None:
    app = make_app(FakeProvider(full_snapshot()), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.screen.query_one(InstancesPane).display
        assert "focus_instances" not in active_actions(app)
        assert app.screen.query_one(AlertsPane).region.height == 0


@pytest.mark.parametrize("size", SIZES)
async def test_enter_narrows_and_escape_widens(size: tuple[int, int]) -> None:
    provider = NarrowingProvider(fleet_snapshot())
    app = make_app(provider, interval=SLOW)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        table = app.screen.query_one(InstancesTable)
        table.focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert main_screen(app).selected_target == "http://127.0.0.1:8002"
        assert provider.requests[-1]["selected_target"] == "http://127.0.0.1:8002"
        assert "127.0.0.1:8002" in plain(app, "#title-view")
        assert instance_rows(table)[1][0] == "▶ 127.0.0.1:8002"
        title = str(app.screen.query_one(InstancesPane).border_title)
        assert "showing 127.0.0.1:8002 only" in title
        await pilot.press("escape")
        await pilot.pause()
        assert main_screen(app).selected_target is None
        assert provider.requests[-1]["selected_target"] is None
        assert "3 targets" in plain(app, "#title-view")


async def test_keys_to_narrow_and_widen() -> None:
    app = make_app(NarrowingProvider(fleet_snapshot()), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "show_fleet" not in active_actions(app)
        assert "focus_instances" in active_actions(app)
        await pilot.press("i")
        assert app.focused is app.screen.query_one(InstancesTable)
        await pilot.press("enter")
        await pilot.pause()
        assert "show_fleet" in active_actions(app)


def active_actions(app: object) -> set[str]:
    bindings = app.screen.active_bindings.values()  # type: ignore[attr-defined]
    return {active.binding.action for active in bindings}


ALERTS = (
    Alert(
        name="SlowResponse",
        state="pending",
        since=NOW - 30,
        value=1.25,
        summary="p95 latency over 5m above 1 s for 10m",
    ),
    Alert(
        name="HighErrorRate",
        state="firing",
        since=NOW - 125,
        value=0.123,
        summary="5xx ratio over 5m above 5% for 5m",
        labels={"severity": "critical"},
    ),
)


@pytest.mark.parametrize("size", SIZES)
async def test_firing_alert_in_header_and_pane(size: tuple[int, int]) -> None:
    app = make_app(FakeProvider(fleet_snapshot(alerts=ALERTS)), interval=SLOW)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert plain(app, "#alert-badge") == "ALERT HighErrorRate"
        assert app.screen.query_one("#alert-badge").region.width > 0
        pane = app.screen.query_one(AlertsPane)
        assert pane.display
        assert "1 firing, 1 pending" in str(pane.border_title)
        lines = plain(app, "#alerts-body").splitlines()
        assert lines[0].startswith("FIRING  HighErrorRate for 2m05s  value 12.3%")
        assert lines[1].startswith("PENDING SlowResponse for 30s  value 1.25 s")


@pytest.mark.parametrize("size", SIZES)
async def test_inactive_alerts_leave_header_alone(size: tuple[int, int]) -> None:
    quiet = tuple(replace(a, state="inactive", since=None) for a in ALERTS)
    app = make_app(FakeProvider(fleet_snapshot(alerts=quiet)), interval=SLOW)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert plain(app, "#alert-badge") == ""
        assert app.screen.query_one("#alert-badge").region.width == 0
        lines = plain(app, "#alerts-body").splitlines()
        assert lines[0].startswith("ok      HighErrorRate")
        # A short screen gives the rows of quiet rules to the other panes.
        shown = app.screen.query_one(AlertsPane).region.height > 0
        assert shown == (size[1] >= 34)


async def test_collector_narrows_every_pane(
    start_demo: Callable[..., DemoProcess],
) -> None:
    demos = [start_demo(seed=31), start_demo(seed=32, rate=5)]
    collector = Collector([demo.url for demo in demos], interval=1.0)
    app = make_app(collector, interval=0.5)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = main_screen(app)
        table = app.screen.query_one(InstancesTable)
        await until(lambda: serving(targets(screen)) == 2)
        table.focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert screen.selected_target == demos[1].url
        await until(lambda: screen.snapshot.selected_target == demos[1].url)
        shown = screen.snapshot
        slow = next(t for t in shown.targets if t.url == demos[1].url)
        assert shown.traffic.requests_per_second == slow.requests_per_second
        assert shown.db_pool.size == 10
        rates = plain(app, "#traffic-rates")
        assert fmt.rate(shown.traffic.requests_per_second) in rates
        await pilot.press("escape")
        await until(lambda: screen.snapshot.selected_target is None)
        assert screen.snapshot.db_pool.size == 20


def serving(targets: tuple[TargetStatus, ...]) -> int:
    """Count the targets that have a request rate to show."""
    return sum(1 for target in targets if target.requests_per_second)


def targets(screen: object) -> tuple[TargetStatus, ...]:
    snapshot = getattr(screen, "snapshot", None)
    return snapshot.targets if snapshot is not None else ()


async def until(condition: Callable[[], object], timeout: float = 15) -> None:
    """Await until `condition()` is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout:g} s")
