"""Per-target history of counters as reset-adjusted running totals.

Each counter series gets a running total that grows by the counter's increase
at every scrape, resets included (see `haven_top.core.rates`). The increase of
a series over any window is then the difference between its totals at the
window's first and last scrape. Each scrape stores a copy of the totals, so a
snapshot costs one subtraction per series, however long the window is.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from haven_top.core.exposition import SampleGroup, Series

Key = TypeVar("Key", bound=Hashable)

_IGNORED = -1


class CounterTable(Generic[Key]):
    """Reset-adjusted running totals of one counter family on one target.

    Columns are keyed by series text and never removed. A series that
    disappears keeps its total, and when it comes back, its value is compared
    with the last one seen.
    """

    def __init__(self, describe: Callable[[Series], Key | None]) -> None:
        self._describe = describe
        self._columns: dict[str, int] = {}
        self.keys: list[Key] = []
        """The key `describe` gave each column, in column order."""
        self._last: list[float] = []
        self.totals = array("d")

    def update(self, group: SampleGroup, *, baseline: bool, restarted: bool) -> bool:
        """Add one scrape's samples to the totals and return whether any series reset.

        `baseline` marks the target's first scrape, whose values are the starting
        point. A series first seen in a later scrape is new since the previous
        scrape, so it is counted from zero. `restarted` means the process
        restarted, so every counter began again at zero.
        """
        if restarted:
            self._last = [0.0] * len(self._last)
        columns = self._columns
        last = self._last
        totals = self.totals
        reset = False
        for series, value in zip(group.series, group.values, strict=True):
            column = columns.get(series.text)
            if column is None:
                column = self._add_column(series)
            if column == _IGNORED or value != value:  # Only NaN is unequal to itself.
                continue
            if baseline and last[column] != last[column]:
                last[column] = value
            previous = last[column]
            if previous != previous:
                previous = 0.0
            if value >= previous:
                totals[column] += value - previous
            else:
                totals[column] += value
                reset = True
            last[column] = value
        return reset

    def copy_totals(self) -> array[float]:
        return array("d", self.totals)

    def _add_column(self, series: Series) -> int:
        key = self._describe(series)
        if key is None:
            self._columns[series.text] = _IGNORED
            return _IGNORED
        column = len(self.keys)
        self._columns[series.text] = column
        self.keys.append(key)
        self._last.append(float("nan"))
        self.totals.append(0.0)
        return column


def total_deltas(first: array[float], last: array[float]) -> list[float]:
    """Return per-column increases from `first` to `last` totals of one table.

    Columns added after `first` was taken had a total of zero then.
    """
    deltas = [after - before for before, after in zip(first, last, strict=False)]
    deltas.extend(last[len(first) :])
    return deltas


class Gauges(NamedTuple):
    """Gauge values of one scrape; None where the series is missing."""

    db_connections: float | None = None
    db_pool_size: float | None = None
    resident_memory_bytes: float | None = None
    open_fds: float | None = None
    max_fds: float | None = None
    start_time_seconds: float | None = None


@dataclass(frozen=True)
class ScrapeRecord:
    """Counter totals and gauges from one successful scrape of one target."""

    seq: int
    """Scrape number on its target, counted from 0, so unique per target."""
    at: float
    requests: array[float]
    buckets: array[float]
    counts: array[float]
    cpu_seconds: array[float]
    gauges: Gauges


class RecordHistory:
    """Time-ordered scrape records of one target, thinned with age.

    Records from the last `dense_seconds` are all kept. Older ones are kept at
    most one per `coarse_step` seconds, and records older than `retention`
    seconds are dropped. A window that starts in the thinned part therefore
    starts up to `coarse_step` seconds late. Its rate stays exact for the span
    it covers, because totals are cumulative.
    """

    def __init__(
        self, retention: float, dense_seconds: float = 120.0, coarse_step: float = 5.0
    ) -> None:
        self.retention = retention
        self.dense_seconds = dense_seconds
        self.coarse_step = coarse_step
        self._coarse: list[ScrapeRecord] = []
        self._coarse_times: list[float] = []
        self._dense: list[ScrapeRecord] = []
        self._dense_times: list[float] = []

    def __len__(self) -> int:
        return len(self._coarse) + len(self._dense)

    @property
    def latest(self) -> ScrapeRecord | None:
        return self._dense[-1] if self._dense else None

    def append(self, record: ScrapeRecord) -> None:
        """Add the newest record, then thin and drop the old ones."""
        self._dense.append(record)
        self._dense_times.append(record.at)
        self._thin(record.at - self.dense_seconds)
        self._drop_before(record.at - self.retention)

    def first_at_or_after(self, start: float) -> ScrapeRecord | None:
        index = bisect_left(self._coarse_times, start)
        if index < len(self._coarse):
            return self._coarse[index]
        index = bisect_left(self._dense_times, start)
        if index < len(self._dense):
            return self._dense[index]
        return None

    def last_at_or_before(self, end: float) -> ScrapeRecord | None:
        index = bisect_right(self._dense_times, end)
        if index > 0:
            return self._dense[index - 1]
        index = bisect_right(self._coarse_times, end)
        if index > 0:
            return self._coarse[index - 1]
        return None

    def mean_interval(self) -> float | None:
        """Return the mean time between the recent scrapes, or None with one."""
        if len(self._dense) < 2:
            return None
        return (self._dense_times[-1] - self._dense_times[0]) / (len(self._dense) - 1)

    def _thin(self, dense_start: float) -> None:
        moved = 0
        # The newest record always stays dense, so `latest` is never None.
        while moved < len(self._dense) - 1 and self._dense_times[moved] < dense_start:
            record = self._dense[moved]
            if not self._coarse or record.at - self._coarse[-1].at >= self.coarse_step:
                self._coarse.append(record)
                self._coarse_times.append(record.at)
            moved += 1
        if moved:
            del self._dense[:moved]
            del self._dense_times[:moved]

    def _drop_before(self, cutoff: float) -> None:
        index = bisect_left(self._coarse_times, cutoff)
        if index:
            del self._coarse[:index]
            del self._coarse_times[:index]
