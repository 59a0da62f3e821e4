"""Stored state of one monitored instance, and its rates over a window."""

from __future__ import annotations

import math

from haven_top.core.aggregate import (
    BucketKey,
    CounterKeys,
    EndpointKey,
    RequestKey,
    WindowRates,
    window_rates,
)
from haven_top.core.exposition import Exposition, ExpositionParser, Series
from haven_top.core.quantile import parse_le
from haven_top.core.series import CounterTable, Gauges, RecordHistory, ScrapeRecord

REQUESTS = "haven_requests_total"
BUCKETS = "haven_request_duration_seconds_bucket"
COUNTS = "haven_request_duration_seconds_count"
CPU_SECONDS = "process_cpu_seconds_total"

START_TIME_TOLERANCE_SECONDS = 0.5
"""A larger change of `process_start_time_seconds` means a new process."""
STALE_MIN_SECONDS = 10.0
STALE_INTERVALS = 4.0
"""A target with no scrape for this many mean scrape intervals (and at least
`STALE_MIN_SECONDS`) has no current numbers, so its rates cannot freeze."""


class TargetState:
    """Scrape history, restart marks, health and debug state of one target.

    Not thread-safe.
    """

    def __init__(self, url: str, *, retention: float, pool_size: float | None) -> None:
        self.url = url
        self.pool_size = pool_size
        self.parser = ExpositionParser()
        self.requests: CounterTable[RequestKey] = CounterTable(_request_key)
        self.buckets: CounterTable[BucketKey] = CounterTable(_bucket_key)
        self.counts: CounterTable[EndpointKey] = CounterTable(_endpoint_key)
        self.cpu: CounterTable[str] = CounterTable(_whole_series)
        self.history = RecordHistory(retention)
        self.scrapes = 0
        self.up: bool | None = None
        self.scrape_error: str | None = None
        self.last_scrape_at: float | None = None
        self.restarted_at: float | None = None
        self.live: bool | None = None
        self.ready: bool | None = None
        self.dependencies: dict[str, str] = {}
        self.ready_error: str | None = None
        self.health_error: str | None = None
        self.last_health_at: float | None = None
        self.debug_until: float | None = None
        self._cached_window: tuple[tuple[int, int], WindowRates | None] | None = None

    def record_scrape(
        self, body: bytes | str, content_type: str | None, at: float
    ) -> list[str]:
        """Parse and store one body, or raise `ExpositionError` and store nothing."""
        exposition = self.parser.parse(body, content_type)
        self._store(exposition, at)
        return exposition.warnings

    def record_failure(self, message: str) -> None:
        self.up = False
        self.scrape_error = message

    def current_record(self, now: float) -> ScrapeRecord | None:
        """Return the newest scrape at or before `now`, unless the target is down
        or that scrape is stale."""
        if self.up is not True:
            return None
        last = self.history.last_at_or_before(now)
        if last is None or now - last.at > self._stale_after():
            return None
        return last

    def window_key(self, now: float, window_seconds: float) -> tuple[int, int] | None:
        """Return the (first, last) scrape numbers of the window, or None."""
        records = self._window_records(now, window_seconds)
        if records is None:
            return None
        return (records[0].seq, records[1].seq)

    def window(self, now: float, window_seconds: float) -> WindowRates | None:
        """Return the rates over the window ending at `now`.

        Returns None without two current scrapes in the window. The result is
        cached until the window's first or last scrape changes.
        """
        records = self._window_records(now, window_seconds)
        if records is None:
            return None
        first, last = records
        key = (first.seq, last.seq)
        if self._cached_window is not None and self._cached_window[0] == key:
            return self._cached_window[1]
        keys = CounterKeys(self.requests.keys, self.buckets.keys, self.counts.keys)
        rates = window_rates(first, last, keys)
        self._cached_window = (key, rates)
        return rates

    def _window_records(
        self, now: float, window_seconds: float
    ) -> tuple[ScrapeRecord, ScrapeRecord] | None:
        last = self.current_record(now)
        if last is None:
            return None
        first = self.history.first_at_or_after(now - window_seconds)
        if first is None or first.seq >= last.seq:
            return None
        return first, last

    def _store(self, exposition: Exposition, at: float) -> None:
        gauges = read_gauges(exposition)
        previous = self.history.latest
        restarted = previous is not None and _new_process(
            previous.gauges.start_time_seconds, gauges.start_time_seconds
        )
        reset = self._update_tables(exposition, restarted=restarted)
        if restarted or reset:
            self.restarted_at = at

        if previous is not None and at < previous.at:
            # Records must stay in time order for the window search.
            at = previous.at
        self.history.append(
            ScrapeRecord(
                seq=self.scrapes,
                at=at,
                requests=self.requests.copy_totals(),
                buckets=self.buckets.copy_totals(),
                counts=self.counts.copy_totals(),
                cpu_seconds=self.cpu.copy_totals(),
                gauges=gauges,
            )
        )
        self.scrapes += 1
        self.up = True
        self.scrape_error = None
        self.last_scrape_at = at

    def _update_tables(self, exposition: Exposition, *, restarted: bool) -> bool:
        """Add the scrape to every counter table and return whether one reset."""
        baseline = self.scrapes == 0
        reset = False
        for table, name in (
            (self.requests, REQUESTS),
            (self.buckets, BUCKETS),
            (self.counts, COUNTS),
            (self.cpu, CPU_SECONDS),
        ):
            group = exposition.get(name)
            reset |= table.update(group, baseline=baseline, restarted=restarted)
        return reset

    def _stale_after(self) -> float:
        interval = self.history.mean_interval() or 0.0
        return max(STALE_MIN_SECONDS, STALE_INTERVALS * interval)


def read_gauges(exposition: Exposition) -> Gauges:
    """Read the gauges haven-top shows. A gauge with several series is summed."""
    return Gauges(
        db_connections=_sum_of(exposition, "haven_db_connections"),
        db_pool_size=_sum_of(exposition, "haven_db_pool_size"),
        resident_memory_bytes=_first_of(exposition, "process_resident_memory_bytes"),
        open_fds=_first_of(exposition, "process_open_fds"),
        max_fds=_first_of(exposition, "process_max_fds"),
        start_time_seconds=_first_of(exposition, "process_start_time_seconds"),
    )


def _sum_of(exposition: Exposition, name: str) -> float | None:
    values = [value for value in exposition.get(name).values if not math.isnan(value)]
    if not values:
        return None
    return math.fsum(values)


def _first_of(exposition: Exposition, name: str) -> float | None:
    value = exposition.first_value(name)
    if value is None or math.isnan(value):
        return None
    return value


def _new_process(before: float | None, after: float | None) -> bool:
    if before is None or after is None:
        return False
    return abs(after - before) > START_TIME_TOLERANCE_SECONDS


def status_class(status: str) -> str:
    """Return "2xx" for "200" and so on, or "other" for a non-HTTP status."""
    if len(status) == 3 and status.isdigit() and status[0] in "12345":
        return f"{status[0]}xx"
    return "other"


def _request_key(series: Series) -> RequestKey:
    labels = series.labels
    status = status_class(labels.get("status", ""))
    return (labels.get("method", ""), labels.get("endpoint", ""), status)


def _bucket_key(series: Series) -> BucketKey | None:
    labels = series.labels
    bound = parse_le(labels.get("le", ""))
    if bound is None:
        return None
    return (labels.get("method", ""), labels.get("endpoint", ""), bound)


def _endpoint_key(series: Series) -> EndpointKey:
    return (series.labels.get("method", ""), series.labels.get("endpoint", ""))


def _whole_series(series: Series) -> str:
    return ""
