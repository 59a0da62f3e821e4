"""MonitorState: rates, quantiles, restarts, pool, process, history and selection.

Most tests feed generated exposition text at chosen times; the last ones feed
bodies scraped over HTTP from the bundled demo service.
"""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Mapping, Sequence
from itertools import pairwise

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as generate_text

from haven_top.core.exposition import ExpositionError, parse
from haven_top.core.series import (
    CounterTable,
    Gauges,
    RecordHistory,
    ScrapeRecord,
    total_deltas,
)
from haven_top.core.snapshot import SelfStats, SystemStats
from haven_top.core.state import RESTART_MARK_SECONDS, MonitorState

A = "http://127.0.0.1:9001"
B = "http://127.0.0.1:9002"
BOUNDS = ("0.1", "0.5", "1.0", "+Inf")
T0 = 1_700_000_000.0
START = T0 - 3600.0

RequestCounts = Mapping[tuple[str, str, str], float]
BucketCounts = Mapping[tuple[str, str], Sequence[float]]


def body(
    requests: RequestCounts | None = None,
    buckets: BucketCounts | None = None,
    *,
    cpu: float | None = None,
    start: float | None = START,
    db: float | None = None,
    pool: float | None = None,
    rss: float | None = None,
    fds: float | None = None,
    max_fds: float | None = None,
) -> bytes:
    """Write an exposition like prometheus_client's, `_created` series included."""
    lines = ["# HELP haven_requests_total Total requests"]
    lines.append("# TYPE haven_requests_total counter")
    for (method, endpoint, status), value in (requests or {}).items():
        labels = f'endpoint="{endpoint}",method="{method}",status="{status}"'
        lines.append(f"haven_requests_total{{{labels}}} {value}")
    lines.append("# TYPE haven_requests_created gauge")
    for method, endpoint, status in requests or {}:
        labels = f'endpoint="{endpoint}",method="{method}",status="{status}"'
        lines.append(f"haven_requests_created{{{labels}}} {T0 - 10}")
    lines.append("# TYPE haven_request_duration_seconds histogram")
    for (method, endpoint), counts in (buckets or {}).items():
        pair = f'endpoint="{endpoint}",method="{method}"'
        for bound, count in zip(BOUNDS, counts, strict=True):
            name = "haven_request_duration_seconds_bucket"
            lines.append(f'{name}{{{pair},le="{bound}"}} {count}')
        lines.append(f"haven_request_duration_seconds_count{{{pair}}} {counts[-1]}")
        lines.append(f"haven_request_duration_seconds_sum{{{pair}}} 1.0")
    gauges = {
        "process_cpu_seconds_total": cpu,
        "process_start_time_seconds": start,
        "haven_db_connections": db,
        "haven_db_pool_size": pool,
        "process_resident_memory_bytes": rss,
        "process_open_fds": fds,
        "process_max_fds": max_fds,
    }
    for name, value in gauges.items():
        if value is not None:
            lines.append(f"{name} {value}")
    return ("\n".join(lines) + "\n").encode()


def scrape(state: MonitorState, target: str, at: float, text: bytes) -> None:
    assert state.record_scrape(target, text, "text/plain; version=0.0.4", at) == []


def test_state_request_rates_by_status_and_endpoint() -> None:
    state = MonitorState([A])
    scrape(state, A, T0, body({("GET", "/a", "200"): 10, ("GET", "/a", "500"): 0}))
    scrape(
        state,
        A,
        T0 + 10,
        body(
            {
                ("GET", "/a", "200"): 90,
                ("GET", "/a", "500"): 10,
                ("POST", "/b", "404"): 20,
            }
        ),
    )
    snapshot = state.snapshot(T0 + 10, 60)
    traffic = snapshot.traffic

    assert traffic.requests_per_second == pytest.approx(11.0)
    assert traffic.errors_per_second == pytest.approx(1.0)
    assert traffic.error_ratio == pytest.approx(1 / 11)
    assert traffic.by_status_class == pytest.approx(
        {"2xx": 8.0, "4xx": 2.0, "5xx": 1.0}
    )
    rows = {(row.method, row.endpoint): row for row in snapshot.endpoints}
    assert rows[("GET", "/a")].requests_per_second == pytest.approx(9.0)
    assert rows[("GET", "/a")].errors_per_second == pytest.approx(1.0)
    assert rows[("GET", "/a")].error_ratio == pytest.approx(1 / 9)
    assert rows[("POST", "/b")].requests_per_second == pytest.approx(2.0)
    assert rows[("POST", "/b")].error_ratio == 0.0


