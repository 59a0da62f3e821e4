"""Turn Prometheus poll results into the same `Snapshot` that direct mode builds.

Pure functions and one small history buffer, with no I/O, so the provider in
`haven_top.sources.prometheus` only polls and stores.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from haven_top.core.snapshot import (
    Alert,
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
from haven_top.core.state import HISTORY_LENGTH
from haven_top.core.urls import redact_url
from haven_top.sources.promql import (
    HISTORY_KEYS,
    InstanceReading,
    Scope,
    error_ratio,
    matrix_points,
    status_class,
)

if TYPE_CHECKING:
    from haven_top.sources.prometheus import PollResult

HISTORY_POINTS = HISTORY_LENGTH
"""Sparkline points kept, one per poll, as in direct mode. The backfill requests
as many points from Prometheus."""

RESTART_MARK_SECONDS = 120.0
"""How long a detected restart stays marked on its instance."""


class HistoryBuffer:
    """Sparkline series for one scope (window and instance), plus local CPU."""

    def __init__(self, points: int) -> None:
        self._points = points
        self._scope: Scope | None = None
        self._series = self._empty()
        self._cpu: deque[float | None] = deque(maxlen=points)

    def _empty(self) -> dict[str, deque[float | None]]:
        return {key: deque(maxlen=self._points) for key in HISTORY_KEYS}

    def covers(self, scope: Scope) -> bool:
        """True when the series belong to `scope` and need no backfill."""
        return self._scope == scope

    def backfill(self, scope: Scope, results: Mapping[str, Any], step: float) -> None:
        """Replace the series with range results: `(end, result)` or an error."""
        self._scope = scope
        self._series = self._empty()
        for key in HISTORY_KEYS:
            outcome = results.get(key)
            if isinstance(outcome, tuple):
                end, result = outcome
                points = matrix_points(result, end, step, self._points)
            else:
                points = (None,) * self._points
            self._series[key].extend(points)

    def append(
        self,
        scope: Scope,
        point: Mapping[str, float | None],
        cpu_percent: float | None,
        *,
        backfilled: bool,
    ) -> None:
        """Add one poll's values; a backfill already contains the newest point."""
        self._cpu.append(cpu_percent)
        if scope != self._scope:
            self._scope = scope
            self._series = self._empty()
        if backfilled:
            return
        for key in HISTORY_KEYS:
            self._series[key].append(point.get(key))

    def append_gap(self, scope: Scope, cpu_percent: float | None) -> None:
        """Add a gap for a poll that failed, so time keeps moving on screen."""
        self.append(scope, {}, cpu_percent, backfilled=False)

    def view(self, scope: Scope) -> History:
        """Return the series for `scope`; only local CPU while they belong elsewhere."""
        if scope != self._scope:
            return History(system_cpu_percent=tuple(self._cpu))
        return History(
            requests_per_second=tuple(self._series["requests_per_second"]),
            error_ratio=tuple(self._series["error_ratio"]),
            p95=tuple(self._series["p95"]),
            db_usage=tuple(self._series["db_usage"]),
            system_cpu_percent=tuple(self._cpu),
        )


@dataclass(frozen=True)
class SnapshotInputs:
    """Everything the provider has stored, at the moment a snapshot is built."""

    now: float
    scope: Scope
    """The window and instance the caller asked for."""
    last: PollResult | None
    failure: str | None
    """Reason the latest poll failed, or None when it succeeded."""
    prometheus_url: str
    alerts: tuple[Alert, ...] = ()
    history: History = field(default_factory=History)
    restarts: Mapping[str, float] = field(default_factory=dict)
    system: SystemStats = field(default_factory=SystemStats)
    system_at: float | None = None
    own: SelfStats = field(default_factory=SelfStats)


