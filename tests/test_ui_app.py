"""The dashboard through Textual's Pilot: what is on screen, keys, pause, layout.

A fake provider serves hand-built snapshots, so each test sets exactly the
values it then looks for in the rendered widgets.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_ui_fakes import (
    FakeProvider,
    empty_snapshot,
    endpoint_rows,
    full_snapshot,
    main_screen,
    plain,
    table_rows,
)
from textual.strip import Strip
from textual.widgets import DataTable, Input

from haven_top.core.logstore import LogStore
from haven_top.core.snapshot import Latency, TargetStatus, Traffic
from haven_top.sources.logstreams import LogHub
from haven_top.ui.app import make_app
from haven_top.ui.screens.help import HelpScreen
from haven_top.ui.screens.main import MainScreen
from haven_top.ui.widgets.endpoints import EndpointsTable

SIZES = [(80, 24), (160, 50)]
SLOW = 60.0
"""A refresh interval no test waits for, so only keys and mount refresh."""


@pytest.mark.parametrize("size", SIZES)
async def test_numbers_on_screen_match_snapshot(size: tuple[int, int]) -> None:
    app = make_app(FakeProvider(full_snapshot()), interval=SLOW)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        traffic = plain(app, "#traffic-rates")
        assert "1,234 req/s" in traffic
        assert "6.25 err/s" in traffic
        assert "5.1% 5xx" in traffic
        assert plain(app, "#traffic-classes") == "2xx 1,200  4xx 28.2  5xx 6.25  req/s"
        assert plain(app, "#latency-quantiles") == (
            "p50 12.3 ms  p95 87.6 ms  p99 432 ms"
        )
        assert plain(app, "#db-counts") == "7 / 20 in use"
        assert plain(app, "#db-bar").endswith(" 35.0%")
        process = plain(app, "#process-stats")
        for expected in ("0.42 cores", "124 MiB", "37 / 1024", "3h25m"):
            assert expected in process
        system = plain(app, "#system-stats")
        for expected in ("24%", "0.52 0.41 0.33", "3.25 GiB / 7.75 GiB", "2.00 GiB"):
            assert expected in system
        for expected in ("r 1.50 MiB/s", "w 300 KiB/s", "rx 12.0 KiB/s"):
            assert expected in system
        assert plain(app, "#traffic-rate-spark Spark").endswith(" 0–16.0")
        assert plain(app, "#latency Spark").endswith(" 50.0–200")
        status = plain(app, "#status-line")
        assert "CPU 1.8% RSS 52.0 MiB" in status
        assert "metrics 0.4s ago" in status
        assert "system 0.7s ago" in status


@pytest.mark.parametrize("size", SIZES)
async def test_endpoint_rows_match_snapshot(size: tuple[int, int]) -> None:
    app = make_app(FakeProvider(full_snapshot()), interval=SLOW)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        rows = table_rows(app)
        assert rows[0] == [
            "POST",
            "/api/v1/records",
            "322",
            "1.2",
            "21.5",
            "188",
            "612",
        ]
        assert rows[1] == [
            "GET",
            "/api/v1/records/{id}",
            "777",
            "0.0",
            "4.20",
            "31.1",
            "73.3",
        ]


@pytest.mark.parametrize("size", SIZES)
async def test_every_pane_visible_and_unwrapped(size: tuple[int, int]) -> None:
    """Each pane is on screen and its first line fits without wrapping."""
    app = make_app(FakeProvider(full_snapshot()), interval=SLOW)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen_region = app.screen.region
        for pane in ("#traffic", "#latency", "#db-pool", "#process", "#system"):
            region = app.screen.query_one(pane).region
            assert region.height > 1, pane
            assert screen_region.contains_region(region), pane
        for line in ("#traffic-rates", "#latency-quantiles", "#db-counts"):
            assert app.screen.query_one(line).region.height == 1, line
        assert len(table_rows(app)) == 2


async def test_small_terminal_drops_per_core_line() -> None:
    app = make_app(FakeProvider(full_snapshot()), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.screen.query_one("#system-cores").display
    app = make_app(FakeProvider(full_snapshot()), interval=SLOW)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#system-cores").display
        assert plain(app, "#system-cores").endswith("12% 35%")


async def test_unknown_values_show_no_data() -> None:
    app = make_app(FakeProvider(empty_snapshot()), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        texts = {
            selector: plain(app, selector)
            for selector in (
                "#traffic-rates",
                "#traffic-classes",
                "#latency-quantiles",
                "#db-counts",
                "#process-stats",
                "#system-stats",
                "#status-line",
            )
        }
        for selector, text in texts.items():
            assert "no data" in text, selector
            assert "nan" not in text.lower(), selector
        assert "0 req/s" not in texts["#traffic-rates"]
        assert "0.0%" not in texts["#traffic-rates"]
        assert "no metrics yet" in texts["#traffic-rates"]
        assert "no metrics yet" in texts["#latency-quantiles"]
        assert table_rows(app)[0][1] == "no data"
        assert plain(app, "#db-bar").endswith(" –")


async def test_log_pane_waits_for_first_record() -> None:
    """A target without a log stream leaves the rows to the endpoints table."""
    hub = LogHub(LogStore(100))
    app = make_app(FakeProvider(full_snapshot()), interval=SLOW, log_hub=hub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = main_screen(app)
        log_pane = screen.query_one("#log-pane")
        endpoints = screen.query_one("#endpoints")
        assert not log_pane.display
        assert screen.has_class("-tall")
        rows_alone = endpoints.region.height
        hub.store.ingest([b'{"level": "INFO", "message": "started"}'], None, 0.0)
        screen.refresh_view()
        await pilot.pause()
        assert log_pane.display
        assert log_pane.region.height > 0
        # Sharing 40 rows with the logs, the panes take their compact style.
        assert screen.has_class("-short")
        assert 0 < endpoints.region.height < rows_alone


async def test_partial_latency_keeps_known_quantiles() -> None:
    snapshot = full_snapshot(latency_seconds=Latency(p50=0.02, p95=None, p99=None))
    app = make_app(FakeProvider(snapshot), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert plain(app, "#latency-quantiles") == (
            "p50 20.0 ms  p95 no data  p99 no data"
        )


async def test_down_target_shows_its_error() -> None:
    down = TargetStatus(
        url="http://127.0.0.1:8001",
        up=False,
        live=False,
        error="connection refused by 127.0.0.1:8001",
        last_scrape_age=65.0,
    )
    app = make_app(FakeProvider(full_snapshot(targets=(down,))), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = plain(app, "#targets")
        assert "127.0.0.1:8001  DOWN" in text
        assert "connection refused by 127.0.0.1:8001" in text
        assert "last scraped 1m05s ago" in text


async def test_unready_target_shows_503_text_and_dependency() -> None:
    unready = TargetStatus(
        url="http://127.0.0.1:8000",
        up=True,
        live=True,
        ready=False,
        dependencies={"database": "unreachable", "cache": "healthy"},
        ready_error="database is down",
        last_scrape_age=0.5,
    )
    app = make_app(FakeProvider(full_snapshot(targets=(unready,))), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = plain(app, "#targets")
        assert "live OK  ready FAIL" in text
        assert "database is down" in text
        assert "database unreachable" in text
        assert "cache" not in text


async def test_many_targets_summarised() -> None:
    targets = tuple(
        TargetStatus(
            url=f"http://127.0.0.1:{8000 + index}", up=True, live=True, ready=True
        )
        for index in range(5)
    ) + (TargetStatus(url="http://127.0.0.1:9000", up=False, error="timed out"),)
    app = make_app(FakeProvider(full_snapshot(targets=targets)), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines = plain(app, "#targets").splitlines()
        assert lines[0] == "6 targets: 5 UP, 1 unhealthy"
        assert "127.0.0.1:9000  DOWN" in lines[1]
        assert "6 targets" in plain(app, "#title-view")


async def test_pause_holds_screen_while_data_changes() -> None:
    provider = FakeProvider(full_snapshot())
    app = make_app(provider, interval=0.02)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        assert main_screen(app).paused
        assert "PAUSED" in plain(app, "#paused-badge")
        assert app.screen.query_one("#paused-badge").display
        requests_at_pause = len(provider.requests)
        provider.current = full_snapshot(
            traffic=Traffic(requests_per_second=5.0), metrics_age=0.1
        )
        # Holding still can only be observed over time: wait for several intervals.
        await pilot.pause(0.15)
        assert "1,234 req/s" in plain(app, "#traffic-rates")
        assert "metrics 0.4s ago" in plain(app, "#status-line")
        assert len(provider.requests) == requests_at_pause
        await pilot.press("p")
        assert "5.00 req/s" in plain(app, "#traffic-rates")
        assert not app.screen.query_one("#paused-badge").display


async def test_refresh_follows_provider() -> None:
    provider = FakeProvider(full_snapshot())
    app = make_app(provider, interval=0.02)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        provider.current = full_snapshot(traffic=Traffic(requests_per_second=5.0))
        for _ in range(50):
            if "5.00 req/s" in plain(app, "#traffic-rates"):
                break
            await pilot.pause(0.02)
        assert "5.00 req/s" in plain(app, "#traffic-rates")


@pytest.mark.parametrize("size", SIZES)
async def test_new_numbers_need_no_layout(
    size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A layout pass costs more than all repaints of a refresh together."""
    provider = FakeProvider(full_snapshot())
    app = make_app(provider, interval=SLOW)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = main_screen(app)
        layouts: list[object] = []
        layout = screen._refresh_layout
        monkeypatch.setattr(
            screen, "_refresh_layout", lambda *args, **kw: layouts.append(args)
        )
        system = replace(
            full_snapshot().system,
            cpu_percent=7.25,
            cpu_percent_per_core=(5.0, 9.5),
            disk_write_bytes_per_second=12.5 * 2**20,
        )
        provider.current = full_snapshot(
            traffic=Traffic(requests_per_second=5.0, error_ratio=0.5),
            system=system,
            metrics_age=1.5,
        )
        screen.refresh_view()
        await pilot.pause()
        assert "5.00 req/s" in plain(app, "#traffic-rates")
        assert "7.2%" in plain(app, "#system-stats")
        assert layouts == []
        monkeypatch.setattr(screen, "_refresh_layout", layout)


