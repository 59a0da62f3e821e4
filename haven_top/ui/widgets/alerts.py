"""The alerts pane, and the badge the title bar shows while an alert fires.

Direct mode lists haven-top's own rules (inactive ones too); Prometheus mode
lists the server's pending and firing alerts and its inactive rules. Firing
alerts come first, then pending, then inactive ones.
"""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static

from haven_top.core.snapshot import Alert, Snapshot
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.pane import Pane
from haven_top.ui.widgets.text import set_text

STATE_ORDER = {"firing": 0, "pending": 1}
STATE_STYLES = {
    "firing": "bold reverse $error",
    "pending": "bold $warning",
    "inactive": "$text-muted",
}
MAX_ALERT_LINES = 6
"""Alerts listed before one line counts the rest."""


class AlertsPane(Pane):
    """One line per alert: state, name, how long in that state, value, summary.

    States are words (FIRING, PENDING, ok), so the pane reads without colour.
    The pane hides itself while no rule exists at all, and on a short screen
    while no alert is pending or firing (class `-quiet`).
    """

    TITLE = "Alerts"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.add_class("-empty")

    def compose(self) -> ComposeResult:
        yield Static(id="alerts-body")

    def show(self, snapshot: Snapshot) -> None:
        """Render the alerts of `snapshot`."""
        # Classes rather than `display`, which would override the stylesheet.
        self.set_class(not snapshot.alerts, "-empty")
        if not snapshot.alerts:
            return
        firing = sum(1 for alert in snapshot.alerts if alert.state == "firing")
        pending = sum(1 for alert in snapshot.alerts if alert.state == "pending")
        self.show_title(f"Alerts · {firing} firing, {pending} pending")
        self.set_class(firing > 0, "-firing")
        self.set_class(firing + pending == 0, "-quiet")
        body = self.query_one("#alerts-body", Static)
        set_text(body, alerts_content(snapshot.alerts, snapshot.taken_at))


def sorted_alerts(alerts: tuple[Alert, ...]) -> list[Alert]:
    """Order alerts firing first, then pending, then the rest, each by name."""
    return sorted(alerts, key=lambda a: (STATE_ORDER.get(a.state, 2), a.name))


def alerts_content(alerts: tuple[Alert, ...], now: float | None = None) -> Content:
    """Build the pane's lines, with a count line for alerts past the limit."""
    now = time.time() if now is None else now
    ordered = sorted_alerts(alerts)
    lines = [alert_line(alert, now) for alert in ordered[:MAX_ALERT_LINES]]
    if len(ordered) > MAX_ALERT_LINES:
        lines.append(Content(f"… {len(ordered) - MAX_ALERT_LINES} more"))
    return Content("\n").join(lines)


def alert_line(alert: Alert, now: float) -> Content:
    """Describe one alert: "FIRING  HighErrorRate for 2m05s  value 12.3%  summary"."""
    label = alert.state.upper() if alert.state != "inactive" else "ok"
    style = STATE_STYLES.get(alert.state, "")
    parts: list[str | tuple[str, str]] = [(f"{label:<7}", style), " ", alert.name]
    if alert.since is not None and alert.state != "inactive":
        parts.append(f" for {fmt.age(max(0.0, now - alert.since))}")
    if alert.value is not None and alert.state != "inactive":
        parts.append(f"  value {alert_value(alert)}")
    if alert.summary:
        parts.extend(["  ", (alert.summary, "$text-muted")])
    return Content.assemble(*parts)


def alert_value(alert: Alert) -> str:
    """Format the alert's value: a percentage for the error ratio, else a number."""
    assert alert.value is not None
    if alert.name == "HighErrorRate":
        return fmt.percent(alert.value)
    if alert.name == "SlowResponse":
        return fmt.millis(alert.value)
    return f"{alert.value:.4g}"


def alert_badge(snapshot: Snapshot) -> str:
    """Return the title bar's badge text, such as "ALERT HighErrorRate", or ""."""
    firing = sorted(a.name for a in snapshot.alerts if a.state == "firing")
    if not firing:
        return ""
    more = f" +{len(firing) - 1}" if len(firing) > 1 else ""
    return f"ALERT {firing[0]}{more}"
