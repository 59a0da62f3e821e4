"""Poll every target and the local host into one `MonitorState`.

The `Collector` is the app's `SnapshotProvider`: `start()` launches one task per
target for `/metrics`, one per target for the health endpoints and one for
psutil, all in the running event loop. Each task re-arms its next poll only when
the previous one has ended. Collection never pauses: pausing is the screen's
business, and the state keeps filling underneath.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import httpx

from haven_top.core.alerts import AlertEvaluator, AlertRule, measure_from_state
from haven_top.core.exposition import ExpositionError
from haven_top.core.snapshot import Snapshot
from haven_top.core.state import MonitorState
from haven_top.core.urls import redact_url
from haven_top.sources.health import HealthResult, check_health
from haven_top.sources.scraper import (
    ScrapeResult,
    Timeouts,
    join_url,
    make_client,
    poll_forever,
    scrape,
    shown_url,
)
from haven_top.sources.system import SelfSampler, SystemSampler

logger = logging.getLogger(__name__)

REQUESTS_PER_POLL = 3
"""Concurrent requests of one target in one interval: metrics, live and ready."""
STOP_ATTEMPTS = 5
STOP_WAIT_SECONDS = 1.0
"""Seconds `stop()` waits for cancelled tasks before it cancels them again."""


class Collector:
    """Background polling of targets and host, and snapshots of what it gathered."""

    def __init__(
        self,
        targets: Sequence[str],
        *,
        interval: float = 1.0,
        timeouts: Timeouts | None = None,
        pool_size: float | None = None,
        alert_rules: Sequence[AlertRule] | None = None,
    ) -> None:
        self.interval = interval
        self.timeouts = timeouts or Timeouts(
            total=0.8 * interval, connect=0.8 * interval
        )
        self.state = MonitorState(targets, pool_size=pool_size)
        self.alerts = (
            AlertEvaluator() if alert_rules is None else AlertEvaluator(alert_rules)
        )
        """The direct-mode alert rules, evaluated once per interval."""
        self._targets = tuple(targets)
        self._shown = {target: redact_url(target) for target in self._targets}
        """Each target as snapshots show it, with its URL's password hidden."""
        self._by_shown = {shown: target for target, shown in self._shown.items()}
        self._hides_passwords = self._shown != {t: t for t in self._targets}
        self._scraped: dict[str, bool] = {}
        """Target to whether its last scrape succeeded, once it had one."""
        self._health_checked: set[str] = set()
        self._last_error: dict[tuple[str, str], str | None] = {}
        self._system = SystemSampler()
        self._self = SelfSampler()
        self._client: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def targets(self) -> tuple[str, ...]:
        return self._targets

    async def start(self) -> None:
        """Begin polling in tasks of the running event loop; returns at once."""
        if self._tasks:
            return
        connections = max(10, REQUESTS_PER_POLL * len(self._targets))
        self._client = make_client(
            self.timeouts,
            max_connections=connections,
            keepalive_seconds=max(5.0, 3 * self.interval),
        )
        polls: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("system", self._sample_host),
            ("alerts", self._evaluate_alerts),
        ]
        for target in self._targets:
            polls.append((f"scrape {target}", self._poll_scrape(target)))
            polls.append((f"health {target}", self._poll_health(target)))
        for name, poll in polls:
            task = asyncio.create_task(poll_forever(poll, self.interval), name=name)
            self._tasks.append(task)

    async def stop(self) -> None:
        """Cancel the polling tasks, wait for them to end and close connections."""
        pending = set(self._tasks)
        self._tasks = []
        for _ in range(STOP_ATTEMPTS):
            if not pending:
                break
            # A library may swallow one cancellation (asyncio.wait_for before
            # Python 3.12 does when the awaited call ends at the same moment),
            # so cancel again until every task has ended.
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=STOP_WAIT_SECONDS)
        if pending:
            names = ", ".join(task.get_name() for task in pending)
            logger.warning("polling tasks did not stop when cancelled: %s", names)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def snapshot(
        self,
        *,
        window_seconds: float,
        selected_target: str | None = None,
        endpoint_sort: str = "rate",
        endpoint_limit: int | None = None,
    ) -> Snapshot:
        """Build a snapshot of the window ending now from the state.

        Target URLs in the snapshot have their passwords hidden; such a URL
        is accepted back as `selected_target`.
        """
        now = time.time()
        # Evaluated here too, so the alerts match the numbers of this snapshot.
        self._evaluate_alerts_at(now)
        if selected_target is not None:
            selected_target = self._by_shown.get(selected_target, selected_target)
        snapshot = self.state.snapshot(
            now,
            window_seconds,
            selected_target=selected_target,
            endpoint_sort=endpoint_sort,
            endpoint_limit=endpoint_limit,
        )
        snapshot = dataclasses.replace(snapshot, alerts=self.alerts.alerts())
        return self._with_shown_urls(snapshot)

    def _with_shown_urls(self, snapshot: Snapshot) -> Snapshot:
        if not self._hides_passwords:
            return snapshot
        targets = tuple(
            dataclasses.replace(status, url=self._shown.get(status.url, status.url))
            for status in snapshot.targets
        )
        selected = snapshot.selected_target
        if selected is not None:
            selected = self._shown.get(selected, selected)
        return dataclasses.replace(snapshot, targets=targets, selected_target=selected)

    @property
    def progress(self) -> str:
        """One line while some target has neither answered nor failed yet, else ""."""
        total = len(self._targets)
        if len(self._scraped) >= total:
            return ""
        answered = sum(self._scraped.values())
        failed = len(self._scraped) - answered
        noun = "target" if total == 1 else "targets"
        line = f"connecting to {total} {noun}: {answered} answered"
        return line + (f", {failed} failed" if failed else "") + "..."

    @property
    def first_round_done(self) -> bool:
        """Whether every target has had one scrape and one health poll end."""
        return len(self._scraped) >= len(self._targets) and len(
            self._health_checked
        ) >= len(self._targets)

    @property
    def answered_targets(self) -> tuple[str, ...]:
        """Targets whose last scrape returned a usable exposition."""
        return tuple(target for target, ok in self._scraped.items() if ok)

    async def _evaluate_alerts(self) -> None:
        self._evaluate_alerts_at(time.time())

    def _evaluate_alerts_at(self, now: float) -> None:
        try:
            self.alerts.evaluate(now, measure_from_state(self.state, now))
        except Exception:
            logger.exception("evaluating the alert rules failed unexpectedly")

    def _poll_scrape(self, target: str) -> Callable[[], Awaitable[None]]:
        async def poll() -> None:
            assert self._client is not None
            try:
                self.record_scrape(await scrape(self._client, target, self.timeouts))
            except Exception:
                # A bug in parsing or the state must not end this target's polls.
                logger.exception("scraping %s failed unexpectedly", self._shown[target])

        return poll

    def _poll_health(self, target: str) -> Callable[[], Awaitable[None]]:
        async def poll() -> None:
            assert self._client is not None
            try:
                result = await check_health(self._client, target, self.timeouts)
                self.record_health(result)
            except Exception:
                logger.exception(
                    "health check of %s failed unexpectedly", self._shown[target]
                )

        return poll

    async def _sample_host(self) -> None:
        try:
            self.state.record_system(self._system.sample(), time.time())
            self.state.record_self(self._self.sample())
        except Exception:
            logger.exception("sampling the local host failed unexpectedly")

    def record_scrape(self, result: ScrapeResult) -> None:
        """Store one scrape result in the state, or the reason it failed."""
        target = result.target
        error = result.error
        if error is None and result.body is not None:
            try:
                warnings = self.state.record_scrape(
                    target, result.body, result.content_type, result.at
                )
            except ExpositionError as exc:
                error = describe_exposition_error(target, exc)
            else:
                if warnings:
                    shown = self._shown.get(target, target)
                    logger.debug("%s: skipped %d bad lines", shown, len(warnings))
        if error is not None:
            self.state.record_scrape_failure(target, error, result.at)
        self._scraped[target] = error is None
        self._log_change("scrape", target, error)

    def record_health(self, result: HealthResult) -> None:
        """Store one health poll in the state."""
        self.state.record_health(
            result.target,
            result.at,
            live=result.live,
            ready=result.ready,
            dependencies=result.dependencies,
            ready_error=result.ready_error,
            error=result.error,
        )
        self._health_checked.add(result.target)
        self._log_change("health", result.target, result.error)

    def _log_change(self, kind: str, target: str, error: str | None) -> None:
        # Only changes are logged, so a target that stays down logs once.
        previous = self._last_error.get((kind, target), "")
        if error == previous:
            return
        self._last_error[(kind, target)] = error
        if error is not None:
            logger.warning("%s failed: %s", kind, error)
        elif previous:
            logger.info("%s of %s succeeds again", kind, redact_url(target))


def describe_exposition_error(target: str, exc: ExpositionError) -> str:
    """Explain a `/metrics` body that contains no usable samples, in one line."""
    url = shown_url(join_url(target, "/metrics"))
    return (
        f"{url}: {exc}; check that the target is the base URL of a Haven service, "
        "whose /metrics serves Prometheus text"
    )