def test_state_no_rates_before_second_scrape() -> None:
    state = MonitorState([A, B])

    assert not state.has_rates()
    scrape(state, A, T0, body({("GET", "/a", "200"): 1}))
    scrape(state, B, T0, body({("GET", "/a", "200"): 1}))
    snapshot = state.snapshot(T0, 60)

    assert not state.has_rates()
    assert snapshot.traffic.requests_per_second is None
    assert snapshot.traffic.error_ratio is None
    assert snapshot.latency_seconds.p95 is None
    assert snapshot.endpoints == ()
    assert snapshot.targets[0].up is True
    assert snapshot.targets[0].requests_per_second is None
    state.record_scrape_failure(B, "connection refused", T0 + 1)
    assert not state.has_rates()
    scrape(state, A, T0 + 1, body({("GET", "/a", "200"): 3}))
    assert state.has_rates()


def test_state_error_ratio_none_without_traffic() -> None:
    state = MonitorState([A])
    requests = {("GET", "/a", "200"): 5, ("GET", "/a", "500"): 1}
    scrape(state, A, T0, body(requests))
    scrape(state, A, T0 + 5, body(requests))
    traffic = state.snapshot(T0 + 5, 60).traffic

    assert traffic.requests_per_second == 0.0
    assert traffic.errors_per_second == 0.0
    assert traffic.error_ratio is None


@pytest.mark.parametrize(
    ("case", "values", "expected_increase"),
    [
        ("steady", [10, 20, 30], 20),
        ("reset to lower", [100, 150, 5], 55),
        ("reset to zero", [100, 0, 7], 7),
        ("two resets", [50, 10, 2, 6], 16),
    ],
)
def test_state_counter_reset_never_negative(
    case: str, values: list[float], expected_increase: float
) -> None:
    state = MonitorState([A])
    for step, value in enumerate(values):
        scrape(state, A, T0 + 10 * step, body({("GET", "/a", "200"): value}))
        rate = state.snapshot(T0 + 10 * step, 600).traffic.requests_per_second
        assert rate is None or rate >= 0, case
    end = T0 + 10 * (len(values) - 1)
    rate = state.snapshot(end, 600).traffic.requests_per_second

    assert rate == pytest.approx(expected_increase / (end - T0)), case


def test_state_marks_restart_for_a_minute() -> None:
    state = MonitorState([A])
    scrape(state, A, T0, body({("GET", "/a", "200"): 100}))
    scrape(state, A, T0 + 5, body({("GET", "/a", "200"): 120}))
    assert state.snapshot(T0 + 5, 60).targets[0].restarted_age is None

    scrape(state, A, T0 + 10, body({("GET", "/a", "200"): 4}))
    first = state.snapshot(T0 + 12, 60).targets[0]
    later = state.snapshot(T0 + 10 + RESTART_MARK_SECONDS + 1, 600).targets[0]

    assert first.restarted_age == pytest.approx(2.0)
    assert first.requests_per_second == pytest.approx(24 / 10)
    assert later.restarted_age is None


