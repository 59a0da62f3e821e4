"""The help screen: the keys as currently bound, and what each pane shows."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

PANES = (
    (
        "Targets",
        "Each instance: UP or DOWN (did /metrics answer), live and ready "
        "(the health checks, OK or FAIL), what is wrong, and when it last answered.",
    ),
    (
        "Traffic",
        "Requests per second over the window, 5xx errors per second and "
        "their share of all requests, requests by status class, and the history.",
    ),
    (
        "Latency",
        "Request duration quantiles (p50, p95, p99) interpolated from the "
        'histogram buckets of the window, and the p95 history. "no data" means no '
        "requests finished in the window.",
    ),
    (
        "Endpoints",
        "The same figures per method and endpoint. The top rows that fit "
        "are shown; one last row sums the rest.",
    ),
    (
        "DB pool",
        "Database connections checked out, of the pool size, and the usage history.",
    ),
    (
        "Process",
        "The service's own process from its process_* metrics: CPU in cores "
        "(1.00 is one core busy), resident memory, open file descriptors of the "
        "maximum, and uptime.",
    ),
    (
        "System",
        "The host haven-top runs on: CPU (overall and per core), memory, "
        "swap, load average, and disk and network throughput.",
    ),
    (
        "Alerts",
        "haven-top's alert rules, or the Prometheus server's alerts: FIRING, "
        "PENDING or ok, for how long, the value and what the rule checks. A "
        "firing alert is also named in the title bar.",
    ),
    (
        "Instances",
        "Shown for several targets: one row per instance. Enter on a row narrows "
        "every pane to that instance; Esc returns to the whole fleet.",
    ),
    (
        "Logs",
        "The newest records of the targets' log streams and --logs sources. The "
        "pane appears with the first record. Tab moves into it, and the footer "
        "then lists its keys (filter, hold, next error, open a request).",
    ),
    (
        "Status line",
        "haven-top's own CPU and memory, and how old the metrics and "
        "system data are. Data older than a few refreshes is marked STALE.",
    ),
)


class HelpScreen(Screen[None]):
    """Keys and pane descriptions; any close key returns to the dashboard."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="help-close"),
        Binding("question_mark", "close", "Close", show=False, id="help-close-alt"),
    ]

    def __init__(self, keys: list[tuple[str, str, str]]) -> None:
        """`keys` contains (key, name, description) for each dashboard binding."""
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static("haven-top help", id="help-title")
            yield Static("Keys", classes="help-heading")
            with Grid(id="help-keys", classes="help-table"):
                for key, name, text in self.keys:
                    yield Label(key, classes="help-key")
                    yield Static(f"{name}: {text}", markup=False)
            yield Static("Panes", classes="help-heading")
            with Grid(id="help-panes", classes="help-table"):
                for name, text in PANES:
                    yield Label(name, classes="help-key")
                    yield Static(text, markup=False)
        yield Footer()

    def action_close(self) -> None:
        self.dismiss()
