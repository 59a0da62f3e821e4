"""The system pane: the local host's CPU, memory, swap, load and I/O rates."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static

from haven_top.core.snapshot import Snapshot, SystemStats
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.charts import LabelledSpark
from haven_top.ui.widgets.pane import Pane
from haven_top.ui.widgets.text import set_text

PER_CORE_NUMBERS_MAX = 8
"""Up to this many cores, each core's percentage is written next to its bar."""


class SystemPane(Pane):
    """psutil's view of the host haven-top runs on."""

    TITLE = "System"

    def compose(self) -> ComposeResult:
        yield Static(id="system-stats")
        yield Static(id="system-cores", classes="extra")
        yield LabelledSpark("cpu", ceiling=100.0, classes="spark extra")

    def show(self, snapshot: Snapshot) -> None:
        system = snapshot.system
        set_text(self.query_one("#system-stats", Static), system_lines(system))
        set_text(self.query_one("#system-cores", Static), cores_line(system))
        self.query_one(LabelledSpark).show(snapshot.history.system_cpu_percent)
        self.show_age(snapshot.system_age)


def system_lines(system: SystemStats) -> Content:
    """CPU and load, memory, swap, then disk and network rates, one per line.

    The swap line is left out on a host without swap, where it only says 0 B.
    """
    load = fmt.NO_DATA
    if system.load_average is not None:
        load = " ".join(f"{value:.2f}" for value in system.load_average)
    lines = [
        Content.assemble(
            "CPU  ", (fmt.percent_value(system.cpu_percent), "bold"), f"  load {load}"
        ),
        Content.assemble(
            "mem  ",
            (fmt.percent_value(system.memory_percent), "bold"),
            f"  {used_of(system.memory_used_bytes, system.memory_total_bytes)}",
        ),
        Content(
            f"disk r {fmt.byte_rate(system.disk_read_bytes_per_second)}"
            f"  w {fmt.byte_rate(system.disk_write_bytes_per_second)}"
        ),
        Content(
            f"net  rx {fmt.byte_rate(system.net_recv_bytes_per_second)}"
            f"  tx {fmt.byte_rate(system.net_sent_bytes_per_second)}"
        ),
    ]
    if system.swap_total_bytes != 0:
        swap = used_of(system.swap_used_bytes, system.swap_total_bytes)
        lines.insert(2, Content(f"swap {swap}"))
    return Content("\n").join(lines)


def used_of(used: float | None, total: float | None) -> str:
    """ "1.2 GiB / 7.8 GiB", or what is known of the two."""
    if used is None:
        return fmt.NO_DATA
    if total is None:
        return fmt.size(used)
    return f"{fmt.size(used)} / {fmt.size(total)}"


def cores_line(system: SystemStats) -> str:
    """CPU use of each core as a one-cell bar, with percentages for up to 8 cores."""
    per_core = system.cpu_percent_per_core
    if not per_core:
        return "cores no data"
    cells = fmt.sparkline(per_core, len(per_core), 100.0)[0]
    if len(per_core) > PER_CORE_NUMBERS_MAX:
        return f"cores {cells}"
    numbers = " ".join(f"{value:.0f}%" for value in per_core)
    return f"cores {cells} {numbers}"
