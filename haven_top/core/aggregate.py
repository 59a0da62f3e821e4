"""Window rates of one target, their sum over several, and the endpoint table.

Everything here works on per-second rates. Summing rates across targets
rather than raw increases keeps each target's own time span, as
`sum(rate(...))` does in PromQL. Quantiles come from bucket rates summed by
`le`, the same as `histogram_quantile(q, sum by (le) (rate(..._bucket[w])))`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from haven_top.core.quantile import histogram_quantiles
from haven_top.core.series import ScrapeRecord, total_deltas
from haven_top.core.snapshot import EndpointStats, Latency, Traffic

QUANTILES = (0.5, 0.95, 0.99)
ERROR_CLASS = "5xx"

EndpointKey = tuple[str, str]
"""(method, endpoint)."""
RequestKey = tuple[str, str, str]
"""(method, endpoint, status class such as "2xx")."""
BucketKey = tuple[str, str, float]
"""(method, endpoint, upper bound)."""


@dataclass
class EndpointRates:
    """Per-second rates of one (method, endpoint) pair."""

    requests: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)
    """Observations per second by bucket upper bound, cumulative as in `le`."""

    def add(self, other: EndpointRates) -> None:
        self.requests += other.requests
        self.errors += other.errors
        _add_buckets(self.buckets, other.buckets)


@dataclass
class WindowRates:
    """Per-second rates over one window, for one target or summed over several."""

    endpoints: dict[EndpointKey, EndpointRates] = field(default_factory=dict)
    by_status_class: dict[str, float] = field(default_factory=dict)
    requests: float = 0.0
    errors: float = 0.0
    has_status: bool = False
    """False when the requests came from `_count` without a status label."""
    buckets: dict[float, float] = field(default_factory=dict)
    cpu_cores: float | None = None

    def endpoint(self, key: EndpointKey) -> EndpointRates:
        """Return the rates of endpoint `key`, adding empty ones the first time."""
        rates = self.endpoints.get(key)
        if rates is None:
            rates = self.endpoints[key] = EndpointRates()
        return rates

    def add(self, other: WindowRates) -> None:
        for key, rates in other.endpoints.items():
            self.endpoint(key).add(rates)
        for status_class, value in other.by_status_class.items():
            self.by_status_class[status_class] = (
                self.by_status_class.get(status_class, 0.0) + value
            )
        self.requests += other.requests
        self.errors += other.errors
        self.has_status = self.has_status or other.has_status
        _add_buckets(self.buckets, other.buckets)
        if other.cpu_cores is not None:
            self.cpu_cores = (self.cpu_cores or 0.0) + other.cpu_cores

    def traffic(self) -> Traffic:
        errors = self.errors if self.has_status else None
        ratio = None
        if errors is not None and self.requests > 0:
            ratio = errors / self.requests
        return Traffic(
            requests_per_second=self.requests,
            errors_per_second=errors,
            error_ratio=ratio,
            by_status_class=dict(sorted(self.by_status_class.items())),
        )

    def latency(self) -> Latency:
        p50, p95, p99 = histogram_quantiles(QUANTILES, self.buckets.items())
        return Latency(p50=p50, p95=p95, p99=p99)


@dataclass(frozen=True)
class CounterKeys:
    """The column keys of one target's counter tables."""

    requests: Sequence[RequestKey]
    buckets: Sequence[BucketKey]
    counts: Sequence[EndpointKey]


def window_rates(
    first: ScrapeRecord, last: ScrapeRecord, keys: CounterKeys
) -> WindowRates | None:
    """Compute one target's rates between two scrapes; None if their times match."""
    span = last.at - first.at
    if span <= 0:
        return None
    scale = 1.0 / span
    rates = WindowRates()
    request_deltas = total_deltas(first.requests, last.requests)
    if keys.requests:
        _add_requests(rates, keys.requests, request_deltas, scale)
    else:
        _add_counts(rates, keys.counts, total_deltas(first.counts, last.counts), scale)
    _add_bucket_rates(
        rates, keys.buckets, total_deltas(first.buckets, last.buckets), scale
    )
    cpu = total_deltas(first.cpu_seconds, last.cpu_seconds)
    if cpu:
        rates.cpu_cores = sum(cpu) * scale
    return rates