def test_state_new_start_time_is_a_restart() -> None:
    # The new process already counted more than the old one. No counter went
    # down, so only the start time shows that every counter began from zero.
    state = MonitorState([A])
    scrape(state, A, T0, body({("GET", "/a", "200"): 3}, start=START))
    scrape(state, A, T0 + 10, body({("GET", "/a", "200"): 50}, start=T0 + 5))
    status = state.snapshot(T0 + 10, 60).targets[0]

    assert status.restarted_age == pytest.approx(0.0)
    assert status.requests_per_second == pytest.approx(5.0)
    assert status.process.start_time_seconds == T0 + 5


def test_state_new_series_counted_from_zero() -> None:
    state = MonitorState([A])
    scrape(state, A, T0, body({("GET", "/a", "200"): 100}))
    scrape(
        state,
        A,
        T0 + 10,
        body({("GET", "/a", "200"): 100, ("GET", "/new", "200"): 30}),
    )
    snapshot = state.snapshot(T0 + 10, 60)
    rows = {row.endpoint: row for row in snapshot.endpoints}

    assert rows["/new"].requests_per_second == pytest.approx(3.0)
    assert rows["/a"].requests_per_second == 0.0
    assert snapshot.targets[0].restarted_age is None


def test_state_window_excludes_old_scrapes() -> None:
    state = MonitorState([A])
    scrape(state, A, T0, body({("GET", "/a", "200"): 0}))
    scrape(state, A, T0 + 100, body({("GET", "/a", "200"): 1000}))
    scrape(state, A, T0 + 105, body({("GET", "/a", "200"): 1010}))
    scrape(state, A, T0 + 110, body({("GET", "/a", "200"): 1020}))

    short = state.snapshot(T0 + 110, 30).traffic.requests_per_second
    long = state.snapshot(T0 + 110, 300).traffic.requests_per_second

    assert short == pytest.approx(2.0)
    assert long == pytest.approx(1020 / 110)


def test_state_quantiles_from_bucket_increases() -> None:
    state = MonitorState([A])
    # Before the window: a slow history that must not count.
    scrape(state, A, T0, body(buckets={("GET", "/a"): [0, 0, 0, 1000]}))
    # In the window: 40 more, 10 per bucket.
    scrape(state, A, T0 + 10, body(buckets={("GET", "/a"): [10, 20, 30, 1040]}))
    latency = state.snapshot(T0 + 10, 60).latency_seconds

    assert latency.p50 == pytest.approx(0.5)
    assert latency.p95 == pytest.approx(1.0)
    assert latency.p99 == pytest.approx(1.0)


def test_state_quantiles_sum_endpoints_by_le() -> None:
    state = MonitorState([A])
    zero = [0, 0, 0, 0]
    scrape(state, A, T0, body(buckets={("GET", "/a"): zero, ("GET", "/b"): zero}))
    scrape(
        state,
        A,
        T0 + 10,
        body(buckets={("GET", "/a"): [20, 20, 20, 20], ("GET", "/b"): [0, 0, 20, 20]}),
    )
    snapshot = state.snapshot(T0 + 10, 60)
    rows = {row.endpoint: row for row in snapshot.endpoints}

    assert snapshot.latency_seconds.p50 == pytest.approx(0.1)
    assert snapshot.latency_seconds.p95 == pytest.approx(0.95)
    assert rows["/a"].p50 == pytest.approx(0.05)
    assert rows["/b"].p50 == pytest.approx(0.75)


def test_state_quantiles_none_without_traffic() -> None:
    state = MonitorState([A])
    counts = {("GET", "/a"): [5, 6, 7, 8]}
    scrape(state, A, T0, body(buckets=counts))
    scrape(state, A, T0 + 10, body(buckets=counts))
    snapshot = state.snapshot(T0 + 10, 60)

    assert snapshot.latency_seconds.p50 is None
    assert snapshot.latency_seconds.p99 is None
    assert snapshot.endpoints[0].p95 is None


