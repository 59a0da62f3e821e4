"""The admin client against scripted HTTP servers on 127.0.0.1.

Each `ScriptedServer` responds on real sockets with a scripted status, or stalls,
to cause the faults (5xx, timeouts, echoed headers, redirects) that the demo
service does not produce on demand.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.utils import formatdate

import httpx
import pytest

from haven_top.core.token import Secret, check_target, is_loopback_host
from haven_top.sources.admin import AdminClient, Outcome, debug_url

TOKEN = "adm-91c4e2f07b6d4a1f"
STALL = 0


@dataclass
class Received:
    request_line: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer:
    """Server that responds to each request with the next (status, body) of
    `script`, or holds the connection open for status 0."""

    script: list[tuple[int, str]]
    received: list[Received] = field(default_factory=list)
    extra_headers: dict[str, str] = field(default_factory=dict)
    server: asyncio.Server | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.received.append(Received(lines[0], headers, body))
        status, text = self.script.pop(0) if self.script else (500, "script ended")
        if status == STALL:
            # Hold the connection until the test ends, so the client times out.
            await self.released.wait()
            writer.close()
            return
        await self._respond(writer, status, text)

    async def _respond(
        self, writer: asyncio.StreamWriter, status: int, text: str
    ) -> None:
        payload = text.encode()
        header_lines = [
            f"HTTP/1.1 {status} Scripted",
            f"Content-Length: {len(payload)}",
            "Content-Type: application/json",
            f"Date: {formatdate(usegmt=True)}",
            "Connection: close",
        ]
        header_lines += [
            f"{name}: {value}" for name, value in self.extra_headers.items()
        ]
        writer.write(("\r\n".join(header_lines) + "\r\n\r\n").encode() + payload)
        await writer.drain()
        writer.close()


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedServer]:
    state = ScriptedServer(script=[])
    state.server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    async with state.server:
        yield state
        state.released.set()
        state.server.close()


def client(**kwargs: object) -> AdminClient:
    options: dict[str, object] = {"timeout": 2.0, "retry_delay": 0.05}
    options.update(kwargs)
    return AdminClient(Secret(TOKEN), **options)  # type: ignore[arg-type]


def ok_body(expires_in: float) -> str:
    expires = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + expires_in))
    return json.dumps({"enabled": True, "level": "DEBUG", "expires_at": expires + "Z"})


async def test_enable_sends_bearer_and_body(scripted: ScriptedServer) -> None:
    scripted.script = [(200, ok_body(300))]
    before = time.time()
    result = await client().set_debug(scripted.url, True, 300)
    assert result.ok
    assert result.attempts == 1
    assert result.until is not None
    assert before + 295 <= result.until <= time.time() + 300
    assert "debug logging on" in result.message
    request = scripted.received[0]
    assert request.request_line == "POST /admin/debug HTTP/1.1"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-request-id"].startswith("haven-top-")
    assert json.loads(request.body) == {"enabled": True, "duration": 300}


async def test_disable_sends_enabled_false(scripted: ScriptedServer) -> None:
    scripted.script = [(200, '{"enabled": false, "level": "INFO", "expires_at": null}')]
    result = await client().set_debug(scripted.url + "/", False)
    assert result.ok
    assert result.until is None
    assert result.message == f"debug logging off on {scripted.url}/"
    assert json.loads(scripted.received[0].body) == {"enabled": False}


async def test_shortened_expiry_is_honoured(scripted: ScriptedServer) -> None:
    scripted.script = [(200, ok_body(60))]
    result = await client().set_debug(scripted.url, True, 300)
    assert result.ok
    assert result.until is not None
    assert result.until - time.time() < 62


async def test_token_rejected_message(scripted: ScriptedServer) -> None:
    for status in (401, 403):
        scripted.script = [(status, '{"error": "missing or invalid bearer token"}')]
        result = await client().set_debug(scripted.url, True, 30)
        assert result.outcome is Outcome.REJECTED
        assert result.message.startswith(f"admin token rejected by {scripted.url}")
        assert str(status) in result.message
        assert result.attempts == 1


async def test_missing_endpoint_message(scripted: ScriptedServer) -> None:
    for status in (404, 405):
        scripted.script = [(status, "{}")]
        result = await client().set_debug(scripted.url, True, 30)
        assert result.outcome is Outcome.NO_ENDPOINT
        assert result.message.startswith(f"{scripted.url} has no debug endpoint")


async def test_not_implemented_is_no_endpoint(scripted: ScriptedServer) -> None:
    scripted.script = [(501, "{}"), (200, ok_body(30))]
    result = await client().set_debug(scripted.url, True, 30)
    assert result.outcome is Outcome.NO_ENDPOINT
    assert result.attempts == 1
    assert len(scripted.received) == 1
    assert result.message == (
        f"{scripted.url} has no debug endpoint: POST /admin/debug returned "
        "HTTP 501 Not Implemented; use a Haven service that supports it"
    )


async def test_server_error_retried_once(scripted: ScriptedServer) -> None:
    scripted.script = [(503, "{}"), (200, ok_body(30))]
    result = await client().set_debug(scripted.url, True, 30)
    assert result.ok
    assert result.attempts == 2
    assert len(scripted.received) == 2
    for request in scripted.received:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_server_error_twice_fails(scripted: ScriptedServer) -> None:
    scripted.script = [(500, "{}"), (502, "{}")]
    result = await client().set_debug(scripted.url, True, 30)
    assert result.outcome is Outcome.SERVER_ERROR
    assert result.status == 502
    assert "HTTP 502" in result.message
    assert "2 attempts" in result.message


async def test_timeout_retried_then_reported(scripted: ScriptedServer) -> None:
    scripted.script = [(STALL, ""), (STALL, "")]
    started = time.monotonic()
    result = await client(timeout=0.3).set_debug(scripted.url, True, 30)
    assert result.outcome is Outcome.TIMEOUT
    assert "timed out after 0.3 s (2 attempts)" in result.message
    assert len(scripted.received) == 2
    assert time.monotonic() - started < 3


async def test_refused_connection_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = f"http://127.0.0.1:{port}"
    result = await client().set_debug(target, True, 30)
    assert result.outcome is Outcome.UNREACHABLE
    assert result.attempts == 2
    assert result.message == (
        f"debug request to {target} failed (2 attempts): connection refused; "
        "check that the service is running and listens on that host and port"
    )


async def test_url_password_hidden(scripted: ScriptedServer) -> None:
    target = scripted.url.replace("http://", "http://user:SECRETPW@")
    scripted.script = [(400, f'{{"error": "no {target} here"}}')]
    result = await client().set_debug(target, True, 30)
    assert result.outcome is Outcome.INVALID
    assert result.target == target
    assert "SECRETPW" not in result.message
    assert result.message.startswith(
        scripted.url.replace("http://", "http://user:***@")
    )


async def test_control_characters_made_visible(scripted: ScriptedServer) -> None:
    scripted.script = [(400, '{"error": "\x1b[2J\x1b]0;title\x07 \x00"}')]
    result = await client().set_debug(scripted.url, True, 30)
    assert result.outcome is Outcome.INVALID
    assert "\x1b" not in result.message
    assert "\x00" not in result.message
    assert "^[[2J^[]0;title^G ^@" in result.message


async def test_echoed_token_is_redacted(scripted: ScriptedServer) -> None:
    scripted.script = [(400, f'{{"error": "bad header Bearer {TOKEN}"}}')]
    result = await client().set_debug(scripted.url, True, 30)
    assert result.outcome is Outcome.INVALID
    assert "HTTP 400" in result.message
    assert TOKEN not in result.message
    assert "********" in result.message


async def test_redirect_not_followed(scripted: ScriptedServer) -> None:
    scripted.extra_headers = {"Location": "http://127.0.0.1:9/admin/debug"}
    scripted.script = [(307, "")]
    result = await client().set_debug(scripted.url, True, 30)
    assert result.outcome is Outcome.INVALID
    assert "redirects" in result.message
    assert len(scripted.received) == 1


async def test_many_targets_in_order(scripted: ScriptedServer) -> None:
    scripted.script = [(200, ok_body(30))]
    results = await client().set_debug_many(
        [scripted.url, "http://haven.example.invalid"], True, 30
    )
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.REFUSED]


async def test_plain_http_refused_before_network() -> None:
    """A mock transport records what would be sent: nothing may reach it."""
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"enabled": True})

    transport = httpx.MockTransport(record)
    target = "http://haven.example.invalid:8080"
    result = await client(transport=transport).set_debug(target, True, 30)
    assert result.outcome is Outcome.REFUSED
    assert "--allow-insecure-admin" in result.message
    assert target in result.message
    assert sent == []

    allowed = await client(transport=transport, allow_insecure=True).set_debug(
        target, True, 30
    )
    assert allowed.ok
    assert len(sent) == 1
    assert sent[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_https_allowed_to_any_host() -> None:
    """A mock transport replaces a TLS server, so nothing leaves the host."""
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(404)

    transport = httpx.MockTransport(record)
    target = "https://haven.example.invalid/prefix"
    result = await client(transport=transport).set_debug(target, True, 30)
    assert result.outcome is Outcome.NO_ENDPOINT
    assert str(sent[0].url) == "https://haven.example.invalid/prefix/admin/debug"


async def test_invalid_duration_not_sent() -> None:
    for duration in (None, 0, -5, 86_401):
        result = await client().set_debug("http://127.0.0.1:9", True, duration)
        assert result.outcome is Outcome.INVALID, duration
        assert "duration" in result.message
        assert result.attempts == 0


def test_loopback_hosts() -> None:
    cases = {
        "localhost": True,
        "LOCALHOST": True,
        "127.0.0.1": True,
        "127.8.9.10": True,
        "::1": True,
        "[::1]": True,
        "::ffff:127.0.0.1": True,
        "128.0.0.1": False,
        "10.0.0.1": False,
        "::2": False,
        "localhost.example.com": False,
        "example.com": False,
    }
    for host, expected in cases.items():
        assert is_loopback_host(host) is expected, host


def test_check_target_table() -> None:
    allowed = [
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://[::1]:9000/base",
        "https://haven.example.com",
    ]
    for target in allowed:
        assert check_target(target) is None, target
    refused = ["http://haven.example.com", "http://10.1.2.3:8080", "http://0.0.0.0"]
    for target in refused:
        message = check_target(target)
        assert message is not None, target
        assert "--allow-insecure-admin" in message
    for target in ["ftp://127.0.0.1", "127.0.0.1:8080", "http://", "http://[::1"]:
        message = check_target(target)
        assert message is not None, target
        assert message.startswith("invalid target URL")


def test_debug_url_joins_prefix() -> None:
    cases = {
        "http://127.0.0.1:8080": "http://127.0.0.1:8080/admin/debug",
        "http://127.0.0.1:8080/": "http://127.0.0.1:8080/admin/debug",
        "https://h.example/haven/": "https://h.example/haven/admin/debug",
        "http://127.0.0.1/x?y=1#z": "http://127.0.0.1/x/admin/debug",
    }
    for target, expected in cases.items():
        assert debug_url(target) == expected


def test_admin_modules_skip_textual() -> None:
    code = (
        "import sys, haven_top.sources.admin, haven_top.core.token; "
        "print('textual' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


async def test_unexpected_error_becomes_result() -> None:
    """A mock transport raises an error that no real server can cause."""

    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"boom with {request.headers['authorization']}")

    transport = httpx.MockTransport(explode)
    result = await client(transport=transport).set_debug("http://127.0.0.1:9", True, 5)
    assert result.outcome is Outcome.INVALID
    assert "failed unexpectedly: RuntimeError: boom" in result.message
    assert TOKEN not in result.message
