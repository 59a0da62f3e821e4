"""Everything haven-top has learned about its targets, and the snapshots built from it.

The sources call the `record_*` methods, and the UI and `--once` call
`snapshot`. Counters are kept as reset-adjusted running totals per scrape (see
`haven_top.core.series`), so a snapshot costs one subtraction per series and
target, and the result is cached until a new scrape arrives.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from haven_top.core.aggregate import (
    WindowRates,
    endpoint_rows,
    sort_and_limit,
    sum_rates,
)
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
from haven_top.core.target import TargetState

ENDPOINT_SORT_KEYS = ("rate", "errors", "p95")

LONGEST_WINDOW_SECONDS = 900.0
RETENTION_MARGIN_SECONDS = 60.0
RESTART_MARK_SECONDS = 60.0
"""How long a target shows `restarted_age` after a restart was detected."""
HISTORY_LENGTH = 300
"""Sparkline values kept, one per scrape round."""


@dataclass(frozen=True)
class _View:
    """The numbers of one selection over one window, before sorting endpoints."""

    rates: WindowRates | None
    traffic: Traffic
    latency: Latency
    db_pool: DbPool
    process: ProcessStats

    @cached_property
    def rows(self) -> list[EndpointStats]:
        # Built on first use: per-target views only need their headline numbers.
        return endpoint_rows(self.rates) if self.rates is not None else []


class _Sparklines:
    def __init__(self, length: int) -> None:
        self.requests_per_second: deque[float | None] = deque(maxlen=length)
        self.error_ratio: deque[float | None] = deque(maxlen=length)
        self.p95: deque[float | None] = deque(maxlen=length)
        self.db_usage: deque[float | None] = deque(maxlen=length)

    def append(self, traffic: Traffic, latency: Latency, db_pool: DbPool) -> None:
        self.requests_per_second.append(traffic.requests_per_second)
        self.error_ratio.append(traffic.error_ratio)
        self.p95.append(latency.p95)
        self.db_usage.append(db_pool.usage)


class MonitorState:
    """Per-target sample history plus health, system and debug state.

    Not thread-safe: call it from one event loop or thread.
    """

    def __init__(
        self,
        targets: Sequence[str],
        *,
        pool_size: float | None = None,
        retention_seconds: float = LONGEST_WINDOW_SECONDS + RETENTION_MARGIN_SECONDS,
        history_length: int = HISTORY_LENGTH,
    ) -> None:
        """Track `targets` (base URLs); `pool_size` is used when a target has no
        `haven_db_pool_size` gauge. Scrapes older than `retention_seconds` are
        dropped, so no window can be longer."""
        self._targets = {
            url: TargetState(url, retention=retention_seconds, pool_size=pool_size)
            for url in dict.fromkeys(targets)
        }
        self._system = SystemStats()
        self._system_at: float | None = None
        self._own = SelfStats()
        self._sparklines: dict[str | None, _Sparklines] = {
            key: _Sparklines(history_length) for key in [None, *self._targets]
        }
        self._system_cpu: deque[float | None] = deque(maxlen=history_length)
        self._round_seen: set[str] = set()
        self._round_carry: set[str] = set()
        self._round_complete = False
        self._view_cache: dict[tuple[object, ...], _View] = {}
        self._endpoint_cache: tuple[object, tuple[EndpointStats, ...]] = (None, ())

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self._targets)

    def record_scrape(
        self, target: str, body: bytes, content_type: str | None, at: float
    ) -> list[str]:
        """Parse one `/metrics` body and store its samples at Unix time `at`.

        Returns one-line warnings, one per malformed line that was skipped.
        Raises `ExpositionError` when the body holds no usable exposition at all.
        """
        warnings = self._target(target).record_scrape(body, content_type, at)
        self._count_round(target)
        return warnings

    def record_scrape_failure(self, target: str, message: str, at: float) -> None:
        """Mark `target` down with a one-line reason (refused, timed out, garbage)."""
        self._target(target).record_failure(message)
        self._count_round(target)

    def record_health(
        self,
        target: str,
        at: float,
        *,
        live: bool | None,
        ready: bool | None,
        dependencies: dict[str, str] | None = None,
        ready_error: str | None = None,
        error: str | None = None,
    ) -> None:
        """Store the outcome of one poll of `/health/live` and `/health/ready`."""
        state = self._target(target)
        state.live = live
        state.ready = ready
        state.dependencies = dict(dependencies or {})
        state.ready_error = ready_error
        state.health_error = error
        if live is not None or ready is not None:
            state.last_health_at = at

    def record_system(self, stats: SystemStats, at: float) -> None:
        self._system = stats
        self._system_at = at

    def record_self(self, stats: SelfStats) -> None:
        self._own = stats

    def set_debug_until(self, target: str, until: float | None) -> None:
        """Remember when remote debug logging on `target` expires (None: off)."""
        self._target(target).debug_until = until

    def has_rates(self) -> bool:
        """True once every reachable target has two scrapes to compute rates from.

        False while any target has had no scrape attempt yet. Targets whose
        last scrape failed are not waited for, so all targets down gives True.
        """
        states = self._targets.values()
        if any(state.up is None for state in states):
            return False
        return all(state.scrapes >= 2 for state in states if state.up)

    def snapshot(
        self,
        now: float,
        window_seconds: float,
        *,
        selected_target: str | None = None,
        endpoint_sort: str = "rate",
        endpoint_limit: int | None = None,
    ) -> Snapshot:
        """Build the snapshot for the window ending at `now`.

        `endpoint_limit` keeps the top rows by `endpoint_sort` and sums the rest
        into one row with `is_rest=True`. When a scrape round has completed since
        the previous call, the sparklines get one value each, computed over this
        call's window.
        """
        _check_arguments(window_seconds, endpoint_sort)
        if selected_target is not None:
            self._target(selected_target)
        statuses = tuple(
            self._target_status(state, now, window_seconds)
            for state in self._targets.values()
        )
        if self._round_complete:
            self._append_sparklines(statuses, now, window_seconds)
        view = self._view(selected_target, now, window_seconds)
        endpoints = self._endpoints(view, endpoint_sort, endpoint_limit)
        return Snapshot(
            taken_at=now,
            window_seconds=window_seconds,
            targets=statuses,
            traffic=view.traffic,
            latency_seconds=view.latency,
            endpoints=endpoints,
            db_pool=view.db_pool,
            process=view.process,
            system=self._system,
            own=self._own,
            history=self._history(selected_target),
            selected_target=selected_target,
            metrics_age=self._metrics_age(selected_target, now),
            system_age=_age(now, self._system_at),
        )

    def fleet_figures(
        self, now: float, window_seconds: float
    ) -> tuple[Traffic, Latency]:
        """Return the whole fleet's traffic and latency over the window ending at
        `now`, for the alert rules; unlike `snapshot`, it appends no sparkline."""
        _check_arguments(window_seconds, "rate")
        view = self._view(None, now, window_seconds)
        return view.traffic, view.latency

    def _target(self, target: str) -> TargetState:
        state = self._targets.get(target)
        if state is None:
            known = ", ".join(self._targets) or "none"
            raise KeyError(f"unknown target {target!r}; known targets: {known}")
        return state

    def _count_round(self, target: str) -> None:
        """Mark a scrape round complete once every target reported, or one
        reported twice (a slow target must not stall the sparklines)."""
        if target in self._round_seen:
            self._round_carry.add(target)
            self._round_complete = True
            return
        self._round_seen.add(target)
        if len(self._round_seen) >= len(self._targets):
            self._round_complete = True

    def _append_sparklines(
        self, statuses: tuple[TargetStatus, ...], now: float, window_seconds: float
    ) -> None:
        fleet = self._view(None, now, window_seconds)
        self._sparklines[None].append(fleet.traffic, fleet.latency, fleet.db_pool)
        for url in self._targets:
            view = self._view(url, now, window_seconds)
            self._sparklines[url].append(view.traffic, view.latency, view.db_pool)
        self._system_cpu.append(self._system.cpu_percent)
        self._round_seen = self._round_carry
        self._round_carry = set()
        self._round_complete = False

    def _history(self, selected: str | None) -> History:
        lines = self._sparklines[selected]
        return History(
            requests_per_second=tuple(lines.requests_per_second),
            error_ratio=tuple(lines.error_ratio),
            p95=tuple(lines.p95),
            db_usage=tuple(lines.db_usage),
            system_cpu_percent=tuple(self._system_cpu),
        )

    def _selection(self, selected: str | None) -> list[TargetState]:
        if selected is None:
            return list(self._targets.values())
        return [self._targets[selected]]

    def _view(self, selected: str | None, now: float, window_seconds: float) -> _View:
        states = self._selection(selected)
        key = (
            selected,
            window_seconds,
            *(_state_key(s, now, window_seconds) for s in states),
        )
        view = self._view_cache.get(key)
        if view is None:
            view = _build_view(states, now, window_seconds)
            if len(self._view_cache) > 4 * len(self._sparklines):
                self._view_cache.clear()
            self._view_cache[key] = view
        return view

    def _endpoints(
        self, view: _View, sort_key: str, limit: int | None
    ) -> tuple[EndpointStats, ...]:
        if view.rates is None:
            return ()
        # The view itself is part of the key, so a new view always misses.
        key = (view, sort_key, limit)
        if self._endpoint_cache[0] != key:
            rows = sort_and_limit(view.rates, view.rows, sort_key, limit)
            self._endpoint_cache = (key, rows)
        return self._endpoint_cache[1]

    def _target_status(
        self, state: TargetState, now: float, window_seconds: float
    ) -> TargetStatus:
        view = self._view(state.url, now, window_seconds)
        restarted_age = _age(now, state.restarted_at)
        if restarted_age is not None and restarted_age > RESTART_MARK_SECONDS:
            restarted_age = None
        debug_remaining = None
        if state.debug_until is not None and state.debug_until > now:
            debug_remaining = state.debug_until - now
        return TargetStatus(
            url=state.url,
            up=state.up,
            live=state.live,
            ready=state.ready,
            dependencies=dict(state.dependencies),
            ready_error=state.ready_error,
            error=state.scrape_error if state.up is False else state.health_error,
            last_scrape_age=_age(now, state.last_scrape_at),
            last_health_age=_age(now, state.last_health_at),
            restarted_age=restarted_age,
            requests_per_second=view.traffic.requests_per_second,
            error_ratio=view.traffic.error_ratio,
            p95=view.latency.p95,
            pool_usage=view.db_pool.usage,
            process=view.process,
            debug_remaining=debug_remaining,
        )

    def _metrics_age(self, selected: str | None, now: float) -> float | None:
        times = [
            state.last_scrape_at
            for state in self._selection(selected)
            if state.last_scrape_at is not None
        ]
        return _age(now, max(times)) if times else None


def _check_arguments(window_seconds: float, endpoint_sort: str) -> None:
    if not window_seconds > 0:
        raise ValueError(f"invalid window {window_seconds!r}: expected seconds > 0")
    if endpoint_sort not in ENDPOINT_SORT_KEYS:
        choices = ", ".join(ENDPOINT_SORT_KEYS)
        raise ValueError(f"invalid endpoint sort {endpoint_sort!r}: use {choices}")


def _state_key(state: TargetState, now: float, window_seconds: float) -> object:
    current = state.current_record(now)
    return (
        state.url,
        state.window_key(now, window_seconds),
        current.seq if current is not None else None,
    )


def _build_view(states: list[TargetState], now: float, window_seconds: float) -> _View:
    windows = [state.window(now, window_seconds) for state in states]
    present = [rates for rates in windows if rates is not None]
    rates = sum_rates(present) if present else None
    if rates is None:
        traffic, latency = Traffic(), Latency()
    else:
        traffic, latency = rates.traffic(), rates.latency()
    return _View(
        rates=rates,
        traffic=traffic,
        latency=latency,
        db_pool=_db_pool(states, now),
        process=_process(states, now, rates),
    )


def _db_pool(states: list[TargetState], now: float) -> DbPool:
    """Sum active connections and pool sizes over the targets with current data.

    The usage is unknown when any of those targets has no known pool size.
    """
    active = 0.0
    size: float | None = 0.0
    seen = False
    for state in states:
        record = state.current_record(now)
        if record is None or record.gauges.db_connections is None:
            continue
        seen = True
        active += record.gauges.db_connections
        target_size = record.gauges.db_pool_size
        if target_size is None:
            target_size = state.pool_size
        size = None if size is None or target_size is None else size + target_size
    if not seen:
        return DbPool()
    usage = active / size if size else None
    return DbPool(active=active, size=size, usage=usage)


def _process(
    states: list[TargetState], now: float, rates: WindowRates | None
) -> ProcessStats:
    """Describe one target's process, or several added up.

    Memory, open and max fds and CPU cores are summed; the start time is the
    newest, so a recent restart of any target shows.
    """
    records = [state.current_record(now) for state in states]
    gauges = [record.gauges for record in records if record is not None]
    if not gauges:
        return ProcessStats()
    starts = [g.start_time_seconds for g in gauges if g.start_time_seconds is not None]
    return ProcessStats(
        cpu_cores=rates.cpu_cores if rates is not None else None,
        resident_memory_bytes=_sum_known(g.resident_memory_bytes for g in gauges),
        open_fds=_sum_known(g.open_fds for g in gauges),
        max_fds=_sum_known(g.max_fds for g in gauges),
        start_time_seconds=max(starts) if starts else None,
    )


def _sum_known(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def _age(now: float, at: float | None) -> float | None:
    if at is None:
        return None
    return max(0.0, now - at)