def sum_rates(parts: Iterable[WindowRates]) -> WindowRates:
    total = WindowRates()
    for part in parts:
        total.add(part)
    return total


def endpoint_rows(rates: WindowRates) -> list[EndpointStats]:
    """Build one table row per (method, endpoint), in no particular order."""
    return [
        _row(method, endpoint, endpoint_rates, rates.has_status)
        for (method, endpoint), endpoint_rates in rates.endpoints.items()
    ]


def sort_and_limit(
    rates: WindowRates,
    rows: list[EndpointStats],
    sort_key: str,
    limit: int | None,
) -> tuple[EndpointStats, ...]:
    """Sort rows by `sort_key` and sum those past `limit` into one `is_rest` row."""
    ordered = sorted(rows, key=_SORT_KEYS[sort_key])
    if limit is None or len(ordered) <= limit:
        return tuple(ordered)
    kept = ordered[: max(limit, 0)]
    rest = ordered[len(kept) :]
    rest_rates = EndpointRates()
    for row in rest:
        rest_rates.add(rates.endpoints[(row.method, row.endpoint)])
    others = "other" if len(rest) == 1 else "others"
    label = f"({len(rest)} {others})"
    rest_row = _row("*", label, rest_rates, rates.has_status)
    return (*kept, replace(rest_row, is_rest=True))


def _add_requests(
    rates: WindowRates,
    keys: Sequence[RequestKey],
    deltas: list[float],
    scale: float,
) -> None:
    by_class = rates.by_status_class
    for (method, endpoint, status_class), delta in zip(keys, deltas, strict=False):
        per_second = delta * scale
        endpoint_rates = rates.endpoint((method, endpoint))
        endpoint_rates.requests += per_second
        if status_class == ERROR_CLASS:
            endpoint_rates.errors += per_second
            rates.errors += per_second
        by_class[status_class] = by_class.get(status_class, 0.0) + per_second
        rates.requests += per_second
    rates.has_status = True


def _add_counts(
    rates: WindowRates,
    keys: Sequence[EndpointKey],
    deltas: list[float],
    scale: float,
) -> None:
    for key, delta in zip(keys, deltas, strict=False):
        rates.endpoint(key).requests += delta * scale
        rates.requests += delta * scale


def _add_bucket_rates(
    rates: WindowRates,
    keys: Sequence[BucketKey],
    deltas: list[float],
    scale: float,
) -> None:
    total = rates.buckets
    for (method, endpoint, bound), delta in zip(keys, deltas, strict=False):
        per_second = delta * scale
        buckets = rates.endpoint((method, endpoint)).buckets
        buckets[bound] = buckets.get(bound, 0.0) + per_second
        total[bound] = total.get(bound, 0.0) + per_second


def _add_buckets(into: dict[float, float], other: dict[float, float]) -> None:
    for bound, value in other.items():
        into[bound] = into.get(bound, 0.0) + value


def _row(
    method: str, endpoint: str, rates: EndpointRates, has_status: bool
) -> EndpointStats:
    errors = rates.errors if has_status else None
    ratio = None
    if errors is not None and rates.requests > 0:
        ratio = errors / rates.requests
    p50, p95, p99 = histogram_quantiles(QUANTILES, rates.buckets.items())
    return EndpointStats(
        method=method,
        endpoint=endpoint,
        requests_per_second=rates.requests,
        errors_per_second=errors,
        error_ratio=ratio,
        p50=p50,
        p95=p95,
        p99=p99,
    )


def _by_rate(row: EndpointStats) -> tuple[float, str, str]:
    return (-(row.requests_per_second or 0.0), row.endpoint, row.method)


def _by_errors(row: EndpointStats) -> tuple[float, float, str, str]:
    return (-(row.errors_per_second or 0.0), *_by_rate(row))


def _by_p95(row: EndpointStats) -> tuple[bool, float, float, str, str]:
    # Rows without a p95 (no traffic in the window) go last.
    return (row.p95 is None, -(row.p95 or 0.0), *_by_rate(row))


_SORT_KEYS = {"rate": _by_rate, "errors": _by_errors, "p95": _by_p95}
