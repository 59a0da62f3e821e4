"""The Prometheus provider against a real Prometheus scraping two demo instances.

Prometheus comes from Debian's package at /usr/bin/prometheus; these tests fail,
never skip, when it is missing. Prometheus applies new scrape targets about 5 s
after it starts, so the module shares one server and waits for data once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest
from prometheus_server import (
    TEST_PASSWORD,
    TEST_PASSWORD_BCRYPT,
    TEST_USER,
    BearerProxy,
    PrometheusServer,
    free_port,
    make_tls_files,
    start_prometheus,
)
from textual.widgets import Static

from haven_top.cli import main
from haven_top.core.snapshot import Snapshot, TargetStatus
from haven_top.core.token import Secret
from haven_top.demo.launcher import DemoProcess, start_demo
from haven_top.headless import exit_status, snapshot_document
from haven_top.sources.prometheus import PrometheusProvider, PrometheusSettings
from haven_top.sources.prometheus_snapshot import HISTORY_POINTS
from haven_top.ui.app import make_app
from haven_top.ui.screens.main import MainScreen
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.instances import InstancesTable

WINDOW = 10.0
RULES = [
    {
        "alert": "HavenTrafficFlows",
        "expr": 'sum(rate(haven_requests_total{job="haven"}[5s])) > 0',
        "for": "2s",
        "labels": {"severity": "info"},
        "annotations": {"summary": "Haven instances serve requests"},
    },
    {
        "alert": "HavenNeverFires",
        "expr": "vector(1) < 0",
        "for": "1m",
        "annotations": {"summary": "a rule whose condition is never true"},
    },
]


class Fleet:
    """Two demo instances and the Prometheus server that scrapes them.

    The server also scrapes `dead`, a closed port, as job "haven-dead", which
    the `job="haven"` selector of most tests leaves out.
    """

    def __init__(
        self, demos: list[DemoProcess], server: PrometheusServer, dead: str
    ) -> None:
        self.demos = demos
        self.server = server
        self.dead = dead
        self.instances = sorted(demo.url.removeprefix("http://") for demo in demos)


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    demos = [start_demo(seed=seed) for seed in (11, 12)]
    server = None
    try:
        targets = [demo.url.removeprefix("http://") for demo in demos]
        dead = f"127.0.0.1:{free_port()}"
        server = start_prometheus(
            targets, rules=RULES, extra_jobs={"haven-dead": [dead]}
        )
        yield Fleet(demos, server, dead)
    finally:
        if server is not None:
            server.stop()
        for demo in demos:
            demo.stop()


@pytest.fixture
async def provider(fleet: Fleet) -> AsyncIterator[PrometheusProvider]:
    settings = PrometheusSettings(fleet.server.url, selector='job="haven"')
    provider = PrometheusProvider(settings, interval=0.5, window_seconds=WINDOW)
    await provider.start()
    yield provider
    await provider.stop()


async def until(condition, *, timeout: float, what: str):  # noqa: ANN001, ANN201
    """Await until `condition()` is truthy and return it; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}: {value!r}")


def traffic_from_all(provider: PrometheusProvider, count: int) -> bool:
    snapshot = provider.snapshot(window_seconds=WINDOW)
    rates = [t.requests_per_second for t in snapshot.targets]
    return len(rates) == count and all(rate for rate in rates)


