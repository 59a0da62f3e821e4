"""The collector end to end: real demo services and local servers on 127.0.0.1,
polled over real sockets into a real `MonitorState`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator

import prometheus_client
import pytest
from test_scraper import ScriptedServer, free_port, metrics_body

from haven_top.core.snapshot import Snapshot, TargetStatus
from haven_top.demo.launcher import DemoProcess
from haven_top.sources.collector import Collector
from haven_top.sources.scraper import Timeouts

INTERVAL = 0.25
TIMEOUTS = Timeouts(total=1.0, connect=1.0)
"""Longer than the interval, so that a demo slowed by a busy machine still answers;
polls of one target never overlap either way."""
WINDOW = 60.0
WAIT = 20.0
"""Seconds a test waits for a condition before it fails."""

CollectorFactory = Callable[..., Collector]


@pytest.fixture
async def collector_factory() -> AsyncIterator[CollectorFactory]:
    """Build and start collectors that are stopped when the test ends."""
    started: list[Collector] = []

    def factory(targets: list[str], **kwargs: object) -> Collector:
        kwargs.setdefault("interval", INTERVAL)
        kwargs.setdefault("timeouts", TIMEOUTS)
        collector = Collector(targets, **kwargs)  # type: ignore[arg-type]
        started.append(collector)
        return collector

    yield factory
    for collector in started:
        await collector.stop()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    instance = ScriptedServer()
    yield instance
    instance.close()


def serve_metrics(server: ScriptedServer, *, delay: float = 0.0) -> None:
    body = metrics_body()
    server.routes["/metrics"] = (
        200,
        prometheus_client.CONTENT_TYPE_LATEST,
        body,
        delay,
    )
    server.routes["/health/live"] = (200, "application/json", b'{"status":"alive"}', 0)
    server.routes["/health/ready"] = (200, "application/json", b'{"status":"ready"}', 0)


async def wait_for_target(
    collector: Collector, url: str, condition: Callable[[TargetStatus], bool]
) -> TargetStatus:
    """Poll snapshots until the target `url` meets `condition`; fail after WAIT."""
    deadline = time.monotonic() + WAIT
    while True:
        target = target_status(collector.snapshot(window_seconds=WINDOW), url)
        if condition(target):
            return target
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {WAIT} s: {target}")
        await asyncio.sleep(0.05)


async def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {WAIT} s")
        await asyncio.sleep(0.05)


def target_status(snapshot: Snapshot, url: str) -> TargetStatus:
    [target] = [t for t in snapshot.targets if t.url == url]
    return target


async def test_scrapes_demo_end_to_end(
    collector_factory: CollectorFactory, demo: DemoProcess
) -> None:
    collector = collector_factory([demo.url])
    assert collector.progress == "connecting to 1 target: 0 answered..."
    await collector.start()
    await wait_for(lambda: collector.first_round_done and collector.state.has_rates())
    await wait_for_target(collector, demo.url, lambda t: t.ready is not None)
    snapshot = collector.snapshot(window_seconds=WINDOW)
    target = target_status(snapshot, demo.url)
    assert collector.progress == ""
    assert target.up is True
    assert target.live is True
    assert target.ready is True
    assert target.dependencies.get("database") == "healthy"
    assert target.error is None
    assert snapshot.traffic.requests_per_second is not None
    assert snapshot.traffic.requests_per_second > 0
    assert snapshot.db_pool.size == 10
    assert snapshot.process.resident_memory_bytes is not None
    assert snapshot.system.memory_total_bytes is not None
    assert snapshot.own.resident_memory_bytes is not None


async def test_progress_counts_outcomes(
    collector_factory: CollectorFactory, demo: DemoProcess
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    collector = collector_factory([demo.url, down])
    assert collector.progress == "connecting to 2 targets: 0 answered..."
    await collector.start()
    await wait_for(lambda: collector.progress == "")
    assert collector.answered_targets == (demo.url,)


async def test_progress_reports_failures(collector_factory: CollectorFactory) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    slow = ScriptedServer()
    try:
        serve_metrics(slow, delay=3.0)
        collector = collector_factory([down, slow.url], timeouts=Timeouts(2.0, 2.0))
        await collector.start()
        await wait_for(lambda: "failed" in collector.progress)
        assert collector.progress == "connecting to 2 targets: 0 answered, 1 failed..."
    finally:
        slow.close()


async def test_down_at_start_then_up(
    collector_factory: CollectorFactory, start_demo: Callable[..., DemoProcess]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    collector = collector_factory([url])
    await collector.start()
    target = await wait_for_target(collector, url, lambda t: t.up is False)
    assert target.error is not None
    assert target.error.startswith(f"{url}/metrics: connection refused")
    assert target.live is False

    start_demo(port=port)
    await wait_for_target(collector, url, lambda t: t.up and t.ready)
    await wait_for_target(collector, url, lambda t: t.error is None)


async def test_down_and_back_after_restart(
    collector_factory: CollectorFactory, start_demo: Callable[..., DemoProcess]
) -> None:
    first = start_demo()
    url = first.url
    port = int(url.rsplit(":", 1)[1])
    collector = collector_factory([url])
    await collector.start()
    await wait_for_target(collector, url, lambda t: t.up is True)

    first.stop()
    target = await wait_for_target(collector, url, lambda t: t.up is False)
    assert target.error is not None
    assert "connection refused" in target.error

    start_demo(port=port)
    target = await wait_for_target(
        collector, url, lambda t: t.up and t.restarted_age is not None
    )
    assert target.restarted_age is not None
    await wait_for_target(collector, url, lambda t: t.ready is True)
    await wait_for_target(collector, url, lambda t: t.error is None)


async def test_html_answer_then_recovery(
    collector_factory: CollectorFactory, server: ScriptedServer
) -> None:
    serve_metrics(server)
    page = b"<!DOCTYPE html><html><title>Login</title></html>"
    server.routes["/metrics"] = (200, "text/html", page, 0)
    collector = collector_factory([server.url])
    await collector.start()
    target = await wait_for_target(collector, server.url, lambda t: t.up is False)
    assert target.error is not None
    assert "returned an HTML page, not metrics" in target.error

    serve_metrics(server)
    await wait_for_target(collector, server.url, lambda t: t.up and t.error is None)


async def test_unparsable_body_is_garbage(
    collector_factory: CollectorFactory, server: ScriptedServer
) -> None:
    serve_metrics(server)
    garbage = b"\x00\x01 this is {not an exposition\n" * 20
    server.routes["/metrics"] = (200, "text/plain", garbage, 0)
    collector = collector_factory([server.url])
    await collector.start()
    target = await wait_for_target(collector, server.url, lambda t: t.up is False)
    assert target.error is not None
    assert target.error == (
        f"{server.url}/metrics: no samples; first bad line 1: invalid metric name: "
        "'\\x00\\x01 this is {not an exposition'; check that the target is the "
        "base URL of a Haven service, whose /metrics serves Prometheus text"
    )


async def test_url_password_hidden_in_snapshot(
    collector_factory: CollectorFactory, server: ScriptedServer
) -> None:
    """A password in a target URL is used for requests but never shown."""
    serve_metrics(server)
    target = server.url.replace("http://", "http://user:SECRETPW@")
    shown = server.url.replace("http://", "http://user:***@")
    down = f"http://user:SECRETPW@127.0.0.1:{free_port()}"
    collector = collector_factory([target, down])
    await collector.start()
    status = await wait_for_target(collector, shown, lambda t: t.up is True)
    assert status.live is True

    snapshot = collector.snapshot(window_seconds=WINDOW, selected_target=shown)
    assert snapshot.selected_target == shown
    assert [t.url for t in snapshot.targets] == [shown, down.replace("SECRETPW", "***")]
    assert "SECRETPW" not in repr(snapshot)
    assert collector.targets == (target, down)
    basic = [
        h for _, h in server.requests if h.get("Authorization", "")[:6] == "Basic "
    ]
    assert basic, "the requests lost the URL's credentials"


async def test_error_status_is_garbage(
    collector_factory: CollectorFactory, server: ScriptedServer
) -> None:
    serve_metrics(server)
    server.routes["/metrics"] = (500, "text/plain", b"boom", 0)
    collector = collector_factory([server.url])
    await collector.start()
    target = await wait_for_target(collector, server.url, lambda t: t.up is False)
    assert target.error is not None
    assert "HTTP 500 Internal Server Error" in target.error


async def test_slow_target_does_not_stall_others(
    collector_factory: CollectorFactory, demo: DemoProcess, server: ScriptedServer
) -> None:
    serve_metrics(server, delay=2.0)
    timeouts = Timeouts(total=0.5, connect=0.5)
    collector = collector_factory([demo.url, server.url], timeouts=timeouts)
    await collector.start()
    slow = await wait_for_target(collector, server.url, lambda t: t.up is False)
    assert slow.error is not None
    assert "no answer within 0.5 s" in slow.error
    assert "raise --timeout" in slow.error

    fast = await wait_for_target(collector, demo.url, lambda t: t.up is True)
    assert fast.last_scrape_age is not None
    assert fast.last_scrape_age < 4 * INTERVAL


async def test_polls_never_overlap(
    collector_factory: CollectorFactory, server: ScriptedServer
) -> None:
    """A scrape slower than the interval delays the next one instead of piling up."""
    serve_metrics(server, delay=0.3)
    collector = collector_factory([server.url], interval=0.1, timeouts=Timeouts(1, 1))
    await collector.start()
    await wait_for(lambda: metrics_requests(server) >= 4)
    assert server.max_active["/metrics"] == 1
    assert server.max_active["/health/live"] == 1


async def test_every_poll_sends_request_id(
    collector_factory: CollectorFactory, server: ScriptedServer
) -> None:
    serve_metrics(server)
    collector = collector_factory([server.url])
    await collector.start()
    await wait_for(lambda: metrics_requests(server) >= 2)
    ids = [headers.get("X-Request-ID", "") for _, headers in server.requests]
    assert all(value.startswith("haven-top-") for value in ids)
    assert len(set(ids)) == len(ids)


async def test_stop_ends_polling(
    collector_factory: CollectorFactory, server: ScriptedServer
) -> None:
    serve_metrics(server)
    collector = collector_factory([server.url])
    await collector.start()
    await wait_for(lambda: metrics_requests(server) >= 1)
    await collector.stop()
    count = len(server.requests)
    await asyncio.sleep(3 * INTERVAL)
    assert len(server.requests) == count


def metrics_requests(server: ScriptedServer) -> int:
    return sum(1 for path, _ in server.requests if path == "/metrics")
