"""The log pane and drill-down screens through Pilot, on a real store."""

from __future__ import annotations

import json
import time
from pathlib import Path

from textual.app import App, ComposeResult
from textual.strip import Strip

from haven_top.core.logstore import LogStore
from haven_top.sources.logstreams import LogHub
from haven_top.ui.screens.request import RequestPickerModal, RequestScreen
from haven_top.ui.widgets.log_format import instance_label
from haven_top.ui.widgets.log_view import LogPane, LogView


def line(
    i: int, *, status: int = 200, level: str = "INFO", rid: str = "", **extra
) -> bytes:  # noqa: ANN003
    doc = {
        "timestamp": "2025-01-15T12:00:00.000Z",
        "level": level,
        "logger": "haven.api",
        "message": extra.pop("message", f"request {i}"),
        "extra": {
            "request_id": rid or f"req-{i:05d}",
            "method": "GET",
            "path": extra.pop("path", f"/api/v1/records/{i}"),
            "status_code": status,
            "duration_ms": 10 + i,
        },
    }
    return json.dumps(doc).encode()


class LogApp(App[None]):
    def __init__(self, hub: LogHub, export_dir: Path | None = None, **pane) -> None:  # noqa: ANN003
        super().__init__()
        self.hub = hub
        self.export_dir = export_dir
        self.pane_options = pane

    def compose(self) -> ComposeResult:
        yield LogPane(
            self.hub,
            export_dir=self.export_dir,
            on_request=self.open_request,
            **self.pane_options,
        )

    def open_request(self, request_id: str) -> None:
        self.push_screen(RequestScreen(self.hub.store, request_id))


def screen_rows(view: LogView) -> list[str]:
    return [view.render_line(y).text for y in range(view.size.height)]


def make_hub(count: int = 30, capacity: int = 1000) -> LogHub:
    store = LogStore(capacity)
    store.ingest([line(i) for i in range(count)], "inst-a", time.time())
    return LogHub(store)


async def test_view_follows_tail() -> None:
    hub = make_hub(30)
    app = LogApp(hub)
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        await pilot.pause()
        rows = [row for row in screen_rows(view) if row.strip()]
        assert "request 29" in rows[-1]
        hub.store.ingest([line(i) for i in range(30, 35)], "inst-a", time.time())
        view.poll_store()
        await pilot.pause()
        assert "request 34" in screen_rows(view)[-1]


async def test_hold_keeps_view_and_counts_new() -> None:
    hub = make_hub(30)
    app = LogApp(hub)
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        await pilot.press("p")
        before = screen_rows(view)
        hub.store.ingest([line(i) for i in range(30, 40)], "inst-a", time.time())
        view.poll_store()
        await pilot.pause()
        assert screen_rows(view) == before
        assert view.new_while_held == 10
        status = str(app.query_one("#log-status").render())
        assert "HELD +10 new" in status
        await pilot.press("end")
        await pilot.pause()
        assert "request 39" in screen_rows(view)[-1]
        assert not view.held


async def test_hold_survives_eviction() -> None:
    hub = make_hub(100, capacity=100)
    app = LogApp(hub)
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        await pilot.press("up", "up")
        before = screen_rows(view)
        hub.store.ingest([line(i) for i in range(100, 110)], "inst-a", time.time())
        view.poll_store()
        await pilot.pause()
        assert screen_rows(view) == before


async def test_scrolling_up_holds() -> None:
    hub = make_hub(200)
    app = LogApp(hub)
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        await pilot.press("pageup")
        assert view.held


async def test_markup_and_escapes_print_literally() -> None:
    store = LogStore(100)
    store.ingest(
        [
            line(
                1, message="[bold]not bold[/bold] [link=https://evil.example]x[/link]"
            ),
            line(2, message="unbalanced [/] close"),
            line(3, message="esc \x1b[31mred\x1b[0m osc \x1b]0;title\x07 nul \x00"),
            b"raw \x1b]52;c;ZXZpbA==\x07 clipboard write \xff",
            b"y" * 1_000_000,
        ],
        "inst",
        time.time(),
    )
    app = LogApp(LogHub(store))
    async with app.run_test(size=(200, 12)) as pilot:
        view = app.query_one(LogView)
        await pilot.pause()
        rows = screen_rows(view)
        text = "\n".join(rows)
        assert "[bold]not bold[/bold] [link=https://evil.example]x[/link]" in text
        assert "unbalanced [/] close" in text
        assert "esc ^[[31mred^[[0m osc ^[]0;title^G nul ^@" in text
        assert "raw ^[]52;c;ZXZpbA==^G clipboard write \ufffd" in text
        assert "\x1b" not in text
        assert all(len(row) == 200 for row in rows)


