"""Sample the local host and haven-top's own process with psutil.

Rates (CPU, disk and network I/O) are computed between two calls of
`sample()`, so the first sample of a sampler has them as None.
"""

from __future__ import annotations

import logging
import os
import time

import psutil

from haven_top.core.snapshot import SelfStats, SystemStats

logger = logging.getLogger(__name__)


class SystemSampler:
    """Host CPU per core, memory, swap, load, and disk and network I/O rates."""

    def __init__(self) -> None:
        self._last_at: float | None = None
        self._last_cpu: list[tuple[float, float]] | None = None
        self._last_disk: tuple[int, int] | None = None
        self._last_net: tuple[int, int] | None = None

    def sample(self) -> SystemStats:
        """Read the host's counters now; rates cover the time since the last call."""
        now = time.monotonic()
        elapsed = None if self._last_at is None else now - self._last_at
        cpu = _cpu_times()
        disk = _disk_bytes()
        net = _net_bytes()
        per_core = _cpu_percents(self._last_cpu, cpu)
        disk_rates = _rates(self._last_disk, disk, elapsed)
        net_rates = _rates(self._last_net, net, elapsed)
        self._last_at, self._last_cpu = now, cpu
        self._last_disk, self._last_net = disk, net

        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        return SystemStats(
            cpu_percent=sum(per_core) / len(per_core) if per_core else None,
            cpu_percent_per_core=per_core,
            memory_used_bytes=float(memory.used),
            memory_total_bytes=float(memory.total),
            memory_percent=float(memory.percent),
            swap_used_bytes=float(swap.used),
            swap_total_bytes=float(swap.total),
            load_average=_load_average(),
            disk_read_bytes_per_second=disk_rates[0],
            disk_write_bytes_per_second=disk_rates[1],
            net_recv_bytes_per_second=net_rates[0],
            net_sent_bytes_per_second=net_rates[1],
        )


class SelfSampler:
    """haven-top's own CPU use and resident memory."""

    def __init__(self) -> None:
        self._process = psutil.Process(os.getpid())
        self._process.cpu_percent(interval=None)

    def sample(self) -> SelfStats:
        """Return CPU percent since the last call (100 is one core) and RSS."""
        with self._process.oneshot():
            cpu = self._process.cpu_percent(interval=None)
            rss = self._process.memory_info().rss
        return SelfStats(cpu_percent=cpu, resident_memory_bytes=float(rss))


def _cpu_times() -> list[tuple[float, float]]:
    """Busy and total CPU seconds of each core since boot.

    Linux already counts guest time inside user time, so it is left out of the
    total. Idle and I/O wait are the time a core was not busy.
    """
    times = []
    for core in psutil.cpu_times(percpu=True):
        total = sum(core)
        total -= getattr(core, "guest", 0.0) + getattr(core, "guest_nice", 0.0)
        idle = core.idle + getattr(core, "iowait", 0.0)
        times.append((total - idle, total))
    return times


def _cpu_percents(
    before: list[tuple[float, float]] | None, after: list[tuple[float, float]]
) -> tuple[float, ...]:
    """Busy percent of each core between two readings; () without a first one."""
    if before is None or len(before) != len(after):
        return ()
    percents = []
    for old, new in zip(before, after, strict=True):
        busy = new[0] - old[0]
        total = new[1] - old[1]
        percent = 100.0 * busy / total if total > 0 else 0.0
        percents.append(min(100.0, max(0.0, percent)))
    return tuple(percents)


def _disk_bytes() -> tuple[int, int] | None:
    counters = psutil.disk_io_counters(perdisk=False)
    if counters is None:
        return None
    return counters.read_bytes, counters.write_bytes


def _net_bytes() -> tuple[int, int] | None:
    counters = psutil.net_io_counters(pernic=False)
    if counters is None:
        return None
    return counters.bytes_recv, counters.bytes_sent


def _rates(
    before: tuple[int, int] | None, after: tuple[int, int] | None, elapsed: float | None
) -> tuple[float | None, float | None]:
    """Per-second increase of two counters; None where a counter went backwards."""
    if before is None or after is None or not elapsed or elapsed <= 0:
        return None, None
    first = _rate(before[0], after[0], elapsed)
    second = _rate(before[1], after[1], elapsed)
    return first, second


def _rate(before: int, after: int, elapsed: float) -> float | None:
    return (after - before) / elapsed if after >= before else None


def _load_average() -> tuple[float, float, float] | None:
    try:
        one, five, fifteen = psutil.getloadavg()
    except (OSError, AttributeError):
        return None
    return (one, five, fifteen)
