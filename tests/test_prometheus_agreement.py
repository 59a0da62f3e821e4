"""haven-top through Prometheus and haven-top scraping directly agree.

A real Prometheus (Debian's package at /usr/bin/prometheus; missing it fails the
test, never skips it) scrapes one steady demo instance and one running the
incident scenario, while a `Collector` scrapes the same two. Both are compared
over the same window ending at the same instant, twice: inside the error burst,
where the error ratio matters, and inside the latency spike, where p95 does.

Tolerances: request rate within 10% relative, error ratio within 0.03 absolute,
p95 within 15% relative or 5 ms, whichever is larger. The two sides scrape at
different moments (up to one interval apart) and Prometheus extrapolates
`rate()` to the window's edges, so each counts a slightly different slice of the
same traffic. In runs on a 2-core machine the gaps were at most 1.5% (rate),
0.009 (ratio) and 12% or 3.4 ms (p95, in the error burst, where p95 sits near
the 25 ms bucket bound). The bounds leave room for that noise while still
catching a wrong formula: 5xx per second instead of the 5xx ratio, or quantiles
from all-time buckets instead of bucket rates.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_server import PrometheusServer, start_prometheus

from haven_top.core.snapshot import Snapshot
from haven_top.demo.launcher import DemoProcess, start_demo
from haven_top.sources.collector import Collector
from haven_top.sources.prometheus import PrometheusProvider, PrometheusSettings

WINDOW = 4.0
PHASE_SECONDS = 6.0
SETTLE_SECONDS = 1.5
"""Wait after a full window inside a phase, for the last scrapes to land."""

RATE_TOLERANCE = 0.10
ERROR_RATIO_TOLERANCE = 0.03
P95_TOLERANCE = 0.15
P95_TOLERANCE_SECONDS = 0.005


@pytest.fixture
def pair() -> Iterator[tuple[list[DemoProcess], PrometheusServer]]:
    demos = [
        start_demo(seed=21, rate=20),
        start_demo(scenario="incident", seed=22, rate=50, phase_seconds=PHASE_SECONDS),
    ]
    server = None
    try:
        server = start_prometheus([d.url.removeprefix("http://") for d in demos])
        yield demos, server
    finally:
        if server is not None:
            server.stop()
        for demo in demos:
            demo.stop()


def demo_phase(demo: DemoProcess) -> str:
    with urllib.request.urlopen(f"{demo.url}/demo/state", timeout=2) as reply:
        return json.load(reply)["phase"]


async def wait_for_phase(demo: DemoProcess, phase: str, timeout: float) -> float:
    """Return the monotonic time at which `demo` entered `phase`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = await asyncio.to_thread(demo_phase, demo)
        if current == phase:
            return time.monotonic()
        await asyncio.sleep(0.1)
    raise AssertionError(f"demo did not enter phase {phase} within {timeout:g} s")


async def compare_now(
    collector: Collector, provider: PrometheusProvider
) -> tuple[Snapshot, Snapshot]:
    """Take both snapshots for the window ending at the provider's last poll."""
    assert await provider.wait_for_poll(5)
    via_prometheus = provider.snapshot(window_seconds=WINDOW)
    at = provider.last_poll_at
    assert at is not None
    direct = collector.state.snapshot(at, WINDOW)
    return direct, via_prometheus


def relative_gap(direct: float | None, other: float | None) -> float:
    assert direct is not None
    assert other is not None
    return abs(other - direct) / direct


def check_agreement(direct: Snapshot, via: Snapshot, label: str) -> None:
    rate_gap = relative_gap(
        direct.traffic.requests_per_second, via.traffic.requests_per_second
    )
    assert rate_gap <= RATE_TOLERANCE, (label, direct.traffic, via.traffic)
    assert direct.traffic.error_ratio is not None
    assert via.traffic.error_ratio is not None
    ratio_gap = abs(direct.traffic.error_ratio - via.traffic.error_ratio)
    assert ratio_gap <= ERROR_RATIO_TOLERANCE, (label, direct.traffic, via.traffic)
    direct_p95, via_p95 = direct.latency_seconds.p95, via.latency_seconds.p95
    assert direct_p95 is not None
    assert via_p95 is not None
    allowed = max(P95_TOLERANCE * direct_p95, P95_TOLERANCE_SECONDS)
    assert abs(via_p95 - direct_p95) <= allowed, (label, direct_p95, via_p95)
    by_url = {t.url.removeprefix("http://"): t for t in direct.targets}
    for target in via.targets:
        mine = by_url[target.url]
        gap = relative_gap(mine.requests_per_second, target.requests_per_second)
        assert gap <= RATE_TOLERANCE, (label, target.url, mine, target)


async def test_prometheus_agrees_with_direct_scraping(
    pair: tuple[list[DemoProcess], PrometheusServer],
) -> None:
    demos, server = pair
    collector = Collector([demo.url for demo in demos], interval=1.0)
    settings = PrometheusSettings(server.url, selector='job="haven"')
    provider = PrometheusProvider(settings, interval=0.5, window_seconds=WINDOW)
    await collector.start()
    await provider.start()
    try:
        burst_start = await wait_for_phase(demos[1], "error_burst", 3 * PHASE_SECONDS)
        await asyncio.sleep(
            max(0.0, burst_start + WINDOW + SETTLE_SECONDS - time.monotonic())
        )
        direct, via = await compare_now(collector, provider)
        assert direct.traffic.error_ratio > 0.05, "the burst must show in the ratio"
        check_agreement(direct, via, "error burst")

        spike_start = await wait_for_phase(demos[1], "latency_spike", 2 * PHASE_SECONDS)
        await asyncio.sleep(
            max(0.0, spike_start + WINDOW + SETTLE_SECONDS - time.monotonic())
        )
        direct, via = await compare_now(collector, provider)
        assert direct.latency_seconds.p95 > 1.0, "the spike must show in p95"
        check_agreement(direct, via, "latency spike")
    finally:
        await provider.stop()
        await collector.stop()
