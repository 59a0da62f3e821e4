"""Immutable snapshot of everything the screen and `--once` show.

The core builds one `Snapshot` per refresh; widgets render from it and compute
nothing. Every number that may be unknown is `None`, which the screen shows as
"no data" and the JSON output writes as `null`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProcessStats:
    """The monitored service's own process, from its `process_*` series."""

    cpu_cores: float | None = None
    """CPU use in cores (1.0 is one core busy), from `process_cpu_seconds_total`."""
    resident_memory_bytes: float | None = None
    open_fds: float | None = None
    max_fds: float | None = None
    start_time_seconds: float | None = None
    """Unix time the process started, from `process_start_time_seconds`."""


@dataclass(frozen=True)
class TargetStatus:
    """One monitored instance: reachability, health and its own headline numbers."""

    url: str
    up: bool | None = None
    """True when the last scrape of `/metrics` succeeded; None before the first."""
    live: bool | None = None
    ready: bool | None = None
    dependencies: dict[str, str] = field(default_factory=dict)
    ready_error: str | None = None
    """The `error` text of a 503 from `/health/ready`."""
    error: str | None = None
    """One line saying what is wrong with this target now, or None."""
    last_scrape_age: float | None = None
    """Seconds since `/metrics` last returned a parsable exposition."""
    last_health_age: float | None = None
    """Seconds since a health endpoint last returned a response."""
    restarted_age: float | None = None
    """Seconds since a restart was detected, while that is recent enough to mark."""
    requests_per_second: float | None = None
    error_ratio: float | None = None
    p95: float | None = None
    pool_usage: float | None = None
    process: ProcessStats = field(default_factory=ProcessStats)
    debug_remaining: float | None = None
    """Seconds of remote debug logging left, when haven-top turned it on."""


@dataclass(frozen=True)
class Traffic:
    requests_per_second: float | None = None
    errors_per_second: float | None = None
    """5xx responses per second."""
    error_ratio: float | None = None
    """5xx responses over all responses, 0.0 to 1.0."""
    by_status_class: dict[str, float] = field(default_factory=dict)
    """Requests per second keyed by "2xx", "3xx", "4xx", "5xx"."""


@dataclass(frozen=True)
class Latency:
    """Latency quantiles in seconds over the window."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


@dataclass(frozen=True)
class EndpointStats:
    method: str
    endpoint: str
    requests_per_second: float | None = None
    errors_per_second: float | None = None
    error_ratio: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    is_rest: bool = False
    """True for the row that sums the endpoints left out of a long table."""


@dataclass(frozen=True)
class DbPool:
    active: float | None = None
    size: float | None = None
    usage: float | None = None
    """active / size, 0.0 to 1.0, when the size is known."""


@dataclass(frozen=True)
class SystemStats:
    """The local host, from psutil."""

    cpu_percent: float | None = None
    cpu_percent_per_core: tuple[float, ...] = ()
    memory_used_bytes: float | None = None
    memory_total_bytes: float | None = None
    memory_percent: float | None = None
    swap_used_bytes: float | None = None
    swap_total_bytes: float | None = None
    load_average: tuple[float, float, float] | None = None
    disk_read_bytes_per_second: float | None = None
    disk_write_bytes_per_second: float | None = None
    net_recv_bytes_per_second: float | None = None
    net_sent_bytes_per_second: float | None = None


@dataclass(frozen=True)
class SelfStats:
    """haven-top's own process."""

    cpu_percent: float | None = None
    resident_memory_bytes: float | None = None


@dataclass(frozen=True)
class History:
    """Recent values for sparklines, oldest first, one per refresh; None is a gap."""

    requests_per_second: tuple[float | None, ...] = ()
    error_ratio: tuple[float | None, ...] = ()
    p95: tuple[float | None, ...] = ()
    db_usage: tuple[float | None, ...] = ()
    system_cpu_percent: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class Alert:
    name: str
    state: str
    """"inactive", "pending" or "firing"."""
    since: float | None = None
    """Unix time the alert entered its current state."""
    value: float | None = None
    summary: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    taken_at: float
    """Unix time the snapshot was built."""
    window_seconds: float
    targets: tuple[TargetStatus, ...] = ()
    traffic: Traffic = field(default_factory=Traffic)
    latency_seconds: Latency = field(default_factory=Latency)
    endpoints: tuple[EndpointStats, ...] = ()
    db_pool: DbPool = field(default_factory=DbPool)
    process: ProcessStats = field(default_factory=ProcessStats)
    system: SystemStats = field(default_factory=SystemStats)
    own: SelfStats = field(default_factory=SelfStats)
    history: History = field(default_factory=History)
    alerts: tuple[Alert, ...] = ()
    selected_target: str | None = None
    """The instance every pane is narrowed to, or None for the whole fleet."""
    metrics_age: float | None = None
    """Seconds since the last successful scrape of any target."""
    system_age: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Convert to plain JSON types; unknown numbers stay None (`null`)."""
        return dataclasses.asdict(self)