def build_snapshot(
    inputs: SnapshotInputs,
    *,
    endpoint_sort: str = "rate",
    endpoint_limit: int | None = None,
) -> Snapshot:
    """Build the snapshot for the requested scope from the last poll."""
    scope, last = inputs.scope, inputs.last
    base = Snapshot(
        taken_at=inputs.now,
        window_seconds=scope.window_seconds,
        targets=_targets(inputs),
        system=inputs.system,
        own=inputs.own,
        history=inputs.history,
        alerts=inputs.alerts,
        selected_target=scope.instance,
        metrics_age=_metrics_age(inputs),
        system_age=_age(inputs.now, inputs.system_at),
    )
    if last is None or inputs.failure is not None:
        return base
    chosen = _chosen(last.instances, scope.instance)
    fields: dict[str, Any] = {
        "db_pool": _db_pool(chosen),
        "process": _process(chosen),
    }
    if last.scope.instance == scope.instance:
        # The window the data covers, which lags a new window by one poll.
        fields["window_seconds"] = last.scope.window_seconds
        fields["traffic"] = _traffic(last.reading.by_status)
        fields["latency_seconds"] = Latency(**last.reading.quantiles)
        rows = _endpoint_rows(last.reading.endpoints)
        fields["endpoints"] = sort_endpoints(rows, endpoint_sort, endpoint_limit)
    elif len(chosen) == 1:
        # Narrowed a moment ago: the instances table already has the headline.
        (reading,) = chosen
        fields["traffic"] = Traffic(
            requests_per_second=reading.requests_per_second,
            errors_per_second=reading.errors_per_second,
            error_ratio=reading.error_ratio,
        )
        fields["latency_seconds"] = Latency(p95=reading.p95)
    return dataclasses.replace(base, **fields)


def history_point(last: PollResult, scope: Scope) -> dict[str, float | None]:
    """Return the sparkline values of one poll, as the range queries compute them."""
    by_status = last.reading.by_status
    total = sum(by_status.values()) if by_status else None
    errors = _errors(by_status) if by_status else None
    usage = _db_pool(_chosen(last.instances, scope.instance)).usage
    return {
        "requests_per_second": total,
        "error_ratio": error_ratio(errors, total),
        "p95": last.reading.quantiles.get("p95"),
        "db_usage": usage,
    }


def _chosen(
    instances: Sequence[InstanceReading], selected: str | None
) -> tuple[InstanceReading, ...]:
    if selected is None:
        return tuple(instances)
    return tuple(r for r in instances if r.instance == selected)


def _age(now: float, then: float | None) -> float | None:
    return None if then is None else max(0.0, now - then)


def _metrics_age(inputs: SnapshotInputs) -> float | None:
    if inputs.last is None:
        return None
    stamps = [r.scraped_at for r in inputs.last.instances if r.up and r.scraped_at]
    return _age(inputs.now, max(stamps)) if stamps else None


def _targets(inputs: SnapshotInputs) -> tuple[TargetStatus, ...]:
    last = inputs.last
    instances = last.instances if last is not None else ()
    if inputs.failure is None:
        errors = last.target_errors if last is not None else {}
        return tuple(_target(r, inputs, errors.get(r.instance)) for r in instances)
    server = TargetStatus(
        url=inputs.prometheus_url,
        up=False,
        error=f"Prometheus: {inputs.failure}",
    )
    unknown = tuple(
        TargetStatus(
            url=r.instance,
            error="state unknown while Prometheus cannot be queried",
            last_scrape_age=_age(inputs.now, r.scraped_at),
        )
        for r in instances
    )
    return (server, *unknown)


def _target(
    reading: InstanceReading, inputs: SnapshotInputs, last_error: str | None
) -> TargetStatus:
    error = None
    if reading.up is False:
        reason = redact_url(last_error) if last_error else "scrape failed"
        error = f"Prometheus cannot scrape it: {reason}"
    restarted = _age(inputs.now, inputs.restarts.get(reading.instance))
    if restarted is not None and restarted > RESTART_MARK_SECONDS:
        restarted = None
    return TargetStatus(
        url=reading.instance,
        up=reading.up,
        error=error,
        last_scrape_age=_age(inputs.now, reading.scraped_at),
        restarted_age=restarted,
        requests_per_second=reading.requests_per_second,
        error_ratio=reading.error_ratio,
        p95=reading.p95,
        pool_usage=_db_pool((reading,)).usage,
        process=_process((reading,)),
    )


def _errors(by_status: Mapping[str, float]) -> float:
    return sum((v for s, v in by_status.items() if status_class(s) == "5xx"), 0.0)


