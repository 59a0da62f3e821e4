"""Read a fleet from a Prometheus server instead of scraping it directly.

`PrometheusProvider` satisfies the app's `SnapshotProvider` protocol and fills
the same `Snapshot` as direct mode. Its queries go through prometheus-api-client,
which blocks, so every request runs in a worker thread and `snapshot()` only
reads what the last poll stored. A Prometheus server that cannot be reached is
shown as a target that is down.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from haven_top.core.snapshot import Alert, SelfStats, Snapshot, SystemStats
from haven_top.core.urls import redact_url
from haven_top.sources.prometheus_api import (
    PrometheusClient,
    PrometheusQueryError,
    PrometheusSettings,
    alerts_from_api,
)
from haven_top.sources.prometheus_snapshot import (
    HISTORY_POINTS,
    HistoryBuffer,
    SnapshotInputs,
    build_snapshot,
    history_point,
)
from haven_top.sources.promql import (
    InstanceReading,
    LabelMatcher,
    Scope,
    ScopeReading,
    history_queries,
    instant_queries,
    parse_selector,
    read_instances,
    read_scope,
)
from haven_top.sources.system import SelfSampler, SystemSampler

__all__ = [
    "PollResult",
    "PrometheusProvider",
    "PrometheusQueryError",
    "PrometheusSettings",
]

logger = logging.getLogger(__name__)

QUERY_THREADS = 4
"""Worker threads per provider; one poll sends about 15 requests."""
TARGET_ERRORS_SECONDS = 10.0
"""How long the scrape errors of down instances are reused before a new read."""


@dataclass(frozen=True)
class PollResult:
    """The results of one successful poll of Prometheus."""

    at: float
    """Unix time the instant queries were evaluated at."""
    scope: Scope
    instances: tuple[InstanceReading, ...]
    reading: ScopeReading
    target_errors: dict[str, str]
    """`lastError` of each instance that is down, from the targets API."""


class PrometheusProvider:
    """Snapshots of a fleet read from Prometheus, polled in worker threads.

    Each poll runs the instant queries of `promql.instant_queries` for the
    window and instance that the last `snapshot()` call requested. A new window
    or instance wakes the poller at once and refills the sparklines with range
    queries. Until that poll returns, a narrowed snapshot shows the instance's
    headline figures from the instances table.
    """

    def __init__(
        self,
        settings: PrometheusSettings,
        *,
        interval: float = 1.0,
        window_seconds: float = 60.0,
        history_points: int = HISTORY_POINTS,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"invalid interval {interval!r}; use seconds above 0")
        self.settings = settings
        self.interval = interval
        self.redacted_url = redact_url(settings.url)
        """The server's URL as messages and snapshots show it, without a password."""
        self._alert_selector = _alert_selector(settings.selector)
        self._history_points = history_points
        self._scope = Scope(settings.selector, window_seconds)
        self._client: PrometheusClient | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._last: PollResult | None = None
        self._failure: str | None = None
        self._polls = 0
        self._alerts: tuple[Alert, ...] = ()
        self._alerts_error: str | None = None
        self._history = HistoryBuffer(history_points)
        self._starts: dict[str, float] = {}
        self._restarts: dict[str, float] = {}
        self._errors_cache: tuple[frozenset[str], float, dict[str, str]] = (
            frozenset(),
            0.0,
            {},
        )
        self._system_sampler = SystemSampler()
        self._self_sampler = SelfSampler()
        self._system = SystemStats()
        self._system_at: float | None = None
        self._own = SelfStats()

    @property
    def progress(self) -> str:
        """One line about the connection while no data flows yet, else ""."""
        if self._last is not None and self._failure is None:
            return ""
        if self._failure is not None:
            return f"Prometheus: {self._failure}; retrying every {self.interval:g} s"
        return f"querying Prometheus at {self.redacted_url}"

    @property
    def polls(self) -> int:
        """Number of polls finished so far, successful or not."""
        return self._polls

    @property
    def last_poll_at(self) -> float | None:
        """Unix time the last successful poll's queries were evaluated at."""
        return self._last.at if self._last is not None else None

    @property
    def first_round_done(self) -> bool:
        """Whether one poll has ended, with data or with the reason it failed."""
        return self._polls > 0

    def has_data(self) -> bool:
        """True once a poll succeeded: Prometheus stores the rate history already."""
        return self._last is not None

    async def start(self) -> None:
        """Start polling in a background task of the running event loop."""
        if self._task is not None:
            return
        self._client = PrometheusClient(self.settings)
        self._executor = ThreadPoolExecutor(
            QUERY_THREADS, thread_name_prefix="haven-prometheus"
        )
        self._wake = asyncio.Event()
        # The first sample only sets the baseline of the host's CPU and I/O rates.
        self._system_sampler.sample()
        self._task = asyncio.create_task(self._run(), name="prometheus-poller")

    async def stop(self) -> None:
        """Stop polling and release the worker threads and connections."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    async def wait_for_poll(self, timeout: float) -> bool:
        """Wait until one more poll finishes; return False after `timeout` s."""
        target = self._polls + 1
        deadline = time.monotonic() + timeout
        while self._polls < target and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self._polls >= target

    def snapshot(
        self,
        *,
        window_seconds: float,
        selected_target: str | None = None,
        endpoint_sort: str = "rate",
        endpoint_limit: int | None = None,
    ) -> Snapshot:
        """Build a snapshot from the last poll; never waits for Prometheus."""
        wanted = Scope(self.settings.selector, window_seconds, selected_target)
        if wanted != self._scope:
            self._scope = wanted
            if self._wake is not None:
                self._wake.set()
        return build_snapshot(
            SnapshotInputs(
                now=time.time(),
                scope=wanted,
                last=self._last,
                failure=self._failure,
                prometheus_url=self.redacted_url,
                alerts=self._alerts,
                history=self._history.view(wanted),
                restarts=self._restarts,
                system=self._system,
                system_at=self._system_at,
                own=self._own,
            ),
            endpoint_sort=endpoint_sort,
            endpoint_limit=endpoint_limit,
        )

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            started = time.monotonic()
            self._wake.clear()
            try:
                await self._poll()
            except Exception:  # the poller must outlive any bug in one poll
                logger.exception("Prometheus poll failed unexpectedly")
            self._polls += 1
            remaining = self.interval - (time.monotonic() - started)
            if remaining > 0:
                await self._sleep_unless_woken(remaining)

    async def _sleep_unless_woken(self, seconds: float) -> None:
        # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that
        # arrives as the event is set, and then stop() would wait forever.
        assert self._wake is not None
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    async def _poll(self) -> None:
        scope = self._scope
        at = round(time.time(), 3)
        backfill = not self._history.covers(scope)
        queries = instant_queries(scope)
        calls: dict[str, Callable[[], Any]] = {
            key: _bind_query(self._client_or_fail(), promql, at)
            for key, promql in queries.items()
        }
        if backfill:
            calls.update(self._history_calls(scope, at))
        calls["alerts"] = self._client_or_fail().alerts
        calls["rules"] = self._client_or_fail().alert_rules
        calls["system"] = self._sample_local
        results = await self._gather(calls)
        failure = next(
            (results[key] for key in queries if isinstance(results[key], Exception)),
            None,
        )
        if failure is not None:
            self._record_failure(redact_url(str(failure)), scope, at)
            return
        await self._record_success(scope, at, results, backfill)

    def _client_or_fail(self) -> PrometheusClient:
        if self._client is None:
            raise RuntimeError("PrometheusProvider.start() was not called")
        return self._client

    def _history_calls(self, scope: Scope, at: float) -> dict[str, Callable[[], Any]]:
        # prometheus-api-client rounds both ends to whole seconds.
        end = int(at)
        start = end - math.ceil((self._history_points - 1) * self.interval)
        client = self._client_or_fail()
        return {
            f"history:{key}": _bind_range(client, promql, start, end, self.interval)
            for key, promql in history_queries(scope).items()
        }

    async def _gather(self, calls: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        futures = [
            loop.run_in_executor(self._executor, call) for call in calls.values()
        ]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        return dict(zip(calls, outcomes, strict=True))

    def _sample_local(self) -> None:
        self._system = self._system_sampler.sample()
        self._system_at = time.time()
        self._own = self._self_sampler.sample()

    def _record_failure(self, message: str, scope: Scope, at: float) -> None:
        if message != self._failure:
            logger.warning("Prometheus at %s failed: %s", self.redacted_url, message)
        self._failure = message
        self._history.append_gap(scope, self._system.cpu_percent)

    async def _record_success(
        self, scope: Scope, at: float, results: dict[str, Any], backfill: bool
    ) -> None:
        if self._failure is not None:
            logger.info("Prometheus at %s responds again", self.redacted_url)
        self._failure = None
        instances = read_instances(results)
        reading = read_scope(results)
        self._track_restarts(instances, at)
        self._record_alerts(results["alerts"], results["rules"])
        target_errors = await self._target_errors(instances)
        self._last = PollResult(at, scope, instances, reading, target_errors)
        if backfill:
            self._history.backfill(scope, _history_results(results), self.interval)
        point = history_point(self._last, scope)
        self._history.append(
            scope, point, self._system.cpu_percent, backfilled=backfill
        )

    def _record_alerts(self, active: Any, rules: Any) -> None:
        if isinstance(rules, Exception):
            rules = []
        if isinstance(active, Exception):
            if str(active) != self._alerts_error:
                logger.warning("Prometheus alerts API failed: %s", active)
            self._alerts_error = str(active)
            self._alerts = ()
            return
        self._alerts_error = None
        self._alerts = alerts_from_api(active, rules, self._alert_selector)

    async def _target_errors(
        self, instances: tuple[InstanceReading, ...]
    ) -> dict[str, str]:
        # The targets API lists every target of the server, which can be large,
        # so it is read only when the set of down instances changes, or again
        # after TARGET_ERRORS_SECONDS while some stay down.
        down = frozenset(r.instance for r in instances if r.up is False)
        if not down:
            self._errors_cache = (down, 0.0, {})
            return {}
        cached_down, fetched_at, cached = self._errors_cache
        if (
            down == cached_down
            and time.monotonic() - fetched_at < TARGET_ERRORS_SECONDS
        ):
            return cached
        results = await self._gather({"targets": self._client_or_fail().active_targets})
        targets = results["targets"]
        errors: dict[str, str] = {}
        if not isinstance(targets, Exception):
            for target in targets:
                instance = target.get("labels", {}).get("instance")
                if instance in down and target.get("lastError"):
                    errors[instance] = str(target["lastError"])
        self._errors_cache = (down, time.monotonic(), errors)
        return errors

    def _track_restarts(
        self, instances: tuple[InstanceReading, ...], at: float
    ) -> None:
        for reading in instances:
            start = reading.gauges.get("process_start_time_seconds")
            if start is None:
                continue
            known = self._starts.get(reading.instance)
            if known is not None and start > known:
                self._restarts[reading.instance] = at
                logger.info("Instance %s restarted", reading.instance)
            self._starts[reading.instance] = start


def _alert_selector(selector: str) -> tuple[LabelMatcher, ...]:
    try:
        return parse_selector(selector)
    except ValueError as exc:
        # Prometheus then rejects the selector in every query, and the snapshot
        # shows its error. NOTE: a selector that Prometheus accepts and this
        # parser does not (one with a PromQL comment) leaves alerts unfiltered.
        logger.warning("Alerts are not filtered by the selector: %s", exc)
        return ()


def _bind_query(client: PrometheusClient, promql: str, at: float) -> Callable[[], Any]:
    return lambda: client.query(promql, at)


def _bind_range(
    client: PrometheusClient, promql: str, start: int, end: int, step: float
) -> Callable[[], Any]:
    return lambda: (end, client.query_range(promql, start, end, step))


def _history_results(results: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key.removeprefix("history:"): value
        for key, value in results.items()
        if key.startswith("history:")
    }
