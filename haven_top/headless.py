"""`haven-top --once`: collect until rates can be computed, print one snapshot, exit.

The exit status is 0 when every target is up, live and ready and no alert
fires, and 1 otherwise. The JSON output is the snapshot without its history;
unknown numbers are `null`. The text output shows what a target sent (errors,
dependencies, endpoint names) with control characters made visible, as the
dashboard does, and no URL shows its password.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from haven_top import __version__
from haven_top.core.sanitize import visible
from haven_top.core.snapshot import Snapshot, TargetStatus
from haven_top.core.urls import redact_url
from haven_top.sources.collector import Collector

if TYPE_CHECKING:
    from haven_top.sources.prometheus import PrometheusProvider

EXTRA_WAIT_SECONDS = 3.0
"""Slack added to the wait for two scrapes, for a service that is slow to start."""
POLL_SECONDS = 0.05
"""How often the wait checks whether enough data has arrived."""


def wait_seconds(interval: float, timeout: float) -> float:
    """Return how long `--once` waits for two scrapes of every reachable target."""
    return 2 * interval + 2 * timeout + EXTRA_WAIT_SECONDS


async def collect_snapshot(
    collector: Collector | PrometheusProvider,
    *,
    window_seconds: float,
    wait: float,
    progress: ProgressLine | None = None,
) -> tuple[Snapshot, bool]:
    """Run `collector` until it has rates or `wait` seconds pass; then snapshot.

    Returns the snapshot and whether rates were available in time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    await collector.start()
    try:
        complete = False
        while loop.time() < deadline:
            complete = collector.first_round_done and _has_rates(collector)
            if complete:
                break
            if progress is not None:
                progress.show(collector.progress or "waiting for a second scrape...")
            await asyncio.sleep(POLL_SECONDS)
        snapshot = collector.snapshot(window_seconds=window_seconds)
    finally:
        if progress is not None:
            progress.clear()
        await collector.stop()
    return snapshot, complete


def _has_rates(collector: Collector | PrometheusProvider) -> bool:
    # Prometheus already holds the rate history, so one poll is enough there.
    state = getattr(collector, "state", None)
    return state is None or state.has_rates()


def exit_status(snapshot: Snapshot, *, health_polled: bool = True) -> int:
    """Return 0 when there are targets, each is up, live and ready, and no
    alert fires; else 1.

    Up means the last scrape of `/metrics` returned samples, so a target whose
    health endpoints return 200 but whose metrics are garbage fails. Pass
    `health_polled=False` when the health endpoints were not polled (read
    through Prometheus): then each target must only be up.
    """
    if not snapshot.targets:
        return 1
    if any(alert.state == "firing" for alert in snapshot.alerts):
        return 1
    if not all(t.up is True for t in snapshot.targets):
        return 1
    if not health_polled:
        return 0
    healthy = all(t.live is True and t.ready is True for t in snapshot.targets)
    return 0 if healthy else 1


class ProgressLine:
    """A status line on standard error: redrawn in place on a terminal, else
    written once per distinct message."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._is_tty = stream.isatty()
        self._last = ""

    def show(self, message: str) -> None:
        if message == self._last:
            return
        self._last = message
        if self._is_tty:
            self._stream.write(f"\r\x1b[Khaven-top: {message}")
        else:
            self._stream.write(f"haven-top: {message}\n")
        self._stream.flush()

    def clear(self) -> None:
        if self._is_tty and self._last:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
        self._last = ""


def snapshot_document(snapshot: Snapshot) -> dict[str, Any]:
    """Return the `--format json` document: the snapshot without its history."""
    data = snapshot.to_dict()
    for target in data["targets"]:
        target["url"] = redact_url(target["url"])
    document = {
        "haven_top_version": __version__,
        "taken_at": data["taken_at"],
        "window_seconds": data["window_seconds"],
        "targets": data["targets"],
        "traffic": data["traffic"],
        "latency_seconds": data["latency_seconds"],
        "endpoints": data["endpoints"],
        "db_pool": data["db_pool"],
        "process": data["process"],
        "system": data["system"],
        "haven_top": data["own"],
        "alerts": data["alerts"],
        "metrics_age": data["metrics_age"],
        "system_age": data["system_age"],
    }
    return document


def format_json(snapshot: Snapshot) -> bytes:
    """Serialise the snapshot document; NaN and infinities become `null`."""
    options = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
    return orjson.dumps(snapshot_document(snapshot), option=options)


def use_colour(stream: TextIO) -> bool:
    """Colour only a terminal, and never when `NO_COLOR` is set and not empty."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def write_snapshot(
    snapshot: Snapshot, output_format: str, stream: TextIO | None = None
) -> None:
    """Write the snapshot to `stream` (standard output) as "json" or "text"."""
    stream = stream or sys.stdout
    if output_format == "json":
        stream.write(format_json(snapshot).decode())
    else:
        stream.write(format_text(snapshot, colour=use_colour(stream)))
    stream.flush()


