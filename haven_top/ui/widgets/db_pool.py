"""The database pool pane: connections in use against the pool's capacity."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static

from haven_top.core.snapshot import DbPool, Snapshot
from haven_top.ui.widgets.charts import LabelledSpark, UsageBar
from haven_top.ui.widgets.pane import Pane
from haven_top.ui.widgets.text import set_text

USAGE_WARNING = 0.8
USAGE_CRITICAL = 0.95


class DbPoolPane(Pane):
    """Active connections, pool size, a usage bar and the usage history."""

    TITLE = "DB pool"

    def compose(self) -> ComposeResult:
        yield Static(id="db-counts")
        yield UsageBar(id="db-bar")
        yield LabelledSpark("use", ceiling=1.0, classes="spark")

    def show(self, snapshot: Snapshot) -> None:
        pool = snapshot.db_pool
        set_text(self.query_one("#db-counts", Static), counts_line(pool))
        style = usage_style(pool.usage) or "$primary"
        self.query_one(UsageBar).show(pool.usage, style)
        self.query_one(LabelledSpark).show(snapshot.history.db_usage)
        self.show_age(snapshot.metrics_age)


def counts_line(pool: DbPool) -> Content:
    """Active connections of the pool size."""
    if pool.active is None:
        return Content("active: no data")
    active = f"{pool.active:.0f}"
    if pool.size is None:
        return Content.assemble((active, "bold"), " active, size unknown")
    return Content.assemble((active, "bold"), f" / {pool.size:.0f} in use")


def usage_style(usage: float | None) -> str:
    """Return the style of pool usage: red from 95%, yellow from 80%."""
    if usage is None:
        return ""
    if usage >= USAGE_CRITICAL:
        return "bold $error"
    if usage >= USAGE_WARNING:
        return "$warning"
    return ""
