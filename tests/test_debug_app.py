"""The `d` key of the dashboard against real demo services, through Pilot.

The admin calls go to demo services over real sockets. The metrics side is a
small provider that only turns the stored debug expiry into `debug_remaining`,
because these tests are about the header mark, not about scraping.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from rich.traceback import Traceback
from textual.pilot import Pilot
from textual.widget import Widget

from haven_top.core.logstore import LogStore
from haven_top.core.snapshot import Snapshot, TargetStatus
from haven_top.core.token import MISSING_TOKEN_MESSAGE, AdminToken, Secret
from haven_top.demo import launcher
from haven_top.demo.launcher import DemoProcess
from haven_top.sources.admin import AdminClient, AdminOptions
from haven_top.sources.collector import Collector
from haven_top.sources.log_websocket import WebSocketLogSource
from haven_top.sources.logstreams import LogHub
from haven_top.ui.app import HavenTopApp, make_app
from haven_top.ui.screens.debug import DEBUG_LEVEL, DebugModal, build_debug_control
from haven_top.ui.screens.main import MainScreen
from haven_top.ui.widgets.log_view import LogPane, LogView

WRONG_TOKEN = "wrong-3e8b0c6d1f2a4957"


class DebugExpiry:
    """The part of `MonitorState` that the debug key writes to."""

    def __init__(self) -> None:
        self.until: dict[str, float | None] = {}

    def set_debug_until(self, target: str, until: float | None) -> None:
        self.until[target] = until


class HeaderProvider:
    """Serves snapshots whose targets carry only health and debug time left."""

    def __init__(self, targets: tuple[str, ...]) -> None:
        self.targets = targets
        self.state = DebugExpiry()
        self.progress = ""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def snapshot(self, *, window_seconds: float, **options: Any) -> Snapshot:
        now = time.time()
        statuses = []
        for url in self.targets:
            until = self.state.until.get(url)
            remaining = until - now if until is not None and until > now else None
            statuses.append(
                TargetStatus(
                    url, up=True, live=True, ready=True, debug_remaining=remaining
                )
            )
        return Snapshot(
            taken_at=now, window_seconds=window_seconds, targets=tuple(statuses)
        )


class Recorder:
    """Every notification and screen capture of one run, to search for the token."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.captures: list[str] = []

    def attach(self, app: HavenTopApp) -> None:
        original = app.notify

        def notify(message: str, **kwargs: Any) -> None:
            self.notes.append(str(message))
            original(message, **kwargs)

        app.notify = notify  # type: ignore[method-assign]

    def capture(self, app: HavenTopApp) -> str:
        svg = app.export_screenshot()
        self.captures.append(svg)
        return svg

    def texts(self) -> list[str]:
        return self.notes + self.captures


@pytest.fixture(scope="module")
def private_demo() -> Iterator[DemoProcess]:
    """A demo of this module's own, because these tests switch its debug mode."""
    with launcher.start_demo(scenario="steady", seed=21, rate=20) as process:
        yield process


@pytest.fixture(scope="module")
def recorders() -> list[Recorder]:
    return []


def build_app(
    targets: tuple[str, ...],
    token: str | None,
    recorders: list[Recorder],
    read_only: bool = False,
) -> tuple[HavenTopApp, Recorder]:
    admin = AdminOptions(token=AdminToken(Secret(token), "test") if token else None)
    app = make_app(
        HeaderProvider(targets), interval=0.2, read_only=read_only, admin=admin
    )
    recorder = Recorder()
    recorder.attach(app)
    recorders.append(recorder)
    return app, recorder


def header(app: HavenTopApp) -> str:
    rendered = app.screen.query_one("#targets", Widget).render()
    return getattr(rendered, "plain", str(rendered))


def debug_enabled(demo: DemoProcess) -> bool:
    headers = {"Authorization": f"Bearer {demo.token}"}
    response = httpx.get(f"{demo.url}/admin/debug", headers=headers, timeout=5)
    return bool(response.json()["enabled"])


async def wait_until(
    pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 8.0
) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.05)
    return True


def noted(recorder: Recorder, text: str) -> Callable[[], bool]:
    return lambda: any(text in note for note in recorder.notes)


