"""Text of the log pane: its rows and its status line, with nothing read as markup.

Every part is plain text with a Rich `Style`. Log text goes through
`visible` or `display_line` first, so escape sequences and brackets print as
characters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text

from haven_top.core.logrecord import LogRecord
from haven_top.core.sanitize import display_line, visible

if TYPE_CHECKING:
    from haven_top.sources.logstreams import LogHub
    from haven_top.ui.widgets.log_view import LogView

LEVEL_LABELS = {10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR", 50: "CRIT", 0: "?"}
LEVEL_CLASSES = {
    10: "log-view--debug",
    20: "log-view--info",
    30: "log-view--warning",
    40: "log-view--error",
    50: "log-view--critical",
}


def format_clock(stamp: float) -> str:
    """Format Unix time as local HH:MM:SS.mmm."""
    millis = int(stamp * 1000) % 1000
    return time.strftime("%H:%M:%S", time.localtime(stamp)) + f".{millis:03d}"


def format_duration(duration_ms: float | None) -> str:
    if duration_ms is None:
        return ""
    if duration_ms >= 10_000:
        return f"{duration_ms / 1000:.0f}s"
    if duration_ms >= 1_000:
        return f"{duration_ms / 1000:.1f}s"
    return f"{duration_ms:.0f}ms"


INSTANCE_WIDTH = 15
"""Columns of the instance name: "127.0.0.1:37045" fits whole."""


def instance_label(instance: str | None) -> str:
    """Fit an instance name to its column, keeping the end, where the port is."""
    text = visible(instance or "")
    if len(text) <= INSTANCE_WIDTH:
        return text
    return "…" + text[-(INSTANCE_WIDTH - 1) :]


def short_id(request_id: str | None) -> str:
    return (request_id or "")[:8]


def row_parts(
    record: LogRecord, width: int, style_of: Callable[[str], Style]
) -> list[tuple[str, Style]]:
    """Build one row as (text, style) parts: time, level, instance, short
    request ID, method, path, status, duration and message.

    `style_of` maps a `log-view--*` component class to its style. The parts go
    straight into segments, because Rich's console rendering of a `Text` cost
    more than everything else in a row.
    """
    dim = style_of("log-view--dim")
    plain = Style()
    clock = (format_clock(record.timestamp) + " ", dim)
    instance = (f"{instance_label(record.instance):<{INSTANCE_WIDTH}} ", dim)
    if record.is_raw:
        line = display_line(record.raw, limit=max(width, 40))
        return [clock, (" " * 6, plain), instance, (line, plain)]
    level_class = LEVEL_CLASSES.get(record.level)
    level_style = style_of(level_class) if level_class else dim
    status = record.status
    failed = (status or 0) >= 500
    status_style = style_of("log-view--status-error") if failed else plain
    message = display_line(record.message, limit=max(width, 40))
    return [
        clock,
        (f"{LEVEL_LABELS.get(record.level, '?'):<5} ", level_style),
        instance,
        (f"{visible(short_id(record.request_id)):<8} ", dim),
        (f"{visible(record.method or '')[:6]:<6} ", plain),
        (f"{visible(record.path or '')[:28]:<28} ", plain),
        (f"{status or '':>3} ", status_style),
        (f"{format_duration(record.duration_ms):>6} ", dim),
        (message, level_style if record.level >= 30 else plain),
    ]


def status_text(hub: LogHub, view: LogView) -> Text:
    """Build the pane's status line: counts, filter, hold state, source states."""
    store = hub.store
    parts = [f"Logs {len(store):,} kept", f"{hub.evicted:,} evicted"]
    log_filter = view.selection.filter
    if log_filter:
        parts.append(f"filter {log_filter.text!r}: {len(view.selection):,} match")
    if view.held:
        parts.append(
            f"HELD +{view.new_while_held:,} new, "
            f"{view.evicted_while_held:,} evicted since (End resumes)"
        )
    else:
        parts.append("following")
    for status in hub.statuses.values():
        shown = status.detail and status.state != "connected"
        detail = f" ({status.detail})" if shown else ""
        parts.append(f"{status.name}: {status.state}{detail}")
    return Text(visible(" · ".join(parts)), no_wrap=True, overflow="ellipsis")