async def test_filter_applies_to_buffer_and_new() -> None:
    store = LogStore(1000)
    store.ingest(
        [line(i, status=503 if i % 10 == 0 else 200) for i in range(100)], "a", 1.0
    )
    hub = LogHub(store)
    app = LogApp(hub)
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        await pilot.press("slash")
        await pilot.press(*"status>=500", "enter")
        await pilot.pause()
        assert len(view.selection) == 10
        store.ingest([line(200, status=500), line(201)], "a", 2.0)
        view.poll_store()
        await pilot.pause()
        assert len(view.selection) == 11
        assert "request 200" in screen_rows(view)[10]
        await pilot.press("escape")
        await pilot.pause()
        assert len(view.selection) == 102


async def test_invalid_filter_keeps_old() -> None:
    app = LogApp(make_hub(10))
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        await pilot.press("slash", *"level>=LOUD", "enter")
        await pilot.pause()
        assert not view.selection.filter
        assert any("level>=LOUD" in str(n.message) for n in app._notifications)


async def test_initial_filter_from_request_id() -> None:
    app = LogApp(make_hub(50), initial_filter="request_id=req-00007")
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause()
        view = app.query_one(LogView)
        assert len(view.selection) == 1


async def test_next_and_previous_problem() -> None:
    store = LogStore(1000)
    lines = [line(i) for i in range(50)]
    lines[10] = line(10, level="ERROR")
    lines[30] = line(30, status=502)
    store.ingest(lines, "a", 1.0)
    app = LogApp(LogHub(store))
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        await pilot.press("N")
        assert view.cursor == 30
        await pilot.press("N")
        assert view.cursor == 10
        await pilot.press("n")
        assert view.cursor == 30
        assert view.held


async def test_export_writes_filtered(tmp_path: Path) -> None:
    store = LogStore(1000)
    store.ingest([line(i, status=500 if i < 3 else 200) for i in range(20)], "a", 1.0)
    app = LogApp(LogHub(store), export_dir=tmp_path, initial_filter="status>=500")
    async with app.run_test(size=(120, 20)) as pilot:
        app.query_one(LogView).focus()
        await pilot.press("e")
        await pilot.pause()
        files = list(tmp_path.glob("haven-top-logs-*.jsonl"))
        assert len(files) == 1
        rows = files[0].read_text().splitlines()
        assert len(rows) == 3
        assert json.loads(rows[0])["instance"] == "a"
        assert any(str(files[0]) in str(n.message) for n in app._notifications)


async def test_enter_opens_request_and_back() -> None:
    store = LogStore(1000)
    store.ingest([line(i) for i in range(20)], "inst-a", 1.0)
    store.ingest([line(99, rid="req-00019", message="second instance")], "inst-b", 2.0)
    app = LogApp(LogHub(store))
    async with app.run_test(size=(120, 30)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RequestScreen)
        assert screen.request_id == "req-00019"
        records = screen.query(".request-record")
        assert len(records) == 2
        summary = str(screen.query_one("#request-summary").render())
        assert "inst-a, inst-b" in summary
        await pilot.press("c")
        assert app.clipboard == "req-00019"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen.query_one(LogView), LogView)


async def test_picker_lists_failed_first() -> None:
    store = LogStore(1000)
    store.ingest(
        [line(i, status=500 if i == 4 else 200) for i in range(10)], "a", time.time()
    )
    app = LogApp(LogHub(store))
    async with app.run_test(size=(120, 30)) as pilot:
        chosen: list[str | None] = []
        app.push_screen(
            RequestPickerModal(store, "GET", "/api/v1/records/{record_id}"),
            chosen.append,
        )
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert chosen == ["req-00004"]


async def test_full_buffer_draws_visible_rows_only() -> None:
    """A full 100k buffer renders only the rows on screen, not every record."""
    store = LogStore(100_000)
    store.ingest([line(i) for i in range(100_000)], "a", 1.0)
    app = LogApp(LogHub(store))
    rendered: list[int] = []
    async with app.run_test(size=(160, 50)) as pilot:
        view = app.query_one(LogView)
        render_line = view.render_line

        def counting_render_line(y: int) -> Strip:
            rendered.append(y)
            return render_line(y)

        # Instance attribute shadows the method, so the compositor calls the wrapper.
        view.render_line = counting_render_line  # type: ignore[method-assign]
        view.refresh()
        await pilot.pause()
        assert "request 99999" in screen_rows(view)[-1]
        view.focus()
        await pilot.press("home")
        await pilot.pause()
        assert "request 0" in screen_rows(view)[0]
    assert rendered
    assert max(rendered) < 50
    assert len(rendered) < 10 * 50


