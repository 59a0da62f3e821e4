"""The instances pane: one table row per instance of a fleet.

Enter (or a click) on a row narrows every pane to that instance. The screen
binds `i` to move to the table and Esc to go back to the whole fleet. The pane
hides itself while there is only one instance, where the targets line already
shows everything.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable

from haven_top.core.snapshot import Snapshot, TargetStatus
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.pane import Pane
from haven_top.ui.widgets.targets import short_url

ERROR_RATIO_HIGHLIGHT = 0.05
POOL_USAGE_HIGHLIGHT = 0.9

# (label, width) of the columns after "instance", whose width is what remains.
NUMBER_COLUMNS = (
    ("up", 4),
    ("live", 4),
    ("ready", 5),
    ("req/s", 7),
    ("err%", 6),
    ("p95 ms", 6),
    ("pool", 5),
    ("scraped", 7),
)
INSTANCE_MIN_WIDTH = 14
INSTANCE_MAX_WIDTH = 40


class InstancesTable(DataTable[Text]):
    """Rows of `TargetStatus` in snapshot order, keyed by the instance URL."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "instances--bad",
        "instances--selected",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.rows_shown: tuple[TargetStatus, ...] = ()
        self.selected: str | None = None
        self._width = 0

    def show_rows(
        self, rows: tuple[TargetStatus, ...], selected: str | None, force: bool = False
    ) -> None:
        """Replace the rows, keeping the cursor on the same instance."""
        width = self.scrollable_content_region.width
        unchanged = (rows, selected, width) == (
            self.rows_shown,
            self.selected,
            self._width,
        )
        if unchanged and not force:
            return
        cursor_url = self.cursor_url
        self.rows_shown, self.selected = rows, selected
        self._ensure_columns()
        self.clear()
        for row in rows:
            self.add_row(*self._cells(row), key=row.url)
        urls = [row.url for row in rows]
        target = cursor_url if cursor_url in urls else selected
        if target in urls:
            self.move_cursor(row=urls.index(target), animate=False)
        if width == 0 and not force:
            # Not laid out yet (the pane was hidden until now): size the columns
            # again once the table has its width.
            self.call_after_refresh(self.show_rows, rows, selected, True)

    @property
    def cursor_url(self) -> str | None:
        """The URL of the instance under the cursor, or None without rows."""
        if not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row].url

    def on_resize(self) -> None:
        self.show_rows(self.rows_shown, self.selected, force=True)

    def _ensure_columns(self) -> None:
        width = self.scrollable_content_region.width
        if width == self._width and self.columns:
            return
        self._width = width
        self.clear(columns=True)
        self.add_column("instance", width=self.instance_width)
        for label, column_width in NUMBER_COLUMNS:
            self.add_column(Text(label, justify="right"), width=column_width)

    @property
    def instance_width(self) -> int:
        """The width left for the instance after the fixed columns and padding."""
        fixed = sum(width for _, width in NUMBER_COLUMNS)
        padding = 2 * self.cell_padding * (len(NUMBER_COLUMNS) + 1)
        available = self.scrollable_content_region.width - fixed - padding
        return min(max(available, INSTANCE_MIN_WIDTH), INSTANCE_MAX_WIDTH)

    def _cells(self, row: TargetStatus) -> list[Text]:
        bad = self.get_component_rich_style("instances--bad")
        plain = Style()
        name_style = plain
        if row.url == self.selected:
            name_style = self.get_component_rich_style("instances--selected")
        marker = "▶ " if row.url == self.selected else ""
        name = Text(marker + short_url(row.url), style=name_style)
        name.truncate(self.instance_width, overflow="ellipsis")
        errors = row.error_ratio
        pool = row.pool_usage
        return [
            name,
            _flag(row.up, "UP", "DOWN", bad),
            _flag(row.live, "OK", "FAIL", bad),
            _flag(row.ready, "OK", "FAIL", bad),
            _number(fmt.rate(row.requests_per_second, "", fmt.DASH), plain),
            _number(
                fmt.percent(errors, fmt.DASH, sign=False),
                bad
                if errors is not None and errors >= ERROR_RATIO_HIGHLIGHT
                else plain,
            ),
            _number(fmt.millis(row.p95, fmt.DASH, unit=False), plain),
            _number(
                fmt.percent(pool, fmt.DASH, sign=False),
                bad if pool is not None and pool >= POOL_USAGE_HIGHLIGHT else plain,
            ),
            _number(_scrape_age(row), bad if row.up is False else plain),
        ]


class InstancesPane(Pane):
    """The instances table in a titled box that shows how to narrow and widen."""

    TITLE = "Instances"

    class Selected(Message):
        """The operator picked an instance to narrow every pane to."""

        def __init__(self, url: str) -> None:
            super().__init__()
            self.url = url

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        # Hidden until a snapshot shows a fleet, so that the table does not take
        # the screen's first focus from the endpoints table.
        self.display = False

    def compose(self) -> ComposeResult:
        yield InstancesTable(id="instances-table")

    @property
    def table(self) -> InstancesTable:
        return self.query_one(InstancesTable)

    def show(self, snapshot: Snapshot) -> None:
        """Show one row per target; hide the pane while there is only one."""
        targets = snapshot.targets
        shown = len(targets) > 1 or snapshot.selected_target is not None
        if shown != self.display:
            self.display = shown
            # The screen's instances key is shown only with the pane.
            self.screen.refresh_bindings()
        if not shown:
            return
        if snapshot.selected_target is None:
            title = f"Instances ({len(targets)}) · Enter on a row narrows to it"
        else:
            name = short_url(snapshot.selected_target)
            title = f"Instances · showing {name} only · Esc for all"
        self.show_title(title)
        self.table.show_rows(targets, snapshot.selected_target)
        self.show_age(snapshot.metrics_age)
        if self.app.focused is None:
            # Nothing else takes keys, so Enter narrows right away.
            self.table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Selected(str(event.row_key.value)))


def _flag(value: bool | None, yes: str, no: str, bad: Style) -> Text:
    if value is None:
        return _number(fmt.DASH, Style())
    return _number(yes, Style()) if value else _number(no, bad)


def _scrape_age(row: TargetStatus) -> str:
    if row.last_scrape_age is None:
        return fmt.DASH
    return fmt.age(row.last_scrape_age)


def _number(text: str, style: Style) -> Text:
    return Text(text, style=style, justify="right")