async def test_debug_key_on_then_off(
    private_demo: DemoProcess, recorders: list[Recorder]
) -> None:
    url = private_demo.url
    app, recorder = build_app((url,), private_demo.token, recorders)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DebugModal)
        recorder.capture(app)
        await pilot.press("enter")
        assert await wait_until(pilot, noted(recorder, "debug logging on for 300 s"))
        assert debug_enabled(private_demo)
        assert await wait_until(pilot, lambda: "DEBUG 4:" in header(app))
        recorder.capture(app)
        assert await wait_until(pilot, noted(recorder, "no log source is connected"))

        await pilot.press("d")
        assert await wait_until(pilot, noted(recorder, f"debug logging off on {url}"))
        assert not isinstance(app.screen, DebugModal)
        assert not debug_enabled(private_demo)
        assert await wait_until(pilot, lambda: "DEBUG" not in header(app))
        recorder.capture(app)


async def test_debug_records_follow_the_key(
    private_demo: DemoProcess, recorders: list[Recorder]
) -> None:
    """On, DEBUG records reach the log store from the demo's stream; off, they stop."""
    url = private_demo.url
    instance = url.removeprefix("http://")
    app, recorder = build_app((url,), private_demo.token, recorders)
    hub = LogHub(LogStore(capacity=10_000), flush_interval=0.05)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        screen.debug_control = build_debug_control(screen.admin, app.provider, hub)
        hub.start([WebSocketLogSource(url)])
        status = hub.statuses.get
        assert await wait_until(
            pilot, lambda: getattr(status(instance), "state", "") == "connected"
        )

        await pilot.press("d", "enter")
        assert await wait_until(pilot, noted(recorder, f"arriving from {url}"))
        debug_seqs = [
            seq for seq in hub.store.seqs() if hub.store.level_at(seq) == DEBUG_LEVEL
        ]
        assert debug_seqs
        assert {hub.store.instance_at(seq) for seq in debug_seqs} == {instance}

        await pilot.press("d")
        assert await wait_until(pilot, noted(recorder, f"debug logging off on {url}"))
        await pilot.pause(0.3)  # records logged before the call may still be in flight
        mark = hub.store.next_seq
        await pilot.pause(1.0)
        assert hub.store.next_seq > mark
        after = range(mark, hub.store.next_seq)
        assert not [seq for seq in after if hub.store.level_at(seq) == DEBUG_LEVEL]
        await hub.stop()


async def test_dashboard_debug_end_to_end(
    private_demo: DemoProcess,
    recorders: list[Recorder],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """The real collector, log stream and log pane: on, export, off."""
    url = private_demo.url
    instance = url.removeprefix("http://")
    hub = LogHub(LogStore(capacity=10_000), flush_interval=0.05)
    admin = AdminOptions(token=AdminToken(Secret(private_demo.token), "test"))
    app = make_app(
        Collector([url], interval=0.5),
        interval=0.5,
        admin=admin,
        log_hub=hub,
        log_sources=[WebSocketLogSource(url)],
    )
    recorder = Recorder()
    recorder.attach(app)
    recorders.append(recorder)
    caplog.set_level(logging.DEBUG, logger="haven_top")
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        status = hub.statuses.get
        assert await wait_until(
            pilot, lambda: getattr(status(instance), "state", "") == "connected"
        )
        view = app.screen.query_one(LogView)

        await pilot.press("d", "enter")
        assert await wait_until(pilot, noted(recorder, f"arriving from {url}"))
        assert await wait_until(pilot, lambda: "DEBUG 4:" in header(app))
        assert await wait_until(
            pilot, lambda: any("DEBUG" in row for row in rows(view))
        )
        recorder.capture(app)

        view.focus()
        app.screen.query_one(LogPane).export_dir = tmp_path
        await pilot.press("e")
        assert await wait_until(pilot, lambda: any(tmp_path.iterdir()))
        exported = b"".join(path.read_bytes() for path in tmp_path.iterdir())
        assert b'"DEBUG"' in exported
        assert private_demo.token.encode() not in exported

        await pilot.press("d")
        assert await wait_until(pilot, noted(recorder, f"debug logging off on {url}"))
        assert await wait_until(pilot, lambda: "DEBUG" not in header(app))
        assert await wait_until(
            pilot, lambda: not any("DEBUG" in row for row in rows(view)), 10.0
        )
        recorder.capture(app)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "debug logging on" in logged
    assert private_demo.token not in logged


def rows(view: LogView) -> list[str]:
    return [view.render_line(y).text for y in range(view.size.height)]


async def test_debug_short_duration_expires(
    private_demo: DemoProcess, recorders: list[Recorder]
) -> None:
    app, recorder = build_app((private_demo.url,), private_demo.token, recorders)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("backspace", "backspace", "backspace", "2", "enter")
        assert await wait_until(pilot, noted(recorder, "debug logging on for 2 s"))
        assert await wait_until(pilot, lambda: "DEBUG" in header(app), 2.0)
        started = time.monotonic()
        assert await wait_until(pilot, lambda: "DEBUG" not in header(app), 4.0)
        assert time.monotonic() - started < 3.0
        assert await wait_until(pilot, lambda: not debug_enabled(private_demo), 3.0)
        # Once expired, the key offers to turn debug on again.
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DebugModal)
        await pilot.press("escape")


