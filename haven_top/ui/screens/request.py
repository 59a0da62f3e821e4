"""Drill-down screens: one request's records, and an endpoint's recent requests."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from haven_top.core.logrecord import LogRecord
from haven_top.core.logrequests import (
    RequestSummary,
    recent_requests,
    summarise,
)
from haven_top.core.logstore import LogStore
from haven_top.core.sanitize import cut, visible
from haven_top.ui.widgets.log_format import format_clock, format_duration

RECORD_CHARS = 20_000
"""Characters of one record shown on the request screen; the store keeps all."""


def summary_text(summary: RequestSummary, instances: list[str]) -> Text:
    """The request screen's heading: method, path, status, duration, instances."""
    text = Text(no_wrap=False)
    text.append("Request ", "bold")
    text.append(visible(summary.request_id), "bold")
    text.append("\n")
    text.append(visible(f"{summary.method or '?'} {summary.path or '?'}"))
    text.append("  status ")
    text.append(str(summary.status or "?"), "bold red" if summary.failed else "bold")
    text.append(f"  duration {format_duration(summary.duration_ms) or '?'}")
    text.append(f"  {summary.record_count} records from ")
    text.append(visible(", ".join(instances) or "?"))
    return text


def record_text(record: LogRecord, gap: float | None) -> Text:
    """Build one record in full: time, gap since the previous one, instance, line."""
    text = Text()
    text.append(format_clock(record.timestamp), "bold")
    if gap is not None:
        text.append(f"  +{gap * 1000:.0f} ms", "dim")
    text.append(f"  {record.level_name or 'raw'}", "bold")
    text.append(visible(f"  {record.instance or ''}  {record.logger}"), "dim")
    text.append("\n")
    document = record.document
    if document is not None:
        text.append(visible(cut(record.message, RECORD_CHARS), multiline=True))
        rest = {key: value for key, value in document.items() if key != "message"}
        for key, value in rest.items():
            text.append(f"\n  {visible(str(key))}: ", "dim")
            text.append(visible(cut(str(value), RECORD_CHARS), multiline=True))
    else:
        text.append(visible(cut(record.text, RECORD_CHARS), multiline=True))
    return text


class RequestScreen(Screen[None]):
    """Every retained record of one request, from every instance, by time."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="request.back"),
        Binding("c", "copy_id", "Copy ID", id="request.copy_id"),
        Binding("r", "reload", "Reload", id="request.reload"),
    ]
    DEFAULT_CSS = """
    RequestScreen #request-summary { padding: 0 1; background: $panel; }
    RequestScreen .request-record { padding: 0 1; margin-bottom: 1; }
    """

    def __init__(self, store: LogStore, request_id: str) -> None:
        super().__init__()
        self.store = store
        self.request_id = request_id

    def compose(self) -> ComposeResult:
        yield Static(id="request-summary", markup=False)
        yield VerticalScroll(id="request-records")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        records = self.store.request_records(self.request_id)
        instances = sorted({record.instance or "" for record in records} - {""})
        summary = summarise(self.request_id, records)
        self.query_one("#request-summary", Static).update(
            summary_text(summary, instances)
        )
        container = self.query_one("#request-records", VerticalScroll)
        container.remove_children()
        widgets = [
            Static(record_text(record, gap), classes="request-record", markup=False)
            for record, gap in zip(records, _gaps(records), strict=True)
        ]
        if not widgets:
            widgets = [Static("No retained records carry this request ID.")]
        container.mount_all(widgets)

    def action_copy_id(self) -> None:
        # Textual sends OSC 52, which reaches the operator's clipboard over SSH
        # in terminals that allow it.
        self.app.copy_to_clipboard(self.request_id)
        self.notify(f"Copied {self.request_id}", title="Request ID", markup=False)


def _gaps(records: list[LogRecord]) -> list[float | None]:
    gaps: list[float | None] = [None]
    for before, after in zip(records, records[1:], strict=False):
        gaps.append(after.timestamp - before.timestamp)
    return gaps[: len(records)]


def request_option(summary: RequestSummary) -> Option:
    status = str(summary.status or "?")
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(f"{status:>3} ", "bold red" if summary.failed else "bold")
    label.append(f"{format_duration(summary.duration_ms):>7} ")
    label.append(visible(f"{summary.method or ''} {summary.path or ''} "))
    label.append(visible(f"{summary.request_id} {summary.instance or ''}"), "dim")
    return Option(label, id=summary.request_id)


class RequestPickerModal(ModalScreen[str | None]):
    """Recent requests to one endpoint, failed first, then slowest."""

    BINDINGS = [
        Binding("escape", "dismiss_none", "Back", id="picker.back"),
    ]
    DEFAULT_CSS = """
    RequestPickerModal { align: center middle; }
    RequestPickerModal > VerticalScroll {
        width: 90%; height: 70%; border: round $primary; background: $surface;
    }
    RequestPickerModal #picker-title { padding: 0 1; }
    """

    def __init__(self, store: LogStore, method: str | None, endpoint: str) -> None:
        super().__init__()
        self.store = store
        self.method = method
        self.endpoint = endpoint

    def compose(self) -> ComposeResult:
        summaries = recent_requests(self.store, self.method, self.endpoint)
        title = f"Recent requests to {self.method or ''} {self.endpoint}"
        with VerticalScroll():
            yield Static(visible(title), id="picker-title", markup=False)
            if summaries:
                yield OptionList(*[request_option(s) for s in summaries])
            else:
                yield Static(
                    "No retained log records for this endpoint. Logs come from "
                    "each target's /logs/stream, --logs or --logs-command.",
                    markup=False,
                )

    def on_mount(self) -> None:
        for options in self.query(OptionList):
            options.highlighted = 0
            options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
