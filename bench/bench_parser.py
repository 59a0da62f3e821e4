"""Time haven-top's exposition parser against prometheus_client's, in one run.

The expositions come from prometheus_client itself: a counter by method,
endpoint and status, a 12-bucket histogram by method and endpoint, and the
`_created` series that the library adds. Sizes are about 1k, 10k and 100k
samples.

Steady state is the real workload: one parser re-reads the same series set
with changed values, so its series cache is warm. Cold is a fresh parser on
every body. prometheus_client's `text_string_to_metric_families` is consumed
fully (every sample of every family) and gets the body already decoded, while
haven-top's parser decodes the bytes itself.

Run: python bench/bench_parser.py [--reps N]
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
from collections.abc import Callable
from importlib.metadata import version

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from haven_top.core.exposition import ExpositionParser, parse

TARGET_RATIO = 15.0
METHODS = ("GET", "POST", "PUT", "DELETE")
STATUSES = ("200", "404", "500")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Eleven finite bounds; with +Inf that makes 12 bucket series per histogram."""
ENDPOINT_COUNTS = {"1k": 12, "10k": 120, "100k": 1200}
"""Endpoints per size; each (endpoint, method) pair writes 21 samples."""
BODIES = 3


class Workload:
    """A registry whose counters and histograms advance between bodies."""

    def __init__(self, endpoints: int) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "haven_requests_total",
            "Total requests",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "haven_request_duration_seconds",
            "Request duration",
            ["method", "endpoint"],
            registry=self.registry,
            buckets=BUCKETS,
        )
        self.pairs = [
            (method, f"/api/v1/resource{index}/items")
            for index in range(endpoints)
            for method in METHODS
        ]

    def advance(self, step: int) -> bytes:
        """Record some traffic on every series and return the new exposition."""
        for number, (method, endpoint) in enumerate(self.pairs):
            for status in STATUSES:
                self.requests.labels(method, endpoint, status).inc(1 + step)
            latency = BUCKETS[(number + step) % len(BUCKETS)] * 0.9
            self.duration.labels(method, endpoint).observe(latency)
        return generate_latest(self.registry)


def median_seconds(action: Callable[[], object], reps: int) -> float:
    timings = []
    for _ in range(reps):
        gc.collect()
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def consume_reference(text: str) -> int:
    count = 0
    for family in text_string_to_metric_families(text):
        for _ in family.samples:
            count += 1
    return count


def bench_size(label: str, endpoints: int, reps: int) -> dict[str, float]:
    workload = Workload(endpoints)
    bodies = [workload.advance(step) for step in range(BODIES)]
    texts = [body.decode() for body in bodies]
    first = parse(bodies[0])
    samples = len(first) + sum(len(group) for group in first.created.values())

    parser = ExpositionParser()
    parser.parse(bodies[0])
    turn = iter(range(1_000_000))

    def steady() -> None:
        parser.parse(bodies[1 + next(turn) % (BODIES - 1)])

    ours_steady = median_seconds(steady, reps)
    ours_cold = median_seconds(lambda: ExpositionParser().parse(bodies[1]), reps)
    reference_reps = max(3, reps // 4)
    reference = median_seconds(lambda: consume_reference(texts[1]), reference_reps)
    return {
        "samples": samples,
        "steady": ours_steady,
        "cold": ours_cold,
        "reference": reference,
    }


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument(
        "--reps", type=int, default=12, help="timed parses per case (default 12)"
    )
    args = options.parse_args()
    print(
        f"Python {platform.python_version()}, prometheus_client "
        f"{version('prometheus_client')}, {platform.machine()}; median of "
        f"{args.reps} parses, {max(3, args.reps // 4)} for prometheus_client"
    )
    header = (
        f"{'size':>5} {'samples':>8} {'steady ms':>10} {'cold ms':>9} "
        f"{'prom_client ms':>15} {'steady x':>9} {'cold x':>7}"
    )
    print(header)
    worst = float("inf")
    for label, endpoints in ENDPOINT_COUNTS.items():
        result = bench_size(label, endpoints, args.reps)
        steady_ratio = result["reference"] / result["steady"]
        cold_ratio = result["reference"] / result["cold"]
        worst = min(worst, steady_ratio)
        print(
            f"{label:>5} {int(result['samples']):>8} "
            f"{result['steady'] * 1e3:>10.2f} {result['cold'] * 1e3:>9.2f} "
            f"{result['reference'] * 1e3:>15.2f} {steady_ratio:>9.1f} "
            f"{cold_ratio:>7.1f}"
        )
    verdict = "met" if worst >= TARGET_RATIO else "NOT met"
    print(f"steady-state target of {TARGET_RATIO:.0f}x: {verdict} (worst {worst:.1f}x)")


if __name__ == "__main__":
    main()