async def test_hold_keeps_rows_when_top_evicted() -> None:
    hub = make_hub(100, capacity=100)
    app = LogApp(hub)
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        await pilot.press("p")
        before = screen_rows(view)
        assert f"request {100 - view.size.height} " in before[0]
        # Every record on screen is evicted, most of them before the poll.
        hub.store.ingest([line(i) for i in range(100, 150)], "inst-a", time.time())
        assert screen_rows(view) == before
        hub.store.ingest([line(i) for i in range(150, 200)], "inst-a", time.time())
        view.poll_store()
        await pilot.pause()
        assert screen_rows(view) == before
        assert view.new_while_held == 100
        assert view.evicted_while_held == 100
        status = str(app.query_one("#log-status").render())
        assert "HELD +100 new, 100 evicted since" in status
        await pilot.press("end")
        await pilot.pause()
        assert "request 199" in screen_rows(view)[-1]
        assert view.rows.ghost_count == 0


async def test_held_evicted_rows_scroll_away() -> None:
    hub = make_hub(100, capacity=100)
    app = LogApp(hub)
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        await pilot.press("p")
        height = view.size.height
        hub.store.ingest([line(i) for i in range(100, 110)], "inst-a", time.time())
        view.poll_store()
        await pilot.pause()
        assert view.rows.ghost_count == 0
        hub.store.ingest([line(i) for i in range(110, 200)], "inst-a", time.time())
        view.poll_store()
        await pilot.pause()
        assert view.rows.ghost_count == height
        # The cursor is on the bottom row; a page down puts it on the bottom
        # row again, leaving one evicted row on screen.
        await pilot.press("pagedown")
        rows = screen_rows(view)
        assert "request 99 " in rows[0]
        assert "request 100 " in rows[1]
        assert view.rows.ghost_count == 1
        await pilot.press("pagedown")
        assert view.rows.ghost_count == 0
        assert f"request {99 + height - 1} " in screen_rows(view)[0]


async def test_problem_keys_cross_evicted_rows() -> None:
    store = LogStore(100)
    lines = [line(i) for i in range(100)]
    lines[85] = line(85, status=503)
    store.ingest(lines, "a", 1.0)
    app = LogApp(LogHub(store))
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        await pilot.press("p")
        store.ingest([line(i) for i in range(100, 199)], "a", 2.0)
        store.ingest([line(199, level="ERROR")], "a", 2.0)
        view.poll_store()
        await pilot.pause()
        await pilot.press("N")
        record = view.cursor_record()
        assert record is not None
        assert record.status == 503
        await pilot.press("n")
        record = view.cursor_record()
        assert record is not None
        assert record.level_name == "ERROR"


async def test_updates_skip_screen_layout(monkeypatch) -> None:  # noqa: ANN001
    """A layout renders every widget on screen, so the log pane must not ask
    for one when records arrive or the status line changes."""
    from textual.widget import Widget

    layouts: list[str] = []
    original = Widget.refresh

    def refresh(self: Widget, *regions, layout: bool = False, **options) -> Widget:  # noqa: ANN002, ANN003
        if layout:
            layouts.append(type(self).__name__)
        return original(self, *regions, layout=layout, **options)

    # More rows than the screen, so the scrollbar is shown from the start:
    # showing it once is a layout.
    hub = make_hub(30)
    app = LogApp(hub)
    async with app.run_test(size=(120, 20)) as pilot:
        pane = app.query_one(LogPane)
        await pilot.pause()
        monkeypatch.setattr(Widget, "refresh", refresh)
        for start in range(30, 60, 10):
            hub.store.ingest([line(i) for i in range(start, start + 10)], "a", 1.0)
            pane.poll()
            await pilot.pause()
        assert "request 59" in screen_rows(pane.view)[-1]
        assert layouts == []
        # Rows fit the width left by the vertical scrollbar.
        assert pane.view.show_vertical_scrollbar
        assert not pane.view.show_horizontal_scrollbar


async def test_idle_poll_draws_nothing() -> None:
    app = LogApp(make_hub(10))
    async with app.run_test(size=(120, 20)) as pilot:
        view = app.query_one(LogView)
        await pilot.pause()
        drawn: list[int] = []
        view.render_line = lambda y: drawn.append(y) or LogView.render_line(view, y)  # type: ignore[method-assign]  # counts calls
        for _ in range(3):
            view.poll_store()
            await pilot.pause()
        assert drawn == []


def test_instance_label_keeps_port() -> None:
    assert instance_label("127.0.0.1:37045") == "127.0.0.1:37045"
    assert instance_label("haven-api-7f9c-blue:8000") == "…7f9c-blue:8000"
    assert instance_label("haven-api-7f9c-blue:8000").endswith(":8000")
    assert len(instance_label("haven-api-7f9c-blue:8000")) == 15
    assert instance_label(None) == ""