def test_state_ignores_created_series() -> None:
    registry = CollectorRegistry()
    requests = Counter(
        "haven_requests_total", "r", ["method", "endpoint", "status"], registry=registry
    )
    duration = Histogram(
        "haven_request_duration_seconds", "d", ["method", "endpoint"], registry=registry
    )
    requests.labels("GET", "/a", "200").inc(5)
    duration.labels("GET", "/a").observe(0.2)
    state = MonitorState([A])
    state.record_scrape(A, generate_text(registry), None, T0)
    requests.labels("GET", "/a", "200").inc(10)
    duration.labels("GET", "/a").observe(0.2)
    state.record_scrape(A, generate_text(registry), None, T0 + 10)
    snapshot = state.snapshot(T0 + 10, 60)

    assert snapshot.traffic.requests_per_second == pytest.approx(1.0)
    assert snapshot.latency_seconds.p99 is not None
    assert snapshot.latency_seconds.p99 <= 0.25


def test_state_reads_openmetrics_body() -> None:
    state = MonitorState([A])
    for at, value in ((T0, 1), (T0 + 2, 9)):
        text = (
            "# TYPE haven_requests counter\n"
            f'haven_requests_total{{method="GET",endpoint="/a",status="200"}} {value}\n'
            f'haven_requests_created{{method="GET",endpoint="/a",status="200"}} {T0}\n'
            "# EOF\n"
        )
        state.record_scrape(A, text.encode(), "application/openmetrics-text", at)

    assert state.snapshot(T0 + 2, 60).traffic.requests_per_second == pytest.approx(4)


@pytest.mark.parametrize(
    ("case", "db", "gauge_size", "configured", "expected"),
    [
        ("gauge size", 5, 20, None, (5, 20, 0.25)),
        ("configured size", 5, None, 10, (5, 10, 0.5)),
        ("gauge wins", 5, 20, 10, (5, 20, 0.25)),
        ("size unknown", 5, None, None, (5, None, None)),
        ("no gauge at all", None, None, 10, (None, None, None)),
    ],
)
def test_state_db_pool_usage(
    case: str,
    db: float | None,
    gauge_size: float | None,
    configured: float | None,
    expected: tuple[float | None, float | None, float | None],
) -> None:
    state = MonitorState([A], pool_size=configured)
    scrape(state, A, T0, body(db=db, pool=gauge_size))
    snapshot = state.snapshot(T0, 60)
    pool = snapshot.db_pool

    assert (pool.active, pool.size, pool.usage) == expected, case
    assert snapshot.targets[0].pool_usage == expected[2], case


def test_state_process_stats_and_cpu_cores() -> None:
    state = MonitorState([A])
    stats = {"rss": 50e6, "fds": 12, "max_fds": 1024}
    scrape(state, A, T0, body(cpu=100.0, **stats))
    scrape(state, A, T0 + 10, body(cpu=105.0, **stats))
    process = state.snapshot(T0 + 10, 60).process

    assert process.cpu_cores == pytest.approx(0.5)
    assert process.resident_memory_bytes == 50e6
    assert process.open_fds == 12
    assert process.max_fds == 1024
    assert process.start_time_seconds == START


def test_state_sums_targets_and_narrows_to_one() -> None:
    state = MonitorState([A, B])
    for target, per_scrape in ((A, 10), (B, 30)):
        scrape(state, target, T0, body({("GET", "/a", "200"): 0}, db=1, pool=10))
        scrape(
            state,
            target,
            T0 + 10,
            body({("GET", "/a", "200"): per_scrape}, db=4, pool=10),
        )
    fleet = state.snapshot(T0 + 10, 60)
    only_b = state.snapshot(T0 + 10, 60, selected_target=B)

    assert fleet.traffic.requests_per_second == pytest.approx(4.0)
    assert fleet.db_pool.active == 8
    assert fleet.db_pool.size == 20
    assert only_b.selected_target == B
    assert only_b.traffic.requests_per_second == pytest.approx(3.0)
    assert only_b.endpoints[0].requests_per_second == pytest.approx(3.0)
    assert only_b.db_pool.active == 4
    assert [t.url for t in only_b.targets] == [A, B]
    assert only_b.targets[0].requests_per_second == pytest.approx(1.0)