async def test_provider_fills_every_pane(
    fleet: Fleet, provider: PrometheusProvider
) -> None:
    await until(lambda: traffic_from_all(provider, 2), timeout=30, what="rates of both")
    snapshot = provider.snapshot(window_seconds=WINDOW, endpoint_limit=3)
    assert provider.progress == ""
    assert [t.url for t in snapshot.targets] == fleet.instances
    for target in snapshot.targets:
        assert target.up is True
        assert target.error is None
        assert target.last_scrape_age is not None
        assert target.last_scrape_age < 5
        assert target.p95 is not None
        assert target.pool_usage is not None
        assert target.process.resident_memory_bytes
    assert snapshot.traffic.requests_per_second > 5
    assert snapshot.traffic.by_status_class.get("2xx", 0) > 0
    assert snapshot.traffic.error_ratio is not None
    assert 0 < snapshot.latency_seconds.p50 <= snapshot.latency_seconds.p95
    assert snapshot.latency_seconds.p95 <= snapshot.latency_seconds.p99
    assert snapshot.db_pool.size == 20
    assert snapshot.process.open_fds
    assert len(snapshot.endpoints) == 4
    assert snapshot.endpoints[-1].is_rest
    assert snapshot.endpoints[0].requests_per_second >= (
        snapshot.endpoints[1].requests_per_second
    )
    assert snapshot.metrics_age is not None
    assert snapshot.system.memory_total_bytes


async def test_provider_backfills_history(fleet: Fleet) -> None:
    settings = PrometheusSettings(fleet.server.url, selector='job="haven"')

    async def backfilled() -> tuple[float | None, ...]:
        provider = PrometheusProvider(settings, interval=0.5, window_seconds=WINDOW)
        await provider.start()
        try:
            assert await provider.wait_for_poll(5)
            return provider.snapshot(window_seconds=WINDOW).history.requests_per_second
        finally:
            await provider.stop()

    # A new provider's first poll fills the sparkline from Prometheus's storage,
    # once that storage contains a few seconds of rates.
    deadline = time.monotonic() + 30
    history: tuple[float | None, ...] = ()
    while time.monotonic() < deadline:
        history = await backfilled()
        if sum(value is not None for value in history) >= 6:
            break
        await asyncio.sleep(0.5)
    assert len(history) == HISTORY_POINTS
    recent = [value for value in history[-6:] if value is not None]
    assert len(recent) == 6
    assert all(value > 0 for value in recent)


async def test_provider_narrows_to_instance(
    fleet: Fleet, provider: PrometheusProvider
) -> None:
    await until(lambda: traffic_from_all(provider, 2), timeout=30, what="rates of both")
    fleet_snapshot = provider.snapshot(window_seconds=WINDOW)
    chosen = fleet_snapshot.targets[0]
    # At once: the instances table supplies the headline numbers.
    first = provider.snapshot(window_seconds=WINDOW, selected_target=chosen.url)
    assert first.selected_target == chosen.url
    assert first.traffic.requests_per_second == chosen.requests_per_second
    assert first.db_pool.size == 10
    # After the next poll: every pane comes from narrowed queries.
    polled = await provider.wait_for_poll(5)
    assert polled
    narrowed = provider.snapshot(window_seconds=WINDOW, selected_target=chosen.url)
    assert narrowed.endpoints
    assert narrowed.traffic.by_status_class
    total = fleet_snapshot.traffic.requests_per_second
    assert narrowed.traffic.requests_per_second < 0.8 * total
    assert narrowed.process.start_time_seconds is not None
    assert narrowed.history.requests_per_second
    # Back to the fleet.
    await provider.wait_for_poll(5)
    back = provider.snapshot(window_seconds=WINDOW)
    assert back.selected_target is None
    assert back.db_pool.size == 20


async def test_provider_reads_server_alerts(
    fleet: Fleet, provider: PrometheusProvider
) -> None:
    def firing() -> object:
        alerts = provider.snapshot(window_seconds=WINDOW).alerts
        return [a for a in alerts if a.state == "firing"]

    (alert,) = await until(firing, timeout=30, what="a firing server alert")
    alerts = provider.snapshot(window_seconds=WINDOW).alerts
    assert alert.name == "HavenTrafficFlows"
    assert alert.summary == "Haven instances serve requests"
    assert alert.labels == {"severity": "info"}
    assert alert.value is not None
    assert alert.value > 0
    assert alert.since is not None
    assert alert.since <= time.time()
    states = {a.name: a.state for a in alerts}
    assert states["HavenNeverFires"] == "inactive"
    document = snapshot_document(provider.snapshot(window_seconds=WINDOW))
    assert document["alerts"][0]["name"] == "HavenTrafficFlows"
    assert exit_status(provider.snapshot(window_seconds=WINDOW)) == 1