def styled_cells(strip: Strip) -> list[tuple[object, ...]]:
    """Each cell of `strip` with the parts of its style a reader sees."""
    return [
        (char, seg.style.color, seg.style.bgcolor, seg.style.bold, seg.style.italic)
        for seg in strip
        if seg.style is not None
        for char in seg.text
    ]


@pytest.mark.parametrize("theme", ["haven-dark", "haven-light", "haven-terminal"])
async def test_endpoint_lines_match_datatable(theme: str) -> None:
    """The cached lines look exactly as DataTable draws them, cursor included."""
    rows = tuple(
        replace(row, error_ratio=0.2 if index % 2 else 0.01)
        for index, row in enumerate(endpoint_rows(30))
    )
    hub = LogHub(LogStore(100))
    provider = FakeProvider(full_snapshot(endpoints=rows))
    app = make_app(provider, interval=SLOW, theme=theme, log_hub=hub)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        # Row 3 has a high error rate, whose colour the cursor's replaces.
        await pilot.press("down", "down", "down")
        table = app.screen.query_one(EndpointsTable)
        assert table.cursor_row == 3
        assert table.rows_shown[-1].is_rest
        for y in range(table.size.height):
            ours = styled_cells(table.render_line(y))
            theirs = styled_cells(DataTable.render_line(table, y))
            assert ours == theirs, f"line {y}"