def test_state_down_target_leaves_the_sums() -> None:
    state = MonitorState([A, B])
    for target in (A, B):
        scrape(state, target, T0, body({("GET", "/a", "200"): 0}))
        scrape(state, target, T0 + 10, body({("GET", "/a", "200"): 10}))
    state.record_scrape_failure(B, "connection refused", T0 + 11)
    snapshot = state.snapshot(T0 + 11, 60)
    down = snapshot.targets[1]

    assert snapshot.traffic.requests_per_second == pytest.approx(1.0)
    assert down.up is False
    assert down.error == "connection refused"
    assert down.requests_per_second is None
    assert down.last_scrape_age == pytest.approx(1.0)


def test_state_stale_target_has_no_rates() -> None:
    state = MonitorState([A])
    for step in range(3):
        scrape(state, A, T0 + step, body({("GET", "/a", "200"): step}))

    assert state.snapshot(T0 + 3, 60).traffic.requests_per_second == 1.0
    assert state.snapshot(T0 + 30, 60).traffic.requests_per_second is None


def test_state_garbage_body_stores_nothing() -> None:
    state = MonitorState([A])
    with pytest.raises(ExpositionError):
        state.record_scrape(A, b"<html>nope</html>", "text/html", T0)
    snapshot = state.snapshot(T0, 60)

    assert snapshot.targets[0].up is None
    assert snapshot.metrics_age is None


def test_state_returns_warnings_for_bad_lines() -> None:
    state = MonitorState([A])
    text = body({("GET", "/a", "200"): 1}) + b"broken{ 1\n"
    warnings = state.record_scrape(A, text, None, T0)

    assert len(warnings) == 1
    assert "broken" in warnings[0]


def sort_fixture() -> MonitorState:
    state = MonitorState([A])
    before = {
        ("GET", "/busy", "200"): 0,
        ("GET", "/failing", "500"): 0,
        ("GET", "/slow", "200"): 0,
        ("GET", "/quiet", "200"): 0,
    }
    after = {
        ("GET", "/busy", "200"): 100,
        ("GET", "/failing", "500"): 30,
        ("GET", "/slow", "200"): 20,
        ("GET", "/quiet", "200"): 10,
    }
    zero = [0, 0, 0, 0]
    buckets_before = {("GET", e): zero for e in ("/busy", "/failing", "/slow")}
    buckets_after = {
        ("GET", "/busy"): [100, 100, 100, 100],
        ("GET", "/failing"): [0, 30, 30, 30],
        ("GET", "/slow"): [0, 0, 20, 20],
    }
    scrape(state, A, T0, body(before, buckets_before))
    scrape(state, A, T0 + 10, body(after, buckets_after))
    return state


@pytest.mark.parametrize(
    ("sort_key", "expected"),
    [
        ("rate", ["/busy", "/failing", "/slow", "/quiet"]),
        ("errors", ["/failing", "/busy", "/slow", "/quiet"]),
        ("p95", ["/slow", "/failing", "/busy", "/quiet"]),
    ],
)
def test_state_endpoint_sort(sort_key: str, expected: list[str]) -> None:
    snapshot = sort_fixture().snapshot(T0 + 10, 60, endpoint_sort=sort_key)

    assert [row.endpoint for row in snapshot.endpoints] == expected


def test_state_endpoint_limit_sums_rest() -> None:
    state = sort_fixture()
    snapshot = state.snapshot(T0 + 10, 60, endpoint_limit=2)
    rows = snapshot.endpoints
    rest = rows[-1]

    assert [row.endpoint for row in rows[:2]] == ["/busy", "/failing"]
    assert len(rows) == 3
    assert rest.is_rest
    assert rest.method == "*"
    assert rest.endpoint == "(2 others)"
    assert rest.requests_per_second == pytest.approx(3.0)
    assert rest.errors_per_second == 0.0
    assert rest.p50 == pytest.approx(0.75)
    assert not any(row.is_rest for row in rows[:2])