NO_DATA = "no data"
_GREEN, _RED, _YELLOW, _BOLD, _RESET = "32", "31", "33", "1", "0"


def format_text(snapshot: Snapshot, *, colour: bool = False) -> str:
    """Render the snapshot as a short plain-text report, one topic per line."""
    paint = _painter(colour)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snapshot.taken_at))
    window = _duration(snapshot.window_seconds)
    lines = [paint(f"haven-top {__version__}  {stamp}  window {window}", _BOLD)]
    for target in snapshot.targets:
        lines.extend(_target_lines(target, paint))
    lines.append(_traffic_line(snapshot))
    lines.append(_latency_line(snapshot))
    lines.append(_pool_line(snapshot))
    lines.append(_process_line(snapshot))
    lines.extend(_system_lines(snapshot))
    lines.extend(_endpoint_lines(snapshot))
    lines.extend(_alert_lines(snapshot, paint))
    return "\n".join(lines) + "\n"


def _painter(colour: bool) -> Callable[[str, str], str]:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[{_RESET}m" if colour else text

    return paint


def shown(text: str) -> str:
    """Return text from a target as the terminal may show it: control
    characters made visible and URL passwords hidden."""
    return visible(redact_url(text))


def _target_lines(target: TargetStatus, paint: Callable[[str, str], str]) -> list[str]:
    flags = [
        _flag(target.up, "up", "DOWN", paint),
        _flag(target.live, "live", "NOT LIVE", paint),
        _flag(target.ready, "ready", "NOT READY", paint),
    ]
    line = f"target    {shown(target.url)}  " + " ".join(flags)
    if target.dependencies:
        pairs = (f"{k}={v}" for k, v in target.dependencies.items())
        line += "  " + shown(" ".join(pairs))
    if target.last_scrape_age is not None:
        line += f"  scraped {target.last_scrape_age:.1f} s ago"
    lines = [line]
    if target.ready_error:
        not_ready = f"not ready: {shown(target.ready_error)}"
        lines.append("          " + paint(not_ready, _YELLOW))
    if target.error:
        lines.append("          " + paint(shown(target.error), _RED))
    return lines


def _flag(
    value: bool | None, yes: str, no: str, paint: Callable[[str, str], str]
) -> str:
    if value is None:
        return f"{yes} n/a"
    return paint(yes, _GREEN) if value else paint(no, _RED)


def _traffic_line(snapshot: Snapshot) -> str:
    traffic = snapshot.traffic
    if traffic.requests_per_second is None:
        return f"traffic   {NO_DATA}"
    line = f"traffic   {traffic.requests_per_second:.2f} req/s"
    line += f"  errors {_rate(traffic.errors_per_second)}"
    line += f" ({_percent(traffic.error_ratio)})"
    for status_class, rate in sorted(traffic.by_status_class.items()):
        line += f"  {status_class} {rate:.2f}"
    return line


def _latency_line(snapshot: Snapshot) -> str:
    latency = snapshot.latency_seconds
    if latency.p50 is None and latency.p95 is None and latency.p99 is None:
        return f"latency   {NO_DATA}"
    return (
        f"latency   p50 {_seconds(latency.p50)}  p95 {_seconds(latency.p95)}"
        f"  p99 {_seconds(latency.p99)}"
    )


def _pool_line(snapshot: Snapshot) -> str:
    pool = snapshot.db_pool
    if pool.active is None:
        return f"db pool   {NO_DATA}"
    line = f"db pool   {pool.active:g} active"
    if pool.size is not None:
        line += f" of {pool.size:g}"
    if pool.usage is not None:
        line += f" ({_percent(pool.usage)})"
    return line


def _process_line(snapshot: Snapshot) -> str:
    process = snapshot.process
    parts = []
    if process.cpu_cores is not None:
        parts.append(f"cpu {process.cpu_cores:.2f} cores")
    if process.resident_memory_bytes is not None:
        parts.append(f"rss {_bytes(process.resident_memory_bytes)}")
    if process.open_fds is not None:
        fds = f"fds {process.open_fds:g}"
        if process.max_fds is not None:
            fds += f" of {process.max_fds:g}"
        parts.append(fds)
    return "process   " + ("  ".join(parts) or NO_DATA)


def _system_lines(snapshot: Snapshot) -> list[str]:
    system = snapshot.system
    parts = []
    if system.cpu_percent is not None:
        cores = len(system.cpu_percent_per_core)
        parts.append(f"cpu {system.cpu_percent:.0f}% of {cores} cores")
    if system.memory_used_bytes is not None and system.memory_total_bytes:
        used = _bytes(system.memory_used_bytes)
        parts.append(f"mem {used} of {_bytes(system.memory_total_bytes)}")
    if system.swap_total_bytes:
        parts.append(f"swap {_bytes(system.swap_used_bytes or 0.0)}")
    if system.load_average is not None:
        parts.append("load " + " ".join(f"{v:.2f}" for v in system.load_average))
    io = [
        ("disk read", system.disk_read_bytes_per_second),
        ("write", system.disk_write_bytes_per_second),
        ("net in", system.net_recv_bytes_per_second),
        ("out", system.net_sent_bytes_per_second),
    ]
    io_parts = [f"{name} {_bytes(value)}/s" for name, value in io if value is not None]
    lines = ["system    " + ("  ".join(parts) or NO_DATA)]
    if io_parts:
        lines.append("          " + "  ".join(io_parts))
    return lines


def _endpoint_lines(snapshot: Snapshot) -> list[str]:
    if not snapshot.endpoints:
        return []
    lines = ["endpoints"]
    header = ("METHOD", "ENDPOINT", "REQ/S", "ERRORS", "P50", "P95", "P99")
    rows = [header]
    for endpoint in snapshot.endpoints:
        rows.append(
            (
                shown(endpoint.method),
                shown(endpoint.endpoint),
                _plain_rate(endpoint.requests_per_second),
                _percent(endpoint.error_ratio),
                _seconds(endpoint.p50),
                _seconds(endpoint.p95),
                _seconds(endpoint.p99),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [
            cell.rjust(width) for cell, width in zip(row[2:], widths[2:], strict=True)
        ]
        lines.append("  " + "  ".join(cells))
    return lines


def _alert_lines(snapshot: Snapshot, paint: Callable[[str, str], str]) -> list[str]:
    lines = []
    for alert in snapshot.alerts:
        if alert.state == "inactive":
            continue
        line = f"alert     {shown(alert.name)} {alert.state.upper()}"
        if alert.since is not None:
            line += f" since {time.strftime('%H:%M:%S', time.localtime(alert.since))}"
        if alert.summary:
            line += f"  {shown(alert.summary)}"
        lines.append(paint(line, _RED if alert.state == "firing" else _YELLOW))
    return lines


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}/s"


def _plain_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.1f}%"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{1000 * value:.1f} ms"
    return f"{value:.2f} s"


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