async def test_provider_reports_down_prometheus() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    provider = PrometheusProvider(PrometheusSettings(url, timeout=1), interval=0.5)
    await provider.start()
    try:
        assert await provider.wait_for_poll(5)
        snapshot = provider.snapshot(window_seconds=WINDOW)
    finally:
        await provider.stop()
    (target,) = snapshot.targets
    assert target.url == url
    assert target.up is False
    assert "Connection refused" in target.error
    assert url in provider.progress
    assert snapshot.traffic.requests_per_second is None
    assert exit_status(snapshot) == 1


async def test_provider_rejects_bad_selector(fleet: Fleet) -> None:
    settings = PrometheusSettings(fleet.server.url, selector='job=="haven"')
    provider = PrometheusProvider(settings, interval=0.5)
    await provider.start()
    try:
        assert await provider.wait_for_poll(5)
        (target,) = provider.snapshot(window_seconds=WINDOW).targets
    finally:
        await provider.stop()
    assert target.up is False
    assert "rejected a query" in target.error
    assert "--selector" in target.error


async def test_provider_sends_bearer_token(fleet: Fleet) -> None:
    proxy = BearerProxy(fleet.server.url, "s3cret-token")
    try:
        good = PrometheusSettings(
            proxy.url, selector='job="haven"', bearer_token=Secret("s3cret-token")
        )
        bad = PrometheusSettings(proxy.url, bearer_token=Secret("wrong"))
        good_snapshot = await one_poll(good)
        bad_snapshot = await one_poll(bad)
    finally:
        proxy.stop()
    assert "Bearer s3cret-token" in proxy.seen_authorization
    assert all(t.up for t in good_snapshot.targets)
    assert len(good_snapshot.targets) == 2
    (target,) = bad_snapshot.targets
    assert target.up is False
    assert "rejected the credentials (HTTP 401)" in target.error


async def test_provider_tls_and_basic_auth(tmp_path: Path) -> None:
    ca, cert, key = make_tls_files(tmp_path)
    web_config = {
        "tls_server_config": {"cert_file": str(cert), "key_file": str(key)},
        "basic_auth_users": {TEST_USER: TEST_PASSWORD_BCRYPT},
    }
    server = start_prometheus(
        [], web_config=web_config, scheme="https", ca_file=str(ca)
    )
    try:
        url = server.url
        good = await one_poll(
            PrometheusSettings(
                url, username=TEST_USER, password=Secret(TEST_PASSWORD), ca_file=str(ca)
            )
        )
        wrong_password = await one_poll(
            PrometheusSettings(
                url, username=TEST_USER, password=Secret("x"), ca_file=str(ca)
            )
        )
        no_ca = await one_poll(
            PrometheusSettings(url, username=TEST_USER, password=Secret(TEST_PASSWORD))
        )
    finally:
        server.stop()
    assert good.targets == ()
    assert good.alerts == ()
    assert "rejected the credentials (HTTP 401)" in wrong_password.targets[0].error
    assert "TLS handshake" in no_ca.targets[0].error
    assert "--prometheus-ca-file" in no_ca.targets[0].error


async def one_poll(settings: PrometheusSettings):  # noqa: ANN201
    """Run a provider for one poll and return its snapshot."""
    provider = PrometheusProvider(settings, interval=0.5)
    await provider.start()
    try:
        assert await provider.wait_for_poll(5)
        return provider.snapshot(window_seconds=WINDOW)
    finally:
        await provider.stop()


