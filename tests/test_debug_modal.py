"""The debug confirmation modal and the read-only footer through Pilot, and the
counter of DEBUG records that confirms debug logging reached the logs."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input, Label, RadioButton

from haven_top.core.logstore import LogStore
from haven_top.sources.admin import AdminOptions
from haven_top.ui.screens import debug as debug_screen
from haven_top.ui.screens.debug import (
    AdminFooter,
    DebugControl,
    DebugModal,
    DebugRecordCounter,
    DebugRequest,
)

TARGETS = ("http://127.0.0.1:8001", "http://127.0.0.1:8002")


class ModalHost(App[None]):
    """Opens one `DebugModal` and keeps what it returned."""

    def __init__(self, selected: str | None = None) -> None:
        super().__init__()
        self.selected = selected
        self.results: list[DebugRequest | None] = []

    def on_mount(self) -> None:
        modal = DebugModal(TARGETS, self.selected)
        self.push_screen(modal, callback=self.results.append)


class FooterHost(App[None]):
    def __init__(self, read_only: bool) -> None:
        super().__init__()
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        yield AdminFooter(read_only=self.read_only)


async def test_modal_defaults_to_all_targets() -> None:
    app = ModalHost()
    async with app.run_test(size=(80, 24)) as pilot:
        duration = app.screen.query_one("#debug-duration", Input)
        assert duration.value == "300"
        assert app.screen.query_one("#debug-selected", RadioButton).disabled
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [DebugRequest(300, TARGETS)]


async def test_modal_edits_duration_and_target() -> None:
    app = ModalHost(selected=TARGETS[1])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        selected = screen.query_one("#debug-selected", RadioButton)
        assert not selected.disabled
        assert TARGETS[1] in str(selected.label)
        await pilot.press("backspace", "backspace", "backspace", "4", "5")
        await pilot.click("#debug-selected")
        await pilot.click("#debug-confirm")
        await pilot.pause()
    assert app.results == [DebugRequest(45, (TARGETS[1],))]


async def test_modal_rejects_invalid_duration() -> None:
    app = ModalHost()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.press("backspace", "backspace", "backspace", "0", "enter")
        await pilot.pause()
        assert app.screen is screen
        error = str(screen.query_one("#debug-error", Label).render())
        assert "Invalid duration '0'" in error
        assert app.results == []
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


async def test_footer_marks_read_only() -> None:
    for read_only in (True, False):
        app = FooterHost(read_only)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            text = app.export_screenshot()
        assert ("READ-ONLY" in text) is read_only


def debug_line(level: str) -> bytes:
    return json.dumps({"level": level, "message": "m", "timestamp": "t"}).encode()


def test_counter_matches_records_to_targets() -> None:
    store = LogStore(capacity=100)
    hub = SimpleNamespace(
        store=store,
        statuses={
            "127.0.0.1:8001": SimpleNamespace(state="connected"),
            "127.0.0.1:8002": SimpleNamespace(state="retrying"),
        },
    )
    counter = DebugRecordCounter(hub, TARGETS)
    store.ingest([debug_line("DEBUG")], "127.0.0.1:8001", 0.0)
    mark = counter.mark()
    store.ingest([debug_line("DEBUG"), debug_line("INFO")], "127.0.0.1:8001", 1.0)
    store.ingest([debug_line("DEBUG")], "127.0.0.1:8002", 1.0)
    assert counter.count_since(mark) == {TARGETS[0]: 1, TARGETS[1]: 1}
    assert counter.unwatched(TARGETS) == [TARGETS[1]]

    store.ingest([debug_line("DEBUG")], "app.log", 2.0)
    assert counter.count_since(mark) == {TARGETS[0]: 2, TARGETS[1]: 2}
    hub.statuses["app.log"] = SimpleNamespace(state="following")
    assert counter.unwatched(TARGETS) == []


SECRET_TARGETS = (
    "http://ops:pw-7c1e@127.0.0.1:8001",
    "http://ops:pw-7c1e@127.0.0.1:8002",
)
"""Targets whose URLs carry a password, which the screen shows as `***`."""


class SecretModalHost(App[None]):
    """Opens a `DebugModal` over `SECRET_TARGETS`, preselecting a shown URL."""

    def __init__(self, selected: str) -> None:
        super().__init__()
        self.selected = selected
        self.results: list[DebugRequest | None] = []

    def on_mount(self) -> None:
        modal = DebugModal(SECRET_TARGETS, self.selected)
        self.push_screen(modal, callback=self.results.append)


async def test_modal_maps_redacted_selection() -> None:
    """The narrowed instance arrives redacted; the request names the real URL."""
    app = SecretModalHost(selected="http://ops:***@127.0.0.1:8002")
    async with app.run_test(size=(80, 24)) as pilot:
        selected = app.screen.query_one("#debug-selected", RadioButton)
        assert not selected.disabled
        assert "selected: http://ops:***@127.0.0.1:8002" in str(selected.label)
        screen_text = app.export_screenshot()
        assert "pw-7c1e" not in screen_text
        await pilot.click("#debug-selected")
        await pilot.click("#debug-confirm")
        await pilot.pause()
    assert app.results == [DebugRequest(300, (SECRET_TARGETS[1],))]


def test_counter_matches_redacted_instances() -> None:
    """Log sources name a password target `ops:***@host:port`, as shown."""
    store = LogStore(capacity=100)
    hub = SimpleNamespace(
        store=store,
        statuses={"ops:***@127.0.0.1:8001": SimpleNamespace(state="connected")},
    )
    counter = DebugRecordCounter(hub, SECRET_TARGETS)
    mark = counter.mark()
    store.ingest([debug_line("DEBUG")], "ops:***@127.0.0.1:8001", 1.0)
    assert counter.count_since(mark) == {SECRET_TARGETS[0]: 1, SECRET_TARGETS[1]: 0}
    assert counter.unwatched(SECRET_TARGETS) == [SECRET_TARGETS[1]]


class NoteRecorder:
    """Stands in for the screen and app that `DebugControl` notifies."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.app = self

    def notify(self, message: str, **options: object) -> None:
        self.notes.append(message)


async def test_verify_messages_hide_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(debug_screen, "VERIFY_SECONDS", 0.3)
    monkeypatch.setattr(debug_screen, "VERIFY_POLL_SECONDS", 0.05)
    store = LogStore(capacity=100)
    hub = SimpleNamespace(
        store=store,
        statuses={
            "ops:***@127.0.0.1:8001": SimpleNamespace(state="connected"),
            "ops:***@127.0.0.1:8002": SimpleNamespace(state="connected"),
        },
    )
    counter = DebugRecordCounter(hub, SECRET_TARGETS)
    control = DebugControl(AdminOptions(), SECRET_TARGETS, records=counter)
    control.until = dict.fromkeys(SECRET_TARGETS, time.time() + 60)
    mark = counter.mark()
    store.ingest([debug_line("DEBUG")], "ops:***@127.0.0.1:8001", 1.0)
    screen = NoteRecorder()
    await control._verify(screen, list(SECRET_TARGETS), mark)  # type: ignore[arg-type]
    assert screen.notes == [
        "DEBUG records are arriving from http://ops:***@127.0.0.1:8001",
        "no DEBUG records from http://ops:***@127.0.0.1:8002 in 0.3 s: the service "
        "accepted the call, but its log stream does not show them",
    ]