async def test_window_key_cycles_at_once() -> None:
    provider = FakeProvider(full_snapshot())
    app = make_app(provider, interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for window, label in ((300.0, "5m"), (900.0, "15m"), (60.0, "1m")):
            await pilot.press("w")
            assert provider.requests[-1]["window_seconds"] == window
            assert plain(app, "#title-view").startswith(f"{label} window")
            assert app.screen.query_one("#latency").border_title == (
                f"Latency · {label} window"
            )


async def test_sort_key_cycles_at_once() -> None:
    provider = FakeProvider(full_snapshot())
    app = make_app(provider, interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(EndpointsTable)
        for key, column in (
            ("errors", "err%▼"),
            ("p95", "p95 ms▼"),
            ("rate", "req/s▼"),
        ):
            await pilot.press("s")
            assert provider.requests[-1]["endpoint_sort"] == key
            assert app.screen.query_one("#endpoints").border_title == (
                f"Endpoints · sorted by {key}"
            )
            labels = [column_.label.plain for column_ in table.columns.values()]
            assert column in labels


async def test_key_while_paused_waits_for_resume() -> None:
    provider = FakeProvider(full_snapshot())
    app = make_app(provider, interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("p", "w")
        assert plain(app, "#title-view").startswith("1m window")
        await pilot.press("p")
        assert provider.requests[-1]["window_seconds"] == 300.0
        assert plain(app, "#title-view").startswith("5m window")


async def test_endpoint_limit_fits_table() -> None:
    provider = FakeProvider(full_snapshot(endpoints=endpoint_rows(300)))
    app = make_app(provider, interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        table = app.screen.query_one(EndpointsTable)
        limit = provider.requests[-1]["endpoint_limit"]
        assert isinstance(limit, int)
        assert limit + 1 == table.visible_rows
        rows = table_rows(app)
        assert len(rows) == table.visible_rows
        assert rows[-1][1] == f"{300 - limit} others"


async def test_help_lists_keys_and_closes() -> None:
    app = make_app(FakeProvider(full_snapshot()), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        cells = [str(widget.render()) for widget in app.screen.query("#help-keys > *")]
        rows = dict(zip(cells[::2], cells[1::2], strict=True))
        assert rows["p"].startswith("Pause: Hold the screen still")
        assert rows["w"].startswith("Window:")
        assert rows["s"].startswith("Sort:")
        assert rows["?"].startswith("Help:")
        assert rows["q"].startswith("Quit:")
        assert rows["^c"].startswith("Quit:")
        panes = [str(widget.render()) for widget in app.screen.query("#help-panes > *")]
        for pane in ("Endpoints", "Alerts", "Instances", "Logs"):
            assert pane in panes
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_keymap_remaps_pause() -> None:
    app = make_app(FakeProvider(full_snapshot()), interval=SLOW, keymap={"pause": "x"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        assert not main_screen(app).paused
        await pilot.press("x")
        assert main_screen(app).paused
        assert plain(app, "#paused-badge").endswith("· x resumes")


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_quit_key_stops_provider(key: str) -> None:
    provider = FakeProvider(full_snapshot())
    app = make_app(provider, interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert provider.started
        await pilot.press(key)
        await pilot.pause()
        assert not app.is_running
    assert provider.stopped
    assert app.return_code == 0


async def test_ctrl_c_quits_from_text_field() -> None:
    """Ctrl+C copies in a focused Input unless a priority binding quits first."""
    hub = LogHub(LogStore(100))
    app = make_app(FakeProvider(full_snapshot()), interval=SLOW, log_hub=hub)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        field = app.screen.query_one("#log-filter", Input)
        field.add_class("-open")
        field.focus()
        await pilot.pause()
        assert app.focused is field
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running


async def test_progress_line_shows_until_data_flows() -> None:
    provider = FakeProvider(empty_snapshot())
    provider.progress_text = "connecting to 127.0.0.1:8000"
    app = make_app(provider, interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        progress = app.screen.query_one("#progress")
        assert progress.display
        assert plain(app, "#progress") == "connecting to 127.0.0.1:8000"
        provider.progress_text = ""
        await pilot.press("w")
        assert not progress.display


async def test_stale_metrics_marked() -> None:
    app = make_app(FakeProvider(full_snapshot(metrics_age=42.0)), interval=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "metrics STALE 42s ago" in plain(app, "#status-line")
        assert app.screen.query_one("#traffic").has_class("-stale")
        assert not app.screen.query_one("#system").has_class("-stale")


@pytest.mark.parametrize(
    ("metrics_age", "reason"),
    [(None, "no metrics yet"), (42.0, "metrics stale"), (0.4, "needs 2 scrapes")],
)
async def test_missing_rates_say_why(metrics_age: float | None, reason: str) -> None:
    """A target that went down leaves no rates; that is no lack of requests."""
    snapshot = full_snapshot(
        traffic=Traffic(), latency_seconds=Latency(), metrics_age=metrics_age
    )
    app = make_app(FakeProvider(snapshot), interval=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        rates = plain(app, "#traffic-rates")
        assert rates == f"req/s no data ({reason})"
        assert app.screen.query_one("#traffic-rates").region.height == 1
        quantiles = plain(app, "#latency-quantiles")
        if reason == "needs 2 scrapes":
            assert quantiles == "p50 p95 p99 no data (no requests)"
        else:
            assert quantiles == f"p50 p95 p99 no data ({reason})"


async def test_snapshot_failure_keeps_app_running() -> None:
    provider = FakeProvider(full_snapshot())
    app = make_app(provider, interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()

        def broken(**_: object) -> None:
            raise RuntimeError("state is inconsistent")

        provider.snapshot = broken  # type: ignore[method-assign]
        await pilot.press("w")
        status = plain(app, "#status-line")
        assert "Building the snapshot failed" in status
        assert "state is inconsistent" in status
        assert "1,234 req/s" in plain(app, "#traffic-rates")


async def test_restart_and_debug_marks() -> None:
    target = replace(
        full_snapshot().targets[0], restarted_age=12.0, debug_remaining=245.0
    )
    app = make_app(FakeProvider(full_snapshot(targets=(target,))), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = plain(app, "#targets")
        assert "RESTARTED 12s ago" in text
        assert "DEBUG 4:05" in text


async def test_long_endpoint_truncated_with_ellipsis() -> None:
    long_name = "/api/v1/" + "segment/" * 12 + "{id}"
    row = replace(endpoint_rows(1)[0], endpoint=long_name)
    app = make_app(FakeProvider(full_snapshot(endpoints=(row,))), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = table_rows(app)[0][1]
        table = app.screen.query_one(EndpointsTable)
        assert shown.endswith("…")
        assert long_name.startswith(shown[:-1])
        assert len(shown) == table.endpoint_width
        assert table_rows(app)[0][2] == "100"


async def test_target_before_first_scrape() -> None:
    app = make_app(FakeProvider(empty_snapshot()), interval=SLOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert plain(app, "#targets") == "127.0.0.1:8000  CONNECTING  not scraped yet"
