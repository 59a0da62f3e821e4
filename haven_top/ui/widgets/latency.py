"""The latency pane: overall quantiles over the window and the p95 history."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static

from haven_top.core.snapshot import Latency, Snapshot
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.charts import LabelledSpark
from haven_top.ui.widgets.pane import Pane
from haven_top.ui.widgets.text import set_text

P95_WARNING_SECONDS = 0.5
P95_CRITICAL_SECONDS = 1.0


class LatencyPane(Pane):
    """p50, p95 and p99 of request duration, interpolated from the histogram."""

    TITLE = "Latency"

    def compose(self) -> ComposeResult:
        yield Static(id="latency-quantiles")
        yield LabelledSpark("p95 ms", scale_format=_milliseconds, classes="spark")

    def show(self, snapshot: Snapshot) -> None:
        self.show_title(f"Latency · {fmt.window(snapshot.window_seconds)} window")
        quantiles = self.query_one("#latency-quantiles", Static)
        reason = self.missing_reason(snapshot.metrics_age, "no requests")
        set_text(quantiles, quantiles_line(snapshot.latency_seconds, reason))
        self.query_one(LabelledSpark).show(snapshot.history.p95)
        self.show_age(snapshot.metrics_age)


def quantiles_line(latency: Latency, reason: str = "no requests") -> Content:
    """p50, p95 and p99 in milliseconds, or "no data" and `reason` when all three
    are unknown, as when the window saw no requests."""
    if latency.p50 is None and latency.p95 is None and latency.p99 is None:
        return Content(f"p50 p95 p99 no data ({reason})")
    return Content.assemble(
        "p50 ",
        (fmt.millis(latency.p50), "bold"),
        "  p95 ",
        (fmt.millis(latency.p95), f"bold {p95_style(latency.p95)}".strip()),
        "  p99 ",
        (fmt.millis(latency.p99), "bold"),
    )


def p95_style(seconds: float | None) -> str:
    """Return the style of a p95: red from 1 s, yellow from 0.5 s."""
    if seconds is None:
        return ""
    if seconds >= P95_CRITICAL_SECONDS:
        return "$error"
    if seconds >= P95_WARNING_SECONDS:
        return "$warning"
    return ""


def _milliseconds(seconds: float) -> str:
    return fmt.millis(seconds, unit=False)