async def test_dashboard_through_prometheus(fleet: Fleet) -> None:
    settings = PrometheusSettings(fleet.server.url, selector='job="haven"')
    provider = PrometheusProvider(settings, interval=0.5)
    app = make_app(provider, interval=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        table = screen.query_one(InstancesTable)

        def names() -> list[str]:
            return [table.get_row_at(row)[0].plain for row in range(table.row_count)]

        def fleet_on_screen() -> bool:
            shown = screen.snapshot
            return bool(
                shown is not None
                and names() == fleet.instances
                and shown.traffic.requests_per_second
            )

        await until(fleet_on_screen, timeout=30, what="the fleet on screen")
        shown = screen.snapshot
        assert shown is not None
        # Prometheus cannot see the health endpoints: unknown, not failing.
        for row in range(table.row_count):
            cells = [cell.plain for cell in table.get_row_at(row)]
            assert cells[1:4] == ["UP", "–", "–"]
        rendered = screen.query_one("#targets", Static).render()
        header = getattr(rendered, "plain", str(rendered))
        for instance in fleet.instances:
            assert f"{instance}  UP  live –  ready –" in header
        assert "FAIL" not in header
        assert fmt.rate(shown.traffic.requests_per_second) in str(
            screen.query_one("#traffic-rates", Static).render()
        )
        table.focus()
        await pilot.press("enter")
        await until(
            lambda: (
                screen.snapshot.selected_target == fleet.instances[0]
                and bool(screen.snapshot.endpoints)
            ),
            timeout=10,
            what="the narrowed snapshot",
        )
        await pilot.press("escape")
        await until(
            lambda: screen.snapshot.selected_target is None,
            timeout=10,
            what="the fleet again",
        )


def test_once_json_through_prometheus(
    fleet: Fleet,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    argv = ["--once", "--format", "json", "--prometheus", fleet.server.url]
    status = main([*argv, "--selector", 'job="haven"', "--window", "1m"])
    document = orjson.loads(capsys.readouterr().out)
    direct_keys = set(snapshot_document(Snapshot(taken_at=0, window_seconds=60)))
    assert set(document) == direct_keys
    assert [target["url"] for target in document["targets"]] == fleet.instances
    assert all(target["up"] for target in document["targets"])
    assert document["window_seconds"] == 60
    assert document["traffic"]["requests_per_second"] > 0
    assert document["latency_seconds"]["p95"] is not None
    assert document["endpoints"]
    names = {alert["name"]: alert["state"] for alert in document["alerts"]}
    assert names["HavenNeverFires"] == "inactive"
    firing = any(state == "firing" for state in names.values())
    assert status == (1 if firing else 0)


def test_once_text_through_prometheus(
    fleet: Fleet,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Health that Prometheus cannot see reads "n/a" and does not fail the run."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    argv = ["--once", "--prometheus", fleet.server.url, "--selector", 'job="haven"']
    status = main(argv)
    text = capsys.readouterr().out
    lines = [line for line in text.splitlines() if line.startswith("target ")]
    assert [line.split()[1] for line in lines] == fleet.instances
    for line in lines:
        assert "up live n/a ready n/a" in line
    assert "NOT LIVE" not in text
    assert "NOT READY" not in text
    firing = "FIRING" in text
    assert status == (1 if firing else 0)


async def test_provider_shows_instance_down(fleet: Fleet) -> None:
    settings = PrometheusSettings(fleet.server.url, selector='job="haven-dead"')
    provider = PrometheusProvider(settings, interval=0.5)
    await provider.start()
    try:

        def down_with_reason() -> tuple[TargetStatus, ...]:
            targets = provider.snapshot(window_seconds=WINDOW).targets
            return targets if targets and targets[0].error else ()

        (target,) = await until(down_with_reason, timeout=30, what="the dead target")
    finally:
        await provider.stop()
    assert target.url == fleet.dead
    assert target.up is False
    assert target.error.startswith("Prometheus cannot scrape it: ")
    assert "connection refused" in target.error
    assert target.last_scrape_age is not None
