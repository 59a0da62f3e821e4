"""The scraper and health poller against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import prometheus_client
import psutil
import pytest

from haven_top.sources.health import check_health
from haven_top.sources.scraper import (
    Timeouts,
    make_client,
    poll_forever,
    scrape,
)
from haven_top.sources.system import SelfSampler, SystemSampler

TIMEOUTS = Timeouts(total=0.5, connect=0.5)
NOT_FOUND = (404, "text/plain", b"not found", 0.0)


class ScriptedServer:
    """An HTTP server on 127.0.0.1 whose response per path the test sets.

    `routes` maps a path to (status, content type, body, delay in seconds).
    It records the headers of every request it receives.
    """

    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, tuple[int, str, bytes, float]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.max_active: dict[str, int] = {}
        """Maximum number of requests for each path that were in progress at once."""
        self._lock = threading.Lock()
        self._in_progress: dict[str, int] = {}
        self._closing = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    @contextlib.contextmanager
    def track(self, path: str) -> Iterator[None]:
        """Count the requests for `path` in progress while the block runs."""
        with self._lock:
            in_progress = self._in_progress.get(path, 0) + 1
            self._in_progress[path] = in_progress
            self.max_active[path] = max(self.max_active.get(path, 0), in_progress)
        try:
            yield
        finally:
            with self._lock:
                self._in_progress[path] -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
                server.requests.append((self.path, dict(self.headers)))
                with server.track(self.path):
                    self.respond(*server.routes.get(self.path, NOT_FOUND))

            def respond(
                self, status: int, content_type: str, body: bytes, delay: float
            ) -> None:
                if delay and server._closing.wait(delay):
                    return
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    instance = ScriptedServer()
    yield instance
    instance.close()


def free_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def metrics_body() -> bytes:
    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter(
        "haven_requests",
        "Requests.",
        ["method", "endpoint", "status"],
        registry=registry,
    )
    counter.labels("GET", "/api/v1/records", "200").inc(3)
    return prometheus_client.generate_latest(registry)


def ready_json(**payload: object) -> tuple[int, str, bytes, float]:
    status = 200 if payload.get("status") == "ready" else 503
    return (status, "application/json", orjson.dumps(payload), 0)


async def test_scrape_returns_exposition(server: ScriptedServer) -> None:
    body = metrics_body()
    server.routes["/metrics"] = (200, prometheus_client.CONTENT_TYPE_LATEST, body, 0)
    async with make_client(TIMEOUTS) as client:
        result = await scrape(client, server.url + "/", TIMEOUTS)
    assert result.error is None
    assert result.body == body
    assert result.content_type == prometheus_client.CONTENT_TYPE_LATEST
    assert abs(result.at - time.time()) < 5


async def test_scrape_sends_accept_and_request_id(server: ScriptedServer) -> None:
    server.routes["/metrics"] = (200, "text/plain", metrics_body(), 0)
    async with make_client(TIMEOUTS) as client:
        await scrape(client, server.url, TIMEOUTS)
        await scrape(client, server.url, TIMEOUTS)
    ids = [headers["X-Request-ID"] for _, headers in server.requests]
    assert all(value.startswith("haven-top-") for value in ids)
    assert uuid.UUID(ids[0].removeprefix("haven-top-"))
    assert ids[0] != ids[1]
    assert "version=0.0.4" in server.requests[0][1]["Accept"]
    assert "openmetrics" not in server.requests[0][1]["Accept"]


async def test_scrape_refused_names_url_and_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with make_client(TIMEOUTS) as client:
        result = await scrape(client, url, TIMEOUTS)
    assert result.body is None
    assert result.error is not None
    assert result.error.startswith(f"{url}/metrics: connection refused")
    assert "check that the service is running" in result.error
    assert "\n" not in result.error


async def test_scrape_error_hides_url_password() -> None:
    port = free_port()
    url = f"http://user:SECRETPW@127.0.0.1:{port}"
    async with make_client(TIMEOUTS) as client:
        result = await scrape(client, url, TIMEOUTS)
    assert result.error is not None
    assert "SECRETPW" not in result.error
    assert result.error.startswith(
        f"http://user:***@127.0.0.1:{port}/metrics: connection refused"
    )


async def test_scrape_html_page_is_garbage(server: ScriptedServer) -> None:
    page = b"<!DOCTYPE html><html><body>Sign in</body></html>"
    server.routes["/metrics"] = (200, "text/html; charset=utf-8", page, 0)
    async with make_client(TIMEOUTS) as client:
        result = await scrape(client, server.url, TIMEOUTS)
    assert result.body is None
    assert result.error == (
        f"{server.url}/metrics: returned an HTML page, not metrics; check that the "
        "URL is the base URL of a Haven service and not a proxy or login page"
    )


async def test_scrape_html_without_content_type(server: ScriptedServer) -> None:
    server.routes["/metrics"] = (200, "text/plain", b"\n <html><p>hi</p></html>", 0)
    async with make_client(TIMEOUTS) as client:
        result = await scrape(client, server.url, TIMEOUTS)
    assert result.error is not None
    assert "HTML page" in result.error


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (404, "HTTP 404 Not Found; check that the URL is the base URL"),
        (500, "HTTP 500 Internal Server Error; the service failed to answer"),
        (401, "HTTP 401 Unauthorized; haven-top reads /metrics without credentials"),
    ],
)
async def test_scrape_bad_status(
    server: ScriptedServer, status: int, expected: str
) -> None:
    server.routes["/metrics"] = (status, "text/plain", b"error", 0)
    async with make_client(TIMEOUTS) as client:
        result = await scrape(client, server.url, TIMEOUTS)
    assert result.body is None
    assert result.error is not None
    assert result.error.startswith(f"{server.url}/metrics: {expected}")


async def test_scrape_slow_target_times_out(server: ScriptedServer) -> None:
    server.routes["/metrics"] = (200, "text/plain", metrics_body(), 3.0)
    timeouts = Timeouts(total=0.3, connect=0.3)
    started = time.monotonic()
    async with make_client(timeouts) as client:
        result = await scrape(client, server.url, timeouts)
    elapsed = time.monotonic() - started
    assert result.body is None
    assert result.error == (
        f"{server.url}/metrics: no answer within 0.3 s; check the service's load, "
        "or raise --timeout on a slow link"
    )
    assert elapsed < 1.5


async def test_scrape_connect_timeout_on_full_backlog() -> None:
    """A listener that never accepts and has a full queue leaves SYNs unanswered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        timeouts = Timeouts(total=2.0, connect=0.3)
        async with make_client(timeouts) as client:
            result = await scrape(client, f"http://127.0.0.1:{port}", timeouts)
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    assert result.error is not None
    assert "connecting timed out after 0.3 s" in result.error
    assert "--connect-timeout" in result.error


