"""The dashboard end to end: the real collector scraping the demo service."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import psutil
from test_ui_fakes import main_screen, plain, table_rows

from haven_top.demo.launcher import DemoProcess
from haven_top.sources.collector import Collector
from haven_top.sources.scraper import Timeouts
from haven_top.ui.app import make_app
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.targets import short_url

INTERVAL = 0.5
DEADLINE_SECONDS = 20.0


async def test_dashboard_shows_demo_snapshot(demo: DemoProcess) -> None:
    collector = Collector(
        [demo.url], interval=INTERVAL, timeouts=Timeouts(total=3.0, connect=3.0)
    )
    app = make_app(collector, interval=INTERVAL)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            snapshot = screen.snapshot
            if snapshot and snapshot.endpoints and snapshot.latency_seconds.p95:
                break
            await pilot.pause(0.1)
        await pilot.press("p")
        snapshot = screen.snapshot
        assert snapshot is not None
        assert snapshot.traffic.requests_per_second is not None

        target = plain(app, "#targets")
        assert f"{short_url(demo.url)}  UP  live OK  ready OK" in target
        traffic = plain(app, "#traffic-rates")
        assert fmt.rate(snapshot.traffic.requests_per_second) in traffic
        assert fmt.percent(snapshot.traffic.error_ratio) in traffic
        latency = plain(app, "#latency-quantiles")
        assert f"p95 {fmt.millis(snapshot.latency_seconds.p95)}" in latency
        assert f"{snapshot.db_pool.size:.0f} in use" in plain(app, "#db-counts")
        process = plain(app, "#process-stats")
        assert fmt.size(snapshot.process.resident_memory_bytes) in process

        rows = table_rows(app)
        for row, stats in zip(rows, snapshot.endpoints, strict=False):
            assert row[1] == stats.endpoint
            assert row[2] == fmt.rate(stats.requests_per_second, "", fmt.DASH)
        assert "PAUSED" in plain(app, "#paused-badge")


def test_ctrl_c_stops_dashboard_and_demo(tmp_path: Path) -> None:
    """The dashboard with `--demo` on a real terminal: ctrl+c ends both processes."""
    main_fd, child_fd = pty.openpty()
    window = struct.pack("HHHH", 24, 80, 0, 0)
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, window)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    command = [sys.executable, "-m", "haven_top", "--demo", "--interval", "0.5"]
    process = subprocess.Popen(
        command, stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env
    )
    os.close(child_fd)
    try:
        screen = read_pty_until(main_fd, b"req/s", DEADLINE_SECONDS)
        assert b"req/s" in screen
        children = psutil.Process(process.pid).children()
        assert len(children) == 1
        demo = children[0]
        os.write(main_fd, b"\x03")
        assert process.wait(timeout=DEADLINE_SECONDS) == 0
        demo.wait(timeout=DEADLINE_SECONDS)
        assert not demo.is_running()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main_fd)


def read_pty_until(fd: int, marker: bytes, timeout: float) -> bytes:
    """Read the terminal output until `marker` shows or `timeout` seconds pass."""
    output = b""
    deadline = time.monotonic() + timeout
    while marker not in output and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                output += os.read(fd, 65536)
            except OSError:
                break
    return output
