"""One-line bars: the title bar, the connection progress and the status line."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Label, Static

from haven_top.core.snapshot import Snapshot
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.alerts import alert_badge
from haven_top.ui.widgets.pane import STALE_AFTER_SECONDS
from haven_top.ui.widgets.targets import short_url
from haven_top.ui.widgets.text import set_text


class TitleBar(Horizontal):
    """The app name, the window, the narrowed target and a PAUSED badge."""

    def compose(self) -> ComposeResult:
        yield Label("haven-top", id="title-name")
        yield Label(id="title-view")
        yield Label(id="alert-badge")
        yield Label(id="paused-badge")

    def show(self, snapshot: Snapshot) -> None:
        """Name the window and the target that the panes show."""
        count = len(snapshot.targets)
        scope = "1 target" if count == 1 else f"{count} targets"
        if snapshot.selected_target is not None:
            scope = short_url(snapshot.selected_target)
        view = f"{fmt.window(snapshot.window_seconds)} window · {scope}"
        set_text(self.query_one("#title-view", Label), view)
        badge = alert_badge(snapshot)
        self.set_class(bool(badge), "-alerting")
        set_text(self.query_one("#alert-badge", Label), badge)

    def show_paused(self, paused: bool, taken_at: float | None, key: str) -> None:
        """Show or hide the PAUSED badge, with the data's clock time and resume key."""
        self.set_class(paused, "-paused")
        clock = ""
        if taken_at is not None:
            clock = " at " + time.strftime("%H:%M:%S", time.localtime(taken_at))
        self.query_one("#paused-badge", Label).update(f"PAUSED{clock} · {key} resumes")


class ProgressLine(Static):
    """The collector's progress line while no data flows yet, hidden afterwards."""

    def show_progress(self, text: str) -> None:
        set_text(self, text)
        self.set_class(not text, "-done")


class StatusLine(Static):
    """haven-top's own CPU and memory, then how old each source's data is."""

    stale_after = STALE_AFTER_SECONDS
    """Seconds after which a source's data is marked stale."""

    def show(self, snapshot: Snapshot) -> None:
        """Render the status of `snapshot`."""
        self.remove_class("-failed")
        set_text(self, status_content(snapshot, self.stale_after))

    def show_failure(self, message: str) -> None:
        """Replace the status with a one-line error until the next good snapshot."""
        self.add_class("-failed")
        self.update(message)


def status_content(snapshot: Snapshot, stale_after: float) -> Content:
    own = snapshot.own
    return Content.assemble(
        "haven-top CPU ",
        fmt.percent_value(own.cpu_percent),
        " RSS ",
        fmt.size(own.resident_memory_bytes),
        "  │  metrics ",
        age_part(snapshot.metrics_age, stale_after),
        "  │  system ",
        age_part(snapshot.system_age, stale_after),
    )


def age_part(seconds: float | None, stale_after: float) -> str | tuple[str, str]:
    """Format the age of one source's data, marked STALE past `stale_after`."""
    if seconds is None:
        return fmt.NO_DATA
    if seconds > stale_after:
        return (f"STALE {fmt.age(seconds)} ago", "bold $warning")
    return f"{fmt.age(seconds)} ago"