async def test_health_ready_with_dependencies(server: ScriptedServer) -> None:
    server.routes["/health/live"] = (200, "application/json", b'{"status":"alive"}', 0)
    server.routes["/health/ready"] = ready_json(
        status="ready",
        dependencies={"database": "healthy", "cache": {"status": "degraded"}},
    )
    async with make_client(TIMEOUTS) as client:
        result = await check_health(client, server.url, TIMEOUTS)
    assert result.live is True
    assert result.ready is True
    assert result.dependencies == {"database": "healthy", "cache": "degraded"}
    assert result.ready_error is None
    assert result.error is None
    paths = sorted(path for path, _ in server.requests)
    assert paths == ["/health/live", "/health/ready"]
    assert all(h["X-Request-ID"].startswith("haven-top-") for _, h in server.requests)


async def test_health_not_ready_keeps_error_text(server: ScriptedServer) -> None:
    server.routes["/health/live"] = (200, "application/json", b'{"status":"alive"}', 0)
    server.routes["/health/ready"] = ready_json(
        status="not ready", error="database is locked\n(after 3 tries)"
    )
    async with make_client(TIMEOUTS) as client:
        result = await check_health(client, server.url, TIMEOUTS)
    assert result.live is True
    assert result.ready is False
    assert result.ready_error == "database is locked (after 3 tries)"
    assert result.error is None