def test_state_endpoint_limit_not_reached() -> None:
    snapshot = sort_fixture().snapshot(T0 + 10, 60, endpoint_limit=4)

    assert len(snapshot.endpoints) == 4
    assert not any(row.is_rest for row in snapshot.endpoints)


def test_state_history_once_per_round() -> None:
    state = MonitorState([A, B], history_length=3)
    for step in range(5):
        for target in (A, B):
            value = 10 * step
            scrape(state, target, T0 + step, body({("GET", "/a", "200"): value}))
            state.snapshot(T0 + step, 60)
        state.snapshot(T0 + step + 0.5, 60)
        state.snapshot(T0 + step + 0.6, 60)
    history = state.snapshot(T0 + 5, 60).history
    history_of_a = state.snapshot(T0 + 5, 60, selected_target=A).history

    assert history.requests_per_second == pytest.approx((20.0, 20.0, 20.0))
    assert history_of_a.requests_per_second == pytest.approx((10.0, 10.0, 10.0))
    assert len(history.system_cpu_percent) == 3


def test_state_history_first_round_is_a_gap() -> None:
    state = MonitorState([A])
    state.record_system(SystemStats(cpu_percent=12.5), T0)
    scrape(state, A, T0, body({("GET", "/a", "200"): 1}))
    history = state.snapshot(T0, 60).history

    assert history.requests_per_second == (None,)
    assert history.system_cpu_percent == (12.5,)


def test_state_stores_health_system_self_and_debug() -> None:
    state = MonitorState([A])
    state.record_health(
        A,
        T0,
        live=True,
        ready=False,
        dependencies={"database": "unhealthy"},
        ready_error="database down",
    )
    state.record_system(SystemStats(cpu_percent=40.0), T0 + 1)
    state.record_self(SelfStats(cpu_percent=2.0))
    state.set_debug_until(A, T0 + 300)
    snapshot = state.snapshot(T0 + 10, 60)
    target = snapshot.targets[0]

    assert target.live is True
    assert target.ready is False
    assert target.dependencies == {"database": "unhealthy"}
    assert target.ready_error == "database down"
    assert target.last_health_age == pytest.approx(10.0)
    assert target.debug_remaining == pytest.approx(290.0)
    assert snapshot.system.cpu_percent == 40.0
    assert snapshot.system_age == pytest.approx(9.0)
    assert snapshot.own.cpu_percent == 2.0
    state.set_debug_until(A, None)
    assert state.snapshot(T0 + 10, 60).targets[0].debug_remaining is None


