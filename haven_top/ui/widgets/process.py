"""The process pane: the monitored service's own CPU, memory, fds and uptime."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static

from haven_top.core.snapshot import ProcessStats, Snapshot
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.pane import Pane
from haven_top.ui.widgets.text import set_text

FDS_WARNING = 0.8


class ProcessPane(Pane):
    """The target's `process_*` series: CPU cores, resident memory, fds, uptime."""

    TITLE = "Process"

    def compose(self) -> ComposeResult:
        yield Static(id="process-stats")

    def show(self, snapshot: Snapshot) -> None:
        stats = process_lines(snapshot.process, snapshot.taken_at)
        set_text(self.query_one("#process-stats", Static), stats)
        self.show_age(snapshot.metrics_age)


def process_lines(process: ProcessStats, now: float) -> Content:
    """Four labelled lines; the uptime counts from the process start time."""
    uptime = None
    if process.start_time_seconds is not None:
        uptime = now - process.start_time_seconds
    return Content("\n").join(
        [
            Content.assemble("CPU  ", (cores(process.cpu_cores), "bold")),
            Content.assemble(
                "RSS  ", (fmt.size(process.resident_memory_bytes), "bold")
            ),
            fds_line(process.open_fds, process.max_fds),
            Content.assemble("up   ", fmt.age(uptime)),
        ]
    )


def cores(value: float | None) -> str:
    """CPU use in cores: "0.25 cores"."""
    if value is None:
        return fmt.NO_DATA
    return f"{value:.2f} cores"


def fds_line(open_fds: float | None, max_fds: float | None) -> Content:
    """Open file descriptors of the maximum; yellow from 80% of the maximum."""
    if open_fds is None:
        return Content("fds  no data")
    if max_fds is None or max_fds <= 0:
        return Content(f"fds  {fmt.number(open_fds)}")
    style = "$warning" if open_fds / max_fds >= FDS_WARNING else ""
    return Content.assemble("fds  ", (f"{open_fds:.0f} / {max_fds:.0f}", style))