def _traffic(by_status: Mapping[str, float]) -> Traffic:
    if not by_status:
        return Traffic()
    classes: dict[str, float] = {}
    for status, value in by_status.items():
        name = status_class(status)
        classes[name] = classes.get(name, 0.0) + value
    total = sum(by_status.values())
    errors = _errors(by_status)
    return Traffic(
        requests_per_second=total,
        errors_per_second=errors,
        error_ratio=error_ratio(errors, total),
        by_status_class=classes,
    )


def _db_pool(instances: Sequence[InstanceReading]) -> DbPool:
    up = [r for r in instances if r.up]
    active = [
        r.gauges["haven_db_connections"]
        for r in up
        if "haven_db_connections" in r.gauges
    ]
    sizes = [r.gauges.get("haven_db_pool_size") for r in up]
    if not active:
        return DbPool()
    total = sum(active)
    size = (
        None if not sizes or None in sizes else sum(s for s in sizes if s is not None)
    )
    usage = total / size if size else None
    return DbPool(active=total, size=size, usage=usage)


def _process(instances: Sequence[InstanceReading]) -> ProcessStats:
    """Sum the processes of the chosen instances; one instance is shown as is."""
    up = [r for r in instances if r.up]
    if not up:
        return ProcessStats()

    def total(name: str) -> float | None:
        values = [r.gauges[name] for r in up if name in r.gauges]
        return sum(values) if values else None

    cpu = [r.cpu_cores for r in up if r.cpu_cores is not None]
    return ProcessStats(
        cpu_cores=sum(cpu) if cpu else None,
        resident_memory_bytes=total("process_resident_memory_bytes"),
        open_fds=total("process_open_fds"),
        max_fds=total("process_max_fds"),
        start_time_seconds=(
            up[0].gauges.get("process_start_time_seconds") if len(up) == 1 else None
        ),
    )


def _endpoint_rows(
    endpoints: Mapping[tuple[str, str], Mapping[str, float | None]],
) -> list[EndpointStats]:
    rows = []
    for (method, endpoint), figures in endpoints.items():
        rps, errors = figures.get("rps"), figures.get("errors")
        rows.append(
            EndpointStats(
                method=method,
                endpoint=endpoint,
                requests_per_second=rps,
                errors_per_second=errors,
                error_ratio=error_ratio(errors, rps),
                p50=figures.get("p50"),
                p95=figures.get("p95"),
                p99=figures.get("p99"),
            )
        )
    return rows


def sort_endpoints(
    rows: Sequence[EndpointStats], sort: str, limit: int | None
) -> tuple[EndpointStats, ...]:
    """Sort rows as direct mode does and sum those past `limit` into one row.

    "rate" sorts by requests per second and "errors" by 5xx per second. "p95"
    sorts by p95 and puts rows without one last. Ties fall back to the rate,
    then the name. The summed row has `is_rest=True` and no quantiles, because
    quantiles of separate endpoints cannot be added.
    """
    ordered = sorted(rows, key=_SORT_KEYS.get(sort, _by_rate))
    if limit is None or len(ordered) <= limit:
        return tuple(ordered)
    kept = ordered[: max(limit, 0)]
    rest = ordered[len(kept) :]
    rps = sum(r.requests_per_second or 0.0 for r in rest)
    errors = sum(r.errors_per_second or 0.0 for r in rest)
    others = "other" if len(rest) == 1 else "others"
    summary = EndpointStats(
        method="*",
        endpoint=f"({len(rest)} {others})",
        requests_per_second=rps,
        errors_per_second=errors,
        error_ratio=error_ratio(errors, rps),
        is_rest=True,
    )
    return (*kept, summary)


def _by_rate(row: EndpointStats) -> tuple[float, str, str]:
    return (-(row.requests_per_second or 0.0), row.endpoint, row.method)


def _by_errors(row: EndpointStats) -> tuple[float, float, str, str]:
    return (-(row.errors_per_second or 0.0), *_by_rate(row))


def _by_p95(row: EndpointStats) -> tuple[bool, float, float, str, str]:
    return (row.p95 is None, -(row.p95 or 0.0), *_by_rate(row))


_SORT_KEYS: dict[str, Callable[[EndpointStats], tuple[Any, ...]]] = {
    "rate": _by_rate,
    "errors": _by_errors,
    "p95": _by_p95,
}