def test_state_health_failure_keeps_last_answer_age() -> None:
    state = MonitorState([A])
    state.record_health(A, T0, live=True, ready=True)
    state.record_health(A, T0 + 5, live=None, ready=None, error="timed out after 1 s")
    target = state.snapshot(T0 + 6, 60).targets[0]

    assert target.error == "timed out after 1 s"
    assert target.last_health_age == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"selected_target": "http://elsewhere"}, KeyError),
        ({"endpoint_sort": "name"}, ValueError),
    ],
)
def test_state_rejects_bad_arguments(kwargs: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        MonitorState([A]).snapshot(T0, 60, **kwargs)


def test_state_rejects_bad_window() -> None:
    with pytest.raises(ValueError, match="invalid window"):
        MonitorState([A]).snapshot(T0, 0)


def test_state_snapshot_to_dict_is_plain() -> None:
    state = sort_fixture()
    data = state.snapshot(T0 + 10, 60, endpoint_limit=1).to_dict()

    assert data["traffic"]["requests_per_second"] == pytest.approx(16.0)
    assert data["endpoints"][-1]["is_rest"] is True
    assert not math.isnan(data["latency_seconds"]["p50"])


def test_state_snapshot_many_endpoints_sums_rest() -> None:
    """300 endpoint rows on 3 targets: the top 20 plus one row summing the rest.

    bench/bench_state.py measures how long such snapshots take.
    """
    targets = [f"http://127.0.0.1:{9100 + i}" for i in range(3)]
    state = MonitorState(targets)
    endpoints = [f"/api/v1/e{i}" for i in range(150)]
    for step in range(3):
        requests = {}
        buckets = {}
        for endpoint in endpoints:
            for method in ("GET", "POST"):
                requests[(method, endpoint, "200")] = 100 * step
                requests[(method, endpoint, "500")] = step
                buckets[(method, endpoint)] = [
                    10 * step,
                    50 * step,
                    90 * step,
                    101 * step,
                ]
        text = body(requests, buckets)
        for target in targets:
            scrape(state, target, T0 + step, text)
    snapshot = state.snapshot(T0 + 2, 60, endpoint_limit=20)
    again = state.snapshot(T0 + 2.5, 60, endpoint_limit=20)
    rest = snapshot.endpoints[-1]

    assert len(snapshot.endpoints) == 21
    assert rest.is_rest
    assert rest.endpoint == "(280 others)"
    assert sum(row.requests_per_second for row in snapshot.endpoints) == (
        pytest.approx(3 * 300 * 101)
    )
    assert snapshot.traffic.requests_per_second == pytest.approx(3 * 300 * 101)
    assert again.endpoints == snapshot.endpoints


def scrape_demo(client: httpx.Client, url: str) -> tuple[bytes, str | None, float]:
    response = client.get(f"{url}/metrics")
    response.raise_for_status()
    return response.content, response.headers.get("content-type"), time.time()


def test_state_with_demo_service(demo) -> None:  # noqa: ANN001 - fixture type
    """Feed MonitorState real bodies scraped over HTTP from the demo service."""
    state = MonitorState([demo.url])
    with httpx.Client(timeout=5.0) as client:
        body_bytes, content_type, at = scrape_demo(client, demo.url)
        assert state.record_scrape(demo.url, body_bytes, content_type, at) == []
        deadline = time.monotonic() + 20.0
        snapshot = None
        while time.monotonic() < deadline:
            time.sleep(0.25)
            body_bytes, content_type, at = scrape_demo(client, demo.url)
            state.record_scrape(demo.url, body_bytes, content_type, at)
            snapshot = state.snapshot(at, 60)
            if (snapshot.traffic.requests_per_second or 0) > 0 and (
                snapshot.latency_seconds.p95 is not None
            ):
                break
    assert snapshot is not None
    assert state.has_rates()
    assert snapshot.traffic.requests_per_second > 0
    assert snapshot.latency_seconds.p50 is not None
    assert snapshot.latency_seconds.p50 <= snapshot.latency_seconds.p99
    assert snapshot.endpoints
    assert snapshot.process.resident_memory_bytes > 0
    assert snapshot.process.start_time_seconds is not None
    assert snapshot.process.cpu_cores is not None
    assert snapshot.targets[0].up is True
    assert snapshot.targets[0].restarted_age is None


def test_state_with_demo_openmetrics(demo) -> None:  # noqa: ANN001 - fixture type
    """The demo serves OpenMetrics on request, and the state reads it the same way."""
    state = MonitorState([demo.url])
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"}
    with httpx.Client(timeout=5.0, headers=headers) as client:
        for _ in range(2):
            body_bytes, content_type, at = scrape_demo(client, demo.url)
            assert state.record_scrape(demo.url, body_bytes, content_type, at) == []
            time.sleep(0.2)
    snapshot = state.snapshot(at, 60)

    assert content_type is not None
    assert "openmetrics" in content_type
    assert snapshot.traffic.requests_per_second is not None
    assert snapshot.process.start_time_seconds is not None


def make_record(seq: int, at: float) -> ScrapeRecord:
    empty = array("d")
    return ScrapeRecord(seq, at, empty, empty, empty, empty, Gauges())


def test_record_history_thins_and_drops() -> None:
    history = RecordHistory(retention=100.0, dense_seconds=10.0, coarse_step=5.0)
    for second in range(200):
        history.append(make_record(second, float(second)))
    thinned = sorted(
        {history.first_at_or_after(float(t)).at for t in range(100, 185)}  # type: ignore[union-attr]
    )

    assert history.latest is not None
    assert history.latest.at == 199.0
    assert history.first_at_or_after(0.0).at >= 99.0  # type: ignore[union-attr]
    assert history.last_at_or_before(150.2).at in (150.0, 145.0)  # type: ignore[union-attr]
    assert history.first_at_or_after(195.5).at == 196.0  # type: ignore[union-attr]
    assert history.first_at_or_after(300.0) is None
    assert history.last_at_or_before(10.0) is None
    assert len(history) <= 10 + 100 / 5 + 2
    assert thinned
    assert all(b - a >= 5.0 for a, b in pairwise(thinned))
    assert history.mean_interval() == pytest.approx(1.0)


def test_state_long_window_exact_after_thinning() -> None:
    state = MonitorState([A])
    for second in range(0, 1200, 2):
        scrape(state, A, T0 + second, body({("GET", "/a", "200"): 3 * second}))
        state.snapshot(T0 + second, 60)
    end = T0 + 1198
    snapshot = state.snapshot(end, 900)

    assert snapshot.traffic.requests_per_second == pytest.approx(3.0)
    assert len(state.snapshot(end, 60).history.requests_per_second) == 300


@pytest.mark.parametrize(
    ("case", "scrapes", "expected_totals", "expected_resets"),
    [
        ("baseline then growth", [(True, False, 10), (False, False, 15)], 5, 0),
        ("reset", [(True, False, 10), (False, False, 4)], 4, 1),
        ("restart flag", [(True, False, 10), (False, True, 12)], 12, 0),
        ("NaN skipped", [(True, False, 10), (False, False, math.nan)], 0, 0),
        (
            "after NaN",
            [(True, False, 5), (False, False, math.nan), (False, False, 9)],
            4,
            0,
        ),
    ],
)
def test_counter_table_cases(
    case: str,
    scrapes: list[tuple[bool, bool, float]],
    expected_totals: float,
    expected_resets: int,
) -> None:
    table: CounterTable[str] = CounterTable(lambda series: series.name)
    resets = 0
    for baseline, restarted, value in scrapes:
        group = parse(f"c {value}\n").get("c")
        resets += table.update(group, baseline=baseline, restarted=restarted)

    assert list(table.totals) == [expected_totals], case
    assert resets == expected_resets, case


def test_counter_table_new_series_from_zero() -> None:
    table: CounterTable[str] = CounterTable(lambda series: series.labels["id"])
    table.update(parse('c{id="a"} 5\n').get("c"), baseline=True, restarted=False)
    before = table.copy_totals()
    table.update(
        parse('c{id="a"} 6\nc{id="b"} 7\nc{id="x",le="skip"} 1\n').get("c"),
        baseline=False,
        restarted=False,
    )

    assert table.keys == ["a", "b", "x"]
    assert total_deltas(before, table.copy_totals()) == [1.0, 7.0, 1.0]


def test_state_request_rate_from_count_without_counter() -> None:
    """A service with only the histogram still shows request rates, but no errors."""
    state = MonitorState([A])
    scrape(state, A, T0, body(buckets={("GET", "/a"): [0, 0, 0, 0]}))
    scrape(state, A, T0 + 10, body(buckets={("GET", "/a"): [5, 10, 20, 30]}))
    snapshot = state.snapshot(T0 + 10, 60)

    assert snapshot.traffic.requests_per_second == pytest.approx(3.0)
    assert snapshot.traffic.errors_per_second is None
    assert snapshot.traffic.error_ratio is None
    assert snapshot.endpoints[0].requests_per_second == pytest.approx(3.0)
    assert snapshot.endpoints[0].error_ratio is None
