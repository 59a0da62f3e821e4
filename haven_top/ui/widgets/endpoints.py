"""The endpoints pane: one table row per method and endpoint, top rows first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.color import Color
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
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


@dataclass(frozen=True)
class _LineContext:
    """Width and styles shared by every line of one repaint of the table."""

    width: int
    scroll_x: int
    scroll_y: int
    base: Style
    header: Style
    even_row: Style
    odd_row: Style
    cursor: Style
    background: Color


class EndpointsTable(DataTable[Text]):
    """Rows of `EndpointStats` as the snapshot orders them.

    The table has no cursor unless the screen turns on a row cursor, which it
    does when Enter on a row can list the endpoint's requests from the logs.
    """

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
        self._strips: dict[int, tuple[object, Strip]] = {}
        """Row index (-1 for the header) to the key it was drawn for and its strip."""
        self._line_pass: _LineContext | None = None
        """Set while a repaint draws its lines, so they share one lookup."""
        self._endpoint_column_width = ENDPOINT_MIN_WIDTH

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
        self._endpoint_column_width = self.endpoint_width
        self.add_column("endpoint", width=self._endpoint_column_width)
        for label, column_width in NUMBER_COLUMNS:
            marked = label + "▼" if SORT_COLUMNS.get(self.sort_key) == label else label
            self.add_column(Text(marked, justify="right"), width=column_width)
        return True

    def render_lines(self, crop: Region) -> list[Strip]:
        # Styles and sizes are looked up once per repaint, not once per line.
        self._line_pass = self._line_context()
        try:
            return super().render_lines(crop)
        finally:
            self._line_pass = None

    def render_line(self, y: int) -> Strip:
        """Draw line `y` from a strip cached per row, rebuilt when its cells change.

        DataTable renders every cell through Rich's console on each refresh,
        about 40% of the dashboard's CPU in a py-spy profile at 160x50. Fixed
        rows or columns or a taller header fall back to DataTable's drawing.
        NOTE: the mouse hover highlight of DataTable is not drawn here.
        """
        if self.fixed_rows or self.fixed_columns or self.header_height != 1:
            return super().render_line(y)
        context = self._line_pass or self._line_context()
        row_index = -1 if y == 0 and self.show_header else y - 1 + context.scroll_y
        if row_index >= self.row_count:
            return Strip.blank(context.width, context.base)
        strip = self._row_strip(row_index, context)
        if context.scroll_x:
            return strip.crop(context.scroll_x, context.scroll_x + context.width)
        return strip

    def _line_context(self) -> _LineContext:
        scroll_x, scroll_y = self.scroll_offset
        style = self.get_component_rich_style
        return _LineContext(
            width=self.size.width,
            scroll_x=scroll_x,
            scroll_y=scroll_y,
            base=self.rich_style,
            header=style("datatable--header"),
            even_row=style("datatable--even-row"),
            odd_row=style("datatable--odd-row"),
            cursor=style("datatable--cursor"),
            background=self.background_colors[1],
        )

    def _row_strip(self, row_index: int, context: _LineContext) -> Strip:
        if row_index < 0:
            cells = [column.label for column in self.ordered_columns]
            row_style = context.header
        else:
            cells = self.get_row_at(row_index)
            row_style = context.odd_row if row_index % 2 else context.even_row
        cursor = (
            row_index >= 0
            and self.show_cursor
            and self.cursor_type == "row"
            and row_index == self.cursor_row
        )
        key = (
            tuple((cell.plain, cell.style, cell.justify) for cell in cells),
            row_style,
            cursor,
            context,
            self.cell_padding,
            self.cursor_type,
        )
        cached = self._strips.get(row_index)
        if cached is not None and cached[0] == key:
            return cached[1]
        strip = self._build_row_strip(row_index, cells, row_style, cursor, context)
        self._strips[row_index] = (key, strip)
        return strip

    def _build_row_strip(
        self,
        row_index: int,
        cells: list[Text],
        row_style: Style,
        cursor: bool,
        context: _LineContext,
    ) -> Strip:
        """Lay out `cells` as DataTable does: padding, justification, cursor."""
        component = Style()
        post = Style()
        if cursor:
            component = context.cursor
            # DataTable's default: the cursor's colour wins over the cell's own.
            post = Style.from_color(component.color)
        padding = " " * self.cell_padding
        segments: list[Segment] = []
        for column_index, (column, cell) in enumerate(
            zip(self.ordered_columns, cells, strict=True)
        ):
            meta = Style.from_meta({"row": row_index, "column": column_index})
            outer = row_style + meta + component
            content_width = column.get_render_width(self) - 2 * self.cell_padding
            text = _fit(cell, content_width)
            segments.append(Segment(padding, outer + post))
            segments.append(Segment(text, outer + _style_of(cell) + post))
            segments.append(Segment(padding, outer + post))
        width = context.width + context.scroll_x
        used = sum(segment.cell_length for segment in segments)
        if used < width:
            extend = self._extend_style(row_style, component, context.background)
            meta = Style.from_meta(
                {"row": row_index, "column": 0, "out_of_bounds": True}
            )
            segments.append(Segment(" " * (width - used), extend + meta))
        return Strip(segments).adjust_cell_length(width, context.base).simplify()

    def _extend_style(
        self, row_style: Style, component: Style, background: Color
    ) -> Style:
        """Style the blank right of the last column as DataTable does."""
        if self.cursor_type == "row":
            return row_style + component
        if row_style.bgcolor is None:
            return Style.from_color(row_style.color, row_style.bgcolor)
        faded = Color.from_rich_color(row_style.bgcolor).blend(background, factor=0.25)
        return Style.from_color(row_style.color, faded.rich_color)

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
        endpoint.truncate(self._endpoint_column_width, overflow="ellipsis")
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


def _fit(cell: Text, width: int) -> str:
    """Pad or crop `cell` to `width` cells, honouring its justification."""
    text = cell.plain
    if cell_len(text) >= width:
        return set_cell_size(text, width)
    if cell.justify == "right":
        return " " * (width - cell_len(text)) + text
    return set_cell_size(text, width)


def _style_of(cell: Text) -> Style:
    style = cell.style
    return Style.parse(style) if isinstance(style, str) else style


def _same_text(old: Text, new: Text) -> bool:
    return (old.plain, old.style, old.justify) == (new.plain, new.style, new.justify)


def _number(text: str, style: Style) -> Text:
    return Text(text, style=style, justify="right")
