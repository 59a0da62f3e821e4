"""Time MonitorState on a fleet: ingesting scrapes and building snapshots.

Five targets expose 150 endpoints x 2 methods x 3 statuses and a 4-bucket
histogram per (method, endpoint), about 3,600 lines each. Each target is
scraped once a second for 16 simulated minutes, and after every round the
dashboard requests a 15-minute snapshot twice: once fresh, once half a second
later with nothing new (served from the cache). Memory is the growth of the
resident set size, so it includes the allocator's slack.

Run: python bench/bench_state.py
"""

from __future__ import annotations

import gc
import statistics
import time

import psutil

from haven_top.core.state import MonitorState

TARGETS = [f"http://127.0.0.1:{9100 + index}" for index in range(5)]
ENDPOINTS = [f"/api/v1/e{index}" for index in range(150)]
STATUS_SHARES = (("200", 100), ("404", 3), ("500", 1))
BOUNDS = ("0.1", "0.5", "1.0", "+Inf")
ROUNDS = 960
T0 = 1_700_000_000.0


def exposition(step: int) -> bytes:
    """Return one target's body after `step` seconds of steady traffic."""
    lines = ["# TYPE haven_requests_total counter"]
    for endpoint in ENDPOINTS:
        for method in ("GET", "POST"):
            for status, share in STATUS_SHARES:
                labels = f'endpoint="{endpoint}",method="{method}",status="{status}"'
                lines.append(f"haven_requests_total{{{labels}}} {share * step}")
    lines.append("# TYPE haven_request_duration_seconds histogram")
    for endpoint in ENDPOINTS:
        for method in ("GET", "POST"):
            pair = f'endpoint="{endpoint}",method="{method}"'
            for bound, share in zip(BOUNDS, (10, 50, 90, 104), strict=True):
                name = "haven_request_duration_seconds_bucket"
                lines.append(f'{name}{{{pair},le="{bound}"}} {share * step}')
            lines.append(f"haven_request_duration_seconds_count{{{pair}}} {104 * step}")
    lines += [
        f"process_cpu_seconds_total {0.1 * step}",
        "process_start_time_seconds 1699990000",
        "haven_db_connections 3",
        "haven_db_pool_size 10",
    ]
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    state = MonitorState(TARGETS)
    ingest, fresh, cached = [], [], []
    for step in range(ROUNDS):
        body = exposition(step)
        started = time.perf_counter()
        for target in TARGETS:
            state.record_scrape(target, body, None, T0 + step)
        ingest.append((time.perf_counter() - started) / len(TARGETS))
        started = time.perf_counter()
        state.snapshot(T0 + step + 0.1, 900, endpoint_limit=30)
        fresh.append(time.perf_counter() - started)
        started = time.perf_counter()
        state.snapshot(T0 + step + 0.6, 900, endpoint_limit=30)
        cached.append(time.perf_counter() - started)
    print(f"{len(TARGETS)} targets, {ROUNDS} rounds, 15-minute window")
    print(f"ingest per scrape: median {statistics.median(ingest) * 1e3:.2f} ms")
    print(f"fresh snapshot:    median {statistics.median(fresh) * 1e3:.2f} ms")
    print(f"cached snapshot:   median {statistics.median(cached) * 1e3:.3f} ms")
    gc.collect()
    grown = psutil.Process().memory_info().rss - rss_before
    print(f"resident memory grown by {grown / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
