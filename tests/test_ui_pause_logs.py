"""The pause key freezes the whole dashboard, the log pane included."""

from __future__ import annotations

import time

from test_log_view import line, screen_rows
from test_ui_fakes import FakeProvider

from haven_top.core.logstore import LogStore
from haven_top.sources.logstreams import LogHub
from haven_top.ui.app import make_app
from haven_top.ui.widgets.log_view import LogPane, LogView


def make_hub(count: int) -> LogHub:
    store = LogStore(1000)
    store.ingest([line(i) for i in range(count)], "inst-a", time.time())
    return LogHub(store)


async def test_pause_holds_log_pane() -> None:
    hub = make_hub(30)
    app = make_app(FakeProvider(), log_hub=hub)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        pane = app.screen.query_one(LogPane)
        view = app.screen.query_one(LogView)
        pane.poll()
        await pilot.pause()
        assert "request 29" in screen_rows(view)[-1]

        await pilot.press("p")
        assert view.held
        before = screen_rows(view)
        hub.store.ingest([line(i) for i in range(30, 40)], "inst-a", time.time())
        pane.poll()
        await pilot.pause()
        assert screen_rows(view) == before

        await pilot.press("p")
        pane.poll()
        await pilot.pause()
        assert not view.held
        assert "request 39" in screen_rows(view)[-1]


async def test_pause_key_in_log_view_pauses_screen() -> None:
    hub = make_hub(30)
    app = make_app(FakeProvider(), log_hub=hub)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.screen.query_one(LogPane).poll()
        view = app.screen.query_one(LogView)
        view.focus()
        await pilot.pause()
        await pilot.press("p")
        assert app.screen.paused
        assert view.held
        await pilot.press("end")
        assert view.held
        await pilot.press("p")
        assert not app.screen.paused
        assert not view.held


async def test_manual_log_hold_survives_pause() -> None:
    hub = make_hub(30)
    app = make_app(FakeProvider(), log_hub=hub)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.screen.query_one(LogPane).poll()
        view = app.screen.query_one(LogView)
        view.hold()
        await pilot.press("p")
        await pilot.press("p")
        assert view.held
