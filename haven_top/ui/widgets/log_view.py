"""The log pane: a tail-following view of the log store, its filter and status.

`LogView` draws only the rows on screen (Textual's line API), so a full
buffer of 100,000 records costs no more to show than 50. It reads the store
a few times a second; sources never message it per line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from haven_top.core.logfilter import FilterError, parse_filter
from haven_top.core.logrecord import LogRecord
from haven_top.core.logselection import LogSelection, export_jsonl
from haven_top.core.logstore import LogStore
from haven_top.core.sanitize import display_line, visible
from haven_top.sources.logstreams import LogHub

LEVEL_LABELS = {10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR", 50: "CRIT", 0: "?"}
LEVEL_CLASSES = {
    10: "log-view--debug",
    20: "log-view--info",
    30: "log-view--warning",
    40: "log-view--error",
    50: "log-view--critical",
}
_CACHE_ROWS = 512


def format_clock(stamp: float) -> str:
    """Format Unix time as local HH:MM:SS.mmm."""
    millis = int(stamp * 1000) % 1000
    return time.strftime("%H:%M:%S", time.localtime(stamp)) + f".{millis:03d}"


def format_duration(duration_ms: float | None) -> str:
    if duration_ms is None:
        return ""
    if duration_ms >= 10_000:
        return f"{duration_ms / 1000:.0f}s"
    if duration_ms >= 1_000:
        return f"{duration_ms / 1000:.1f}s"
    return f"{duration_ms:.0f}ms"


def short_id(request_id: str | None) -> str:
    return (request_id or "")[:8]


class LogView(ScrollView, can_focus=True):
    """Rows of the records in a `LogSelection`, newest at the bottom.

    Following (the default), the view shows the tail. Holding, it stays on
    the same records while ingest goes on, and counts the new ones.
    """

    BINDINGS = [
        Binding("p", "toggle_hold", "Hold logs", id="logs.hold"),
        Binding("end", "follow", "Follow tail", id="logs.follow"),
        Binding("n", "next_problem", "Next error", id="logs.next_error"),
        Binding("N", "previous_problem", "Prev error", id="logs.previous_error"),
        Binding("enter", "open_request", "Request", id="logs.open_request"),
        Binding("up", "cursor(-1)", "Up", show=False, id="logs.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="logs.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="logs.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="logs.page_down"),
        Binding("home", "first", "Oldest", show=False, id="logs.oldest"),
    ]
    COMPONENT_CLASSES = {
        "log-view--debug",
        "log-view--info",
        "log-view--warning",
        "log-view--error",
        "log-view--critical",
        "log-view--dim",
        "log-view--cursor",
        "log-view--status-error",
    }
    DEFAULT_CSS = """
    LogView { background: $surface; }
    LogView > .log-view--debug { color: $text-muted; }
    LogView > .log-view--info { color: $success; }
    LogView > .log-view--warning { color: $warning; text-style: bold; }
    LogView > .log-view--error { color: $error; text-style: bold; }
    LogView > .log-view--critical { color: $error; text-style: bold reverse; }
    LogView > .log-view--dim { color: $text-muted; }
    LogView > .log-view--status-error { color: $error; }
    LogView > .log-view--cursor { background: $accent 40%; }
    """

    class RequestChosen(Message):
        """The operator asked for everything about one request."""

        def __init__(self, request_id: str) -> None:
            super().__init__()
            self.request_id = request_id

    class HoldChanged(Message):
        """The view started or stopped following the tail."""

    def __init__(
        self, store: LogStore, *, id: str | None = None, refresh_interval: float = 0.2
    ) -> None:
        super().__init__(id=id)
        self.store = store
        self.selection = LogSelection(store)
        self.refresh_interval = refresh_interval
        self.held = False
        self.new_while_held = 0
        self.cursor = -1
        """Row of the cursor; -1 before any row exists."""
        self._cursor_seq: int | None = None
        self._top_seq: int | None = None
        self._rows: dict[tuple[int, int], Strip] = {}

    def on_mount(self) -> None:
        self.set_interval(self.refresh_interval, self.poll_store)
        self.poll_store()

    # Reading the store

    def poll_store(self) -> None:
        """Take in new and evicted records; move only when following."""
        new = self.selection.refresh()
        if self.held:
            self.new_while_held += new
        self._sync_rows()
        if new or self.held:
            self.post_message(self.HoldChanged())

    def set_filter(self, log_filter_text: str) -> None:
        """Apply a filter to the whole buffer and to every later record.

        Raises `FilterError` for an invalid filter, leaving the old one.
        """
        log_filter = parse_filter(log_filter_text, is_request_id=self.store.has_request)
        self.selection = LogSelection(self.store, log_filter)
        self._rows.clear()
        self.follow()

    def _sync_rows(self) -> None:
        count = len(self.selection)
        self.virtual_size = Size(self.size.width, count)
        if not self.held:
            self.cursor = count - 1
            self._cursor_seq = self._seq_or_none(self.cursor)
            self.scroll_to(y=max(0, count - self.size.height), animate=False)
        else:
            self._keep_anchors(count)
        self.refresh()

    def _keep_anchors(self, count: int) -> None:
        """Put the held records back where they were after rows moved."""
        cursor = self._index_or_clamp(self._cursor_seq, count)
        top = self._index_or_clamp(self._top_seq, count)
        self.cursor = cursor
        self.scroll_to(y=top, animate=False)

    def _index_or_clamp(self, seq: int | None, count: int) -> int:
        if seq is None or count == 0:
            return max(-1, count - 1) if seq is None else 0
        index = self.selection.index_of(seq)
        if index is not None:
            return index
        return 0 if seq < self.selection.seq_at(0) else count - 1

    def _seq_or_none(self, row: int) -> int | None:
        if 0 <= row < len(self.selection):
            return self.selection.seq_at(row)
        return None

    # Holding and following

    def hold(self) -> None:
        if not self.held:
            self.held = True
            self.new_while_held = 0
        self._remember_anchors()
        self.post_message(self.HoldChanged())

    def follow(self) -> None:
        self.held = False
        self.new_while_held = 0
        self._sync_rows()
        self.post_message(self.HoldChanged())

    def _remember_anchors(self) -> None:
        self._cursor_seq = self._seq_or_none(self.cursor)
        self._top_seq = self._seq_or_none(int(self.scroll_offset.y))

    def action_toggle_hold(self) -> None:
        if self.held:
            self.follow()
        else:
            self.hold()

    def action_follow(self) -> None:
        self.follow()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.hold()
        self.call_after_refresh(self._remember_anchors)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.call_after_refresh(self._remember_anchors)

    # The cursor

    def move_cursor(self, row: int) -> None:
        count = len(self.selection)
        if count == 0:
            return
        row = max(0, min(count - 1, row))
        if row != count - 1 or self.held:
            self.hold()
        self.cursor = row
        self.scroll_to_region_row(row)
        self._remember_anchors()
        self.refresh()

    def scroll_to_region_row(self, row: int) -> None:
        top = int(self.scroll_offset.y)
        height = max(1, self.size.height)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor + step)

    def action_page(self, step: int) -> None:
        self.move_cursor(self.cursor + step * max(1, self.size.height - 1))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_next_problem(self) -> None:
        self._jump(self.selection.find_problem(self.cursor, 1), "after")

    def action_previous_problem(self) -> None:
        self._jump(self.selection.find_problem(self.cursor, -1), "before")

    def _jump(self, row: int | None, where: str) -> None:
        if row is None:
            self.notify(f"No ERROR or 5xx record {where} the cursor.", timeout=3)
            return
        self.hold()
        self.move_cursor(row)

    def cursor_record(self) -> LogRecord | None:
        seq = self._seq_or_none(self.cursor)
        return None if seq is None else self.store.get(seq)

    def action_open_request(self) -> None:
        record = self.cursor_record()
        if record is None or record.request_id is None:
            self.notify("This record has no request ID.", severity="warning", timeout=3)
            return
        self.post_message(self.RequestChosen(record.request_id))

    # Drawing

    def render_line(self, y: int) -> Strip:
        row = int(self.scroll_offset.y) + y
        width = self.size.width
        seq = self._seq_or_none(row)
        if seq is None:
            return Strip.blank(width, self.rich_style)
        strip = self._rows.get((seq, width))
        if strip is None:
            strip = self._render_row(seq, width)
            if len(self._rows) >= _CACHE_ROWS:
                self._rows.clear()
            self._rows[(seq, width)] = strip
        if row == self.cursor and self.has_focus:
            strip = strip.apply_style(self.get_component_rich_style("log-view--cursor"))
        return strip

    def _render_row(self, seq: int, width: int) -> Strip:
        record = self.store.get(seq)
        if record is None:
            return Strip.blank(width, self.rich_style)
        text = self.row_text(record, width)
        segments = list(text.render(self.app.console))
        base = self.rich_style
        styled = [
            Segment(segment.text, base + segment.style if segment.style else base)
            for segment in segments
        ]
        return Strip(styled).adjust_cell_length(width, base)

    def row_text(self, record: LogRecord, width: int) -> Text:
        """Build one row as plain text with styles; nothing in it is markup."""
        dim = self.get_component_rich_style("log-view--dim")
        level_class = LEVEL_CLASSES.get(record.level)
        level_style = self.get_component_rich_style(level_class) if level_class else dim
        text = Text(no_wrap=True, overflow="crop", end="")
        text.append(format_clock(record.timestamp) + " ", dim)
        if record.is_raw:
            text.append(" " * 6)
            text.append(f"{visible(record.instance or '')[:14]:<14} ", dim)
            text.append(display_line(record.raw, limit=max(width, 40)))
            return text
        text.append(f"{LEVEL_LABELS.get(record.level, '?'):<5} ", level_style)
        text.append(f"{visible(record.instance or '')[:14]:<14} ", dim)
        text.append(f"{visible(short_id(record.request_id)):<8} ", dim)
        text.append(f"{visible(record.method or '')[:6]:<6} ")
        text.append(f"{visible(record.path or '')[:28]:<28} ")
        status = record.status
        status_style = (
            self.get_component_rich_style("log-view--status-error")
            if (status or 0) >= 500
            else Style()
        )
        text.append(f"{status or '':>3} ", status_style)
        text.append(f"{format_duration(record.duration_ms):>6} ", dim)
        message_style = level_style if record.level >= 30 else Style()
        text.append(display_line(record.message, limit=max(width, 40)), message_style)
        return text

    def on_resize(self, event: events.Resize) -> None:
        self._rows.clear()
        self._sync_rows()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class LogPane(Vertical):
    """The log view with its status line and filter input."""

    BINDINGS = [
        Binding("slash", "open_filter", "Filter", id="logs.filter"),
        Binding("escape", "clear_filter", "Clear filter", id="logs.clear_filter"),
        Binding("e", "export", "Export", id="logs.export"),
    ]
    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    LogPane > #log-status { height: 1; background: $panel; color: $text; }
    LogPane > LogView { height: 1fr; }
    LogPane > Input { display: none; height: 3; }
    LogPane > Input.-open { display: block; }
    """

    def __init__(
        self,
        hub: LogHub,
        *,
        id: str | None = None,
        initial_filter: str = "",
        export_dir: Path | None = None,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(id=id)
        self.hub = hub
        self.initial_filter = initial_filter
        self.export_dir = export_dir or Path.cwd()
        self.on_request = on_request

    def compose(self) -> ComposeResult:
        yield Static("", id="log-status", markup=False)
        yield LogView(self.hub.store, id="log-view")
        yield Input(
            placeholder="filter: text level>=WARNING status>=500 path=/api/* !text",
            id="log-filter",
        )

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        if self.initial_filter:
            self.apply_filter(self.initial_filter)
        self.set_interval(0.5, self.update_status)
        self.update_status()

    def apply_filter(self, text: str) -> bool:
        try:
            self.view.set_filter(text)
        except FilterError as error:
            self.notify(str(error), title="Filter", severity="error", markup=False)
            return False
        self.update_status()
        return True

    def action_open_filter(self) -> None:
        field = self.query_one("#log-filter", Input)
        field.add_class("-open")
        field.value = self.view.selection.filter.text
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.apply_filter(event.value):
            self._close_filter()

    def action_clear_filter(self) -> None:
        self.view.set_filter("")
        self._close_filter()
        self.update_status()

    def _close_filter(self) -> None:
        self.query_one("#log-filter", Input).remove_class("-open")
        self.view.focus()

    def action_export(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.export_dir / f"haven-top-logs-{stamp}.jsonl"
        try:
            count = export_jsonl(self.view.selection.records(), path)
        except OSError as error:
            self.notify(
                f"Export to {path} failed: {error.strerror}; check the folder",
                severity="error",
                markup=False,
            )
            return
        self.notify(f"Wrote {count} records to {path}", title="Export", markup=False)

    def on_log_view_request_chosen(self, event: LogView.RequestChosen) -> None:
        if self.on_request is not None:
            event.stop()
            self.on_request(event.request_id)

    def on_log_view_hold_changed(self, event: LogView.HoldChanged) -> None:
        self.update_status()

    def update_status(self) -> None:
        self.query_one("#log-status", Static).update(status_text(self.hub, self.view))


def status_text(hub: LogHub, view: LogView) -> Text:
    """Build the pane's status line: counts, filter, hold state, source states."""
    store = hub.store
    parts = [f"Logs {len(store):,} kept", f"{hub.evicted:,} evicted"]
    log_filter = view.selection.filter
    if log_filter:
        parts.append(f"filter {log_filter.text!r}: {len(view.selection):,} match")
    if view.held:
        parts.append(f"HELD +{view.new_while_held:,} new (End resumes)")
    else:
        parts.append("following")
    for status in hub.statuses.values():
        shown = status.detail and status.state != "connected"
        detail = f" ({status.detail})" if shown else ""
        parts.append(f"{status.name}: {status.state}{detail}")
    return Text(visible(" · ".join(parts)), no_wrap=True, overflow="ellipsis")