async def test_debug_wrong_token_reported(
    private_demo: DemoProcess, recorders: list[Recorder]
) -> None:
    url = private_demo.url
    app, recorder = build_app((url,), WRONG_TOKEN, recorders)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("d", "enter")
        assert await wait_until(
            pilot, noted(recorder, f"admin token rejected by {url}")
        )
        recorder.capture(app)
        assert app.is_running
        assert "DEBUG" not in header(app)
        assert not debug_enabled(private_demo)


async def test_debug_missing_endpoint_reported(
    start_demo: Callable[..., DemoProcess], recorders: list[Recorder]
) -> None:
    bare = start_demo(extra_args=["--no-debug-endpoint"])
    app, recorder = build_app((bare.url,), bare.token, recorders)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("d", "enter")
        assert await wait_until(
            pilot, noted(recorder, f"{bare.url} has no debug endpoint")
        )
        assert app.is_running
        assert bare.token not in recorder.capture(app)


async def test_debug_without_token(
    private_demo: DemoProcess, recorders: list[Recorder]
) -> None:
    app, recorder = build_app((private_demo.url,), None, recorders)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("d")
        await pilot.pause()
        assert not isinstance(app.screen, DebugModal)
        assert MISSING_TOKEN_MESSAGE in recorder.notes


async def test_read_only_removes_key(
    private_demo: DemoProcess, recorders: list[Recorder]
) -> None:
    app, recorder = build_app(
        (private_demo.url,), private_demo.token, recorders, read_only=True
    )
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.pause()
        assert "debug" not in [
            b.binding.action for b in app.screen.active_bindings.values()
        ]
        await pilot.press("d")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, DebugModal)
        assert recorder.notes == []
        svg = recorder.capture(app)
        assert "READ-ONLY" in svg
        assert "Debug" not in svg
        assert not debug_enabled(private_demo)


async def test_crash_report_hides_token(
    private_demo: DemoProcess,
    recorders: list[Recorder],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An error inside the worker is rendered as Textual renders crashes."""

    async def broken(self: AdminClient, *args: object) -> list[object]:
        raise RuntimeError("client broke")

    monkeypatch.setattr(AdminClient, "set_debug_many", broken)
    app, recorder = build_app((private_demo.url,), private_demo.token, recorders)
    with caplog.at_level(logging.ERROR, logger="haven_top"):
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await pilot.press("d", "enter")
            assert await wait_until(
                pilot, noted(recorder, "RuntimeError: client broke")
            )
            assert app.is_running
    errors = [record for record in caplog.records if record.exc_info]
    assert errors
    console = Console(record=True, width=160, file=io.StringIO())
    for record in errors:
        _, error, trace = record.exc_info  # type: ignore[misc]
        console.print(
            Traceback.from_exception(type(error), error, trace, show_locals=True)
        )
    report = console.export_text()
    assert "Secret('********')" in report
    assert private_demo.token not in report


def recorder_captures(recorders: list[Recorder]) -> list[str]:
    return [capture for recorder in recorders for capture in recorder.captures]


def test_token_in_no_capture(
    private_demo: DemoProcess, recorders: list[Recorder]
) -> None:
    """Runs last in this module and checks what the runs above showed."""
    texts = [text for recorder in recorders for text in recorder.texts()]
    assert len(texts) > 8
    # SVG text writes spaces as &#160;, so one word is searched for.
    assert any("rejected" in text for text in recorder_captures(recorders))
    for text in texts:
        assert private_demo.token not in text
        assert WRONG_TOKEN not in text
