"""The traffic pane: request and error rates with their history."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static

from haven_top.core.snapshot import Snapshot, Traffic
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.charts import LabelledSpark
from haven_top.ui.widgets.pane import Pane
from haven_top.ui.widgets.text import set_text

STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
ERROR_RATIO_WARNING = 0.01
ERROR_RATIO_CRITICAL = 0.05


class TrafficPane(Pane):
    """Total requests per second, by status class, 5xx errors and their ratio."""

    TITLE = "Traffic"

    def compose(self) -> ComposeResult:
        yield Static(id="traffic-rates")
        yield Static(id="traffic-classes")
        yield LabelledSpark("req/s", id="traffic-rate-spark", classes="spark")
        yield LabelledSpark(
            "err%",
            scale_format=_percent,
            id="traffic-error-spark",
            classes="spark extra",
        )

    def show(self, snapshot: Snapshot) -> None:
        traffic = snapshot.traffic
        reason = self.missing_reason(snapshot.metrics_age, "needs 2 scrapes")
        rates = self.query_one("#traffic-rates", Static)
        set_text(rates, rates_line(traffic, reason))
        set_text(self.query_one("#traffic-classes", Static), classes_line(traffic))
        history = snapshot.history
        self.query_one("#traffic-rate-spark", LabelledSpark).show(
            history.requests_per_second
        )
        self.query_one("#traffic-error-spark", LabelledSpark).show(history.error_ratio)
        self.show_age(snapshot.metrics_age)


def rates_line(traffic: Traffic, reason: str = "needs 2 scrapes") -> Content:
    """Build the headline: requests and 5xx errors per second, and their ratio.

    Without a rate it gives `reason`, kept short to fit one line at 80 columns.
    """
    if traffic.requests_per_second is None:
        return Content.assemble(("req/s no data", "bold"), f" ({reason})")
    ratio_style = error_ratio_style(traffic.error_ratio)
    return Content.assemble(
        (fmt.rate(traffic.requests_per_second), "bold"),
        "  ",
        (fmt.rate(traffic.errors_per_second, "err/s"), ratio_style),
        "  ",
        (fmt.percent(traffic.error_ratio), ratio_style),
        " 5xx" if traffic.error_ratio is not None else "",
    )


def classes_line(traffic: Traffic) -> Content:
    """Build the line of requests per second by status class."""
    if not traffic.by_status_class:
        return Content("by status: no data")
    parts: list[str | tuple[str, str]] = []
    for name in sorted(traffic.by_status_class, key=_status_order):
        value = traffic.by_status_class[name]
        style = "$error" if name == "5xx" and value > 0 else ""
        parts.extend([f"{name} ", (fmt.number(value), style), "  "])
    return Content.assemble(*parts, "req/s")


def error_ratio_style(ratio: float | None) -> str:
    """Return the style of an error ratio: red from 5%, yellow from 1%."""
    if ratio is None:
        return ""
    if ratio >= ERROR_RATIO_CRITICAL:
        return "bold $error"
    if ratio >= ERROR_RATIO_WARNING:
        return "$warning"
    return ""


def _status_order(name: str) -> tuple[int, str]:
    known = name in STATUS_CLASSES
    return (0 if known else 1, name)


def _percent(ratio: float) -> str:
    return fmt.percent(ratio, sign=False)
