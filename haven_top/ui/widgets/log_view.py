"""The log pane: a tail-following view of the log store, its filter and status.

`LogView` draws only the rows on screen (Textual's line API), so a full
buffer of 100,000 records costs no more to show than 50. It reads the store
every `REDRAW_INTERVAL` and redraws only when rows were added or dropped;
sources never message it per line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.actions import SkipAction
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
from haven_top.core.logrows import LogRows
from haven_top.core.logselection import LogSelection, export_jsonl
from haven_top.core.logstore import LogStore
from haven_top.sources.logstreams import LogHub
from haven_top.ui.widgets.log_format import row_parts, status_text

_CACHE_ROWS = 512
REDRAW_INTERVAL = 0.5
"""Seconds between two reads of the store. Each read that finds new records
redraws the pane, which cost about 6 ms of CPU at 160x50 on a 2-core EPYC
(Textual 8.2.8), so new records show within this time, batched."""


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
    LogView { background: $surface; overflow-x: hidden; }
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
        self,
        store: LogStore,
        *,
        id: str | None = None,
        refresh_interval: float | None = REDRAW_INTERVAL,
    ) -> None:
        super().__init__(id=id)
        self.store = store
        self.rows = LogRows(LogSelection(store))
        self.refresh_interval = refresh_interval
        """Seconds between reads of the store; None when the owner calls
        `poll_store` itself."""
        self.held = False
        self.new_while_held = 0
        self.evicted_while_held = 0
        """Rows of the selection whose records the store evicted during the hold."""
        self.cursor = -1
        """Row of the cursor; -1 before any row exists."""
        self._cursor_seq: int | None = None
        self._top_seq: int | None = None
        self._strips: dict[tuple[int, int], Strip] = {}
        """Rendered rows by (seq, width), without the cursor's style."""
        self._base_style: Style | None = None

    @property
    def selection(self) -> LogSelection:
        return self.rows.selection

    def on_mount(self) -> None:
        if self.refresh_interval is not None:
            self.set_interval(self.refresh_interval, self.poll_store)
        self.poll_store()
        self._sync_rows()

    # Reading the store

    def poll_store(self) -> None:
        """Take in new and evicted records; move only when following.

        Does nothing, not even a repaint, when no row was added or dropped.
        """
        new, evicted = self.rows.refresh()
        if not new and not evicted:
            return
        if self.held:
            self.new_while_held += new
            self.evicted_while_held += evicted
        self._sync_rows()
        if self.held:
            # Rows that arrived below a part-filled screen are on screen now.
            self._pin_screen()
            self.post_message(self.HoldChanged())

    def set_filter(self, log_filter_text: str) -> None:
        """Apply a filter to the whole buffer and to every later record.

        Raises `FilterError` for an invalid filter, leaving the old one.
        """
        log_filter = parse_filter(log_filter_text, is_request_id=self.store.has_request)
        self.rows = LogRows(LogSelection(self.store, log_filter))
        self.follow()

    def _sync_rows(self) -> None:
        count = len(self.rows)
        self._set_row_count(count)
        if not self.held:
            self.cursor = count - 1
            self._cursor_seq = self.rows.seq_at(self.cursor)
            self.scroll_to(y=max(0, count - self.size.height), animate=False)
        else:
            self._keep_anchors(count)
        self.refresh()

    def _set_row_count(self, count: int) -> None:
        """Set the scrollable height without a layout of the whole screen.

        Assigning `virtual_size` requests a layout of the screen, which
        renders every pane again. Five times a second, that cost the demo
        dashboard about 7% of a core. A row count changes nothing
        outside this view, so only its scrollbar is updated.
        """
        size = Size(self.scrollable_content_region.width, count)
        if size == self.virtual_size:
            return
        self.set_reactive(LogView.virtual_size, size)
        # NOTE: `_scroll_update` is private in Textual 8.2.8. Textual's own
        # `_size_updated` calls it the same way after a layout.
        self._scroll_update(size)

    def _keep_anchors(self, count: int) -> None:
        """Put the held records back where they were after rows moved."""
        self.cursor = self._index_or_clamp(self._cursor_seq, count)
        top = self._index_or_clamp(self._top_seq, count)
        self.scroll_to(y=top, animate=False)

    def _index_or_clamp(self, seq: int | None, count: int) -> int:
        if seq is None or count == 0:
            return max(-1, count - 1) if seq is None else 0
        index = self.rows.index_of(seq)
        if index is not None:
            return index
        first = self.rows.seq_at(0)
        return 0 if first is None or seq < first else count - 1

    def _seq_or_none(self, row: int) -> int | None:
        return self.rows.seq_at(row)

    # Holding and following

    def hold(self) -> None:
        if not self.held:
            self.held = True
            self.new_while_held = 0
            self.evicted_while_held = 0
        self._remember_anchors()
        self.post_message(self.HoldChanged())

    def follow(self) -> None:
        self.held = False
        self.new_while_held = 0
        self.evicted_while_held = 0
        self.rows.unpin()
        self._sync_rows()
        self.post_message(self.HoldChanged())

    def _remember_anchors(self) -> None:
        """Note the records at the top and the cursor, and pin those on screen."""
        self._cursor_seq = self._seq_or_none(self.cursor)
        self._top_seq = self._seq_or_none(int(self.scroll_offset.y))
        if self.held:
            self._pin_screen()
            # Ghost rows scrolled off screen are gone, so rows may have moved.
            count = len(self.rows)
            self._set_row_count(count)
            self._keep_anchors(count)

    def _pin_screen(self) -> None:
        top = int(self.scroll_offset.y)
        seqs = [self.rows.seq_at(row) for row in range(top, top + self.size.height)]
        seqs.append(self._cursor_seq)
        self.rows.pin(seq for seq in seqs if seq is not None)

    def screen_pauses_logs(self) -> bool:
        """Return True on a screen whose pause key freezes the logs with the rest."""
        return bool(getattr(self.screen, "PAUSES_LOGS", False))

    def action_toggle_hold(self) -> None:
        if self.screen_pauses_logs():
            # Pass the key on to the screen's pause, which freezes this view too.
            raise SkipAction()
        if self.held:
            self.follow()
        else:
            self.hold()

    def action_follow(self) -> None:
        if self.screen_pauses_logs() and getattr(self.screen, "paused", False):
            self.notify("Paused: press p to resume the screen, logs included.")
            return
        self.follow()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.hold()
        self.call_after_refresh(self._remember_anchors)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.call_after_refresh(self._remember_anchors)

    # The cursor

    def move_cursor(self, row: int) -> None:
        count = len(self.rows)
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
        self._jump(self.rows.find_problem(self.cursor, 1), "after")

    def action_previous_problem(self) -> None:
        self._jump(self.rows.find_problem(self.cursor, -1), "before")

    def _jump(self, row: int | None, where: str) -> None:
        if row is None:
            self.notify(f"No ERROR or 5xx record {where} the cursor.", timeout=3)
            return
        self.hold()
        self.move_cursor(row)

    def cursor_record(self) -> LogRecord | None:
        seq = self._seq_or_none(self.cursor)
        return None if seq is None else self.rows.record(seq)

    def action_open_request(self) -> None:
        record = self.cursor_record()
        if record is None or record.request_id is None:
            self.notify("This record has no request ID.", severity="warning", timeout=3)
            return
        self.post_message(self.RequestChosen(record.request_id))

    # Drawing

    @property
    def base_style(self) -> Style:
        """The view's own Rich style, kept until the CSS or theme changes.

        Textual works `rich_style` out from every ancestor on each call, which
        cost half the time of rendering a row.
        """
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        row = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        seq = self._seq_or_none(row)
        if seq is None:
            return Strip.blank(width, self.base_style)
        strip = self._strips.get((seq, width))
        if strip is None:
            strip = self._render_row(seq, width)
            if len(self._strips) >= _CACHE_ROWS:
                self._strips.clear()
            self._strips[(seq, width)] = strip
        if row == self.cursor and self.has_focus:
            strip = strip.apply_style(self.get_component_rich_style("log-view--cursor"))
        return strip

    def _render_row(self, seq: int, width: int) -> Strip:
        record = self.rows.record(seq)
        base = self.base_style
        if record is None:
            return Strip.blank(width, base)
        segments = [
            Segment(text, base + style if style else base)
            for text, style in row_parts(record, width, self.get_component_rich_style)
        ]
        return Strip(segments).adjust_cell_length(width, base)

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self._sync_rows()
        if self.held:
            self._pin_screen()

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
        self._status_shown: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="log-status", markup=False)
        yield LogView(self.hub.store, id="log-view", refresh_interval=None)
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
        # One timer reads the store and updates the status line, so that both
        # are drawn in the same screen update.
        self.set_interval(REDRAW_INTERVAL, self.poll)
        self.update_status()

    def poll(self) -> None:
        self.view.poll_store()
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
        """Show the status line again when its text changed."""
        text = status_text(self.hub, self.view)
        if text.plain == self._status_shown:
            return
        self._status_shown = text.plain
        # One fixed-height line: no layout of the screen is needed.
        self.query_one("#log-status", Static).update(text, layout=False)