async def test_health_hostile_text_made_visible(server: ScriptedServer) -> None:
    """Escape sequences in a target's health payload must not reach a terminal."""
    server.routes["/health/live"] = (200, "application/json", b'{"status":"alive"}', 0)
    server.routes["/health/ready"] = ready_json(
        status="not ready",
        error="db \x1b[2J down \x00 \x1b]0;TITLE\x07",
        dependencies={"data\x1b[31mbase": "heal\x9bthy"},
    )
    async with make_client(TIMEOUTS) as client:
        result = await check_health(client, server.url, TIMEOUTS)
    assert result.ready_error == "db ^[[2J down ^@ ^[]0;TITLE^G"
    assert result.dependencies == {"data^[[31mbase": "heal\\x9bthy"}


async def test_health_503_without_json(server: ScriptedServer) -> None:
    server.routes["/health/live"] = (200, "application/json", b"{}", 0)
    server.routes["/health/ready"] = (503, "text/plain", b"pool exhausted", 0)
    async with make_client(TIMEOUTS) as client:
        result = await check_health(client, server.url, TIMEOUTS)
    assert result.ready is False
    assert result.ready_error == "pool exhausted"
    assert result.dependencies == {}


async def test_health_missing_endpoints(server: ScriptedServer) -> None:
    async with make_client(TIMEOUTS) as client:
        result = await check_health(client, server.url, TIMEOUTS)
    assert result.live is False
    assert result.ready is False
    assert result.error is not None
    assert result.error.startswith(f"{server.url}/health/live: HTTP 404")


async def test_health_down_target() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with make_client(TIMEOUTS) as client:
        result = await check_health(client, url, TIMEOUTS)
    assert result.live is False
    assert result.ready is False
    assert result.error is not None
    assert "connection refused" in result.error


async def test_poll_forever_never_overlaps() -> None:
    running = 0
    max_running = 0
    rounds = 0

    async def slow_poll() -> None:
        nonlocal running, max_running, rounds
        running += 1
        max_running = max(max_running, running)
        await asyncio.sleep(0.03)
        running -= 1
        rounds += 1

    task = asyncio.create_task(poll_forever(slow_poll, interval=0.01))
    deadline = time.monotonic() + 5
    while rounds < 5 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rounds >= 5
    assert max_running == 1


async def test_poll_forever_keeps_interval() -> None:
    starts: list[float] = []

    async def quick_poll() -> None:
        starts.append(time.monotonic())

    task = asyncio.create_task(poll_forever(quick_poll, interval=0.05))
    deadline = time.monotonic() + 5
    while len(starts) < 4 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    task.cancel()
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert len(gaps) >= 3
    assert all(gap >= 0.045 for gap in gaps)


def test_system_sampler_rates_after_second_sample() -> None:
    sampler = SystemSampler()
    first = sampler.sample()
    assert first.cpu_percent is None
    assert first.net_recv_bytes_per_second is None
    assert first.memory_total_bytes == psutil.virtual_memory().total
    time.sleep(0.05)
    second = sampler.sample()
    assert len(second.cpu_percent_per_core) == psutil.cpu_count()
    assert all(0.0 <= value <= 100.0 for value in second.cpu_percent_per_core)
    assert second.cpu_percent is not None
    assert second.net_recv_bytes_per_second is not None
    assert second.net_recv_bytes_per_second >= 0
    assert second.load_average is not None
    assert len(second.load_average) == 3


def test_self_sampler_reports_own_rss() -> None:
    stats = SelfSampler().sample()
    assert stats.resident_memory_bytes is not None
    assert stats.resident_memory_bytes > 1024 * 1024
    assert stats.cpu_percent is not None
