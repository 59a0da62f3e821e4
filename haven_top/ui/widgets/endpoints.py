"""The endpoints pane: one table row per method and endpoint, top rows first."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from haven_top.core.snapshot import EndpointStats, Snapshot
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.pane import Pane

ERROR_RATIO_HIGHLIGHT = 0.05
SORT_COLUMNS = {"rate": "req/s", "errors": "err%", "p95": "p95 ms"}
"""The column each endpoint sort key orders by."""

# (label, width) of the columns after "endpoint", whose width is what remains.
METHOD_WIDTH = 6
NUMBER_COLUMNS = (
    ("req/s", 8),
    ("err%", 6),
    ("p50 ms", 7),
    ("p95 ms", 7),
    ("p99 ms", 7),
)
ENDPOINT_MIN_WIDTH = 12
ENDPOINT_MAX_WIDTH = 60
"""Wider terminals leave the rest blank, keeping numbers next to their names."""


class EndpointsTable(DataTable[Text]):
    """Rows of `EndpointStats` as the snapshot orders them, without a cursor."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "endpoints--error",
        "endpoints--rest",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id, show_cursor=False, cursor_type="none", zebra_stripes=True
        )
        self.sort_key = "rate"
        self.rows_shown: tuple[EndpointStats, ...] = ()
        self._layout: tuple[int, str] = (0, "")

    @property
    def visible_rows(self) -> int:
        """How many data rows fit below the header at the current size."""
        return max(self.scrollable_content_region.height - 1, 0)

    def show_rows(
        self, rows: tuple[EndpointStats, ...], sort_key: str, force: bool = False
    ) -> None:
        """Show `rows`, rebuilding the columns when the width or sort changed.

        Unchanged rows are left alone unless `force` is set (after a resize).
        With the same number of rows and columns, only the cells whose text
        changed are replaced, so the cursor, the scroll position and the
        column widths stay as they are.
        """
        unchanged = (rows, sort_key) == (self.rows_shown, self.sort_key)
        if unchanged and self.row_count and not force:
            return
        self.rows_shown = rows
        self.sort_key = sort_key
        rebuilt = self._ensure_columns()
        cells = [self._cells(row) for row in rows] if rows else [self._empty_cells()]
        if not rebuilt and len(cells) == self.row_count:
            self._replace_changed_cells(cells)
            return
        self.clear()
        for row_cells in cells:
            self.add_row(*row_cells)

    def on_resize(self) -> None:
        self.show_rows(self.rows_shown, self.sort_key, force=True)

    def _replace_changed_cells(self, cells: list[list[Text]]) -> None:
        for row_index, row_cells in enumerate(cells):
            shown = self.get_row_at(row_index)
            for column_index, (old, new) in enumerate(
                zip(shown, row_cells, strict=True)
            ):
                if not _same_text(old, new):
                    self.update_cell_at(Coordinate(row_index, column_index), new)

    def _ensure_columns(self) -> bool:
        """Rebuild the columns when the width or sort changed; tell if it did."""
        width = self.scrollable_content_region.width
        if self._layout == (width, self.sort_key):
            return False
        self._layout = (width, self.sort_key)
        self.clear(columns=True)
        self.add_column("method", width=METHOD_WIDTH)
        self.add_column("endpoint", width=self.endpoint_width)
        for label, column_width in NUMBER_COLUMNS:
            marked = label + "▼" if SORT_COLUMNS.get(self.sort_key) == label else label
            self.add_column(Text(marked, justify="right"), width=column_width)
        return True

    @property
    def endpoint_width(self) -> int:
        """The width left for the endpoint after the fixed columns and padding."""
        fixed = METHOD_WIDTH + sum(width for _, width in NUMBER_COLUMNS)
        padding = 2 * self.cell_padding * (len(NUMBER_COLUMNS) + 2)
        available = self.scrollable_content_region.width - fixed - padding
        return min(max(available, ENDPOINT_MIN_WIDTH), ENDPOINT_MAX_WIDTH)

    def _cells(self, row: EndpointStats) -> list[Text]:
        style = Style()
        if row.is_rest:
            style = self.get_component_rich_style("endpoints--rest")
        endpoint = Text(row.endpoint or "others", style=style)
        endpoint.truncate(self.endpoint_width, overflow="ellipsis")
        error_style = style
        if row.error_ratio is not None and row.error_ratio >= ERROR_RATIO_HIGHLIGHT:
            # Partial: the full style paints the table's background over the
            # cursor row, which hid the number there.
            error_style = self.get_component_rich_style(
                "endpoints--error", partial=True
            )
        return [
            Text(row.method, style=style),
            endpoint,
            _number(fmt.rate(row.requests_per_second, "", fmt.DASH), style),
            _number(fmt.percent(row.error_ratio, fmt.DASH, sign=False), error_style),
            _number(fmt.millis(row.p50, fmt.DASH, unit=False), style),
            _number(fmt.millis(row.p95, fmt.DASH, unit=False), style),
            _number(fmt.millis(row.p99, fmt.DASH, unit=False), style),
        ]

    def _empty_cells(self) -> list[Text]:
        dashes = [_number(fmt.DASH, Style()) for _ in NUMBER_COLUMNS]
        return [Text(""), Text(fmt.NO_DATA), *dashes]


class EndpointsPane(Pane):
    """The endpoints table in a titled box that names the sort order."""

    TITLE = "Endpoints"

    sort_key = "rate"
    """The order the screen requested the snapshot's endpoint rows in."""

    def compose(self) -> ComposeResult:
        yield EndpointsTable(id="endpoints-table")

    @property
    def table(self) -> EndpointsTable:
        return self.query_one(EndpointsTable)

    def show(self, snapshot: Snapshot) -> None:
        """Show the snapshot's rows, which the core sorted by `sort_key`."""
        self.show_title(f"Endpoints · sorted by {self.sort_key}")
        self.table.show_rows(snapshot.endpoints, self.sort_key)
        self.show_age(snapshot.metrics_age)


def _same_text(old: Text, new: Text) -> bool:
    return (old.plain, old.style, old.justify) == (new.plain, new.style, new.justify)


def _number(text: str, style: Style) -> Text:
    return Text(text, style=style, justify="right")
