"""Fetch `/metrics` from Haven targets over HTTP, one poll at a time per target.

The functions here only fetch and explain failures in one line; parsing and
storing the samples is the core's job (`MonitorState.record_scrape`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from haven_top import __version__
from haven_top.core.sanitize import visible
from haven_top.core.urls import redact_url

logger = logging.getLogger(__name__)

REQUEST_ID_PREFIX = "haven-top-"
"""Prefix of the `X-Request-ID` sent on every poll, so that a service's logs can
tell haven-top's own requests apart."""

METRICS_ACCEPT = "text/plain;version=0.0.4;q=1.0,*/*;q=0.1"
"""Accept header of a scrape: Prometheus text format 0.0.4. `prometheus_client`
sends OpenMetrics only when the header names `application/openmetrics-text`."""

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest response body read; an exposition of 100k samples is about 10 MiB."""


@dataclass(frozen=True)
class Timeouts:
    """Network deadlines of one poll, in seconds."""

    total: float
    """Deadline of the whole request, from connecting to the last byte."""
    connect: float
    """Deadline of opening the TCP (and TLS) connection."""


@dataclass(frozen=True)
class FetchResult:
    """Outcome of one GET: a response, or a one-line reason there was none."""

    url: str
    started_at: float
    """Unix time the request was sent."""
    status: int | None = None
    content_type: str | None = None
    body: bytes = b""
    error: str | None = None
    """One-line reason, with the likely fix, when no response arrived."""


def new_request_id() -> str:
    """Return a fresh `X-Request-ID` value with haven-top's prefix."""
    return f"{REQUEST_ID_PREFIX}{uuid.uuid4()}"


def make_client(
    timeouts: Timeouts, *, max_connections: int = 20, keepalive_seconds: float = 5.0
) -> httpx.AsyncClient:
    """Build the HTTP client shared by every poll of every target.

    Idle connections stay open for `keepalive_seconds`, which should exceed the
    poll interval so that each poll reuses its connection.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeouts.total, connect=timeouts.connect),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_seconds,
        ),
        headers={"User-Agent": f"haven-top/{__version__}"},
        follow_redirects=True,
    )


def join_url(base: str, path: str) -> str:
    """Join a target's base URL and an absolute path such as `/metrics`."""
    return base.rstrip("/") + path


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    timeouts: Timeouts,
    *,
    accept: str = "application/json",
) -> FetchResult:
    """GET `url` within `timeouts.total` seconds.

    Timeouts and httpx errors are returned in `FetchResult.error`, not raised.
    """
    started_at = time.time()
    headers = {"Accept": accept, "X-Request-ID": new_request_id()}
    try:
        return await _within(
            _read_response(client, url, headers, started_at), timeouts.total
        )
    except (asyncio.TimeoutError, httpx.TimeoutException) as exc:
        error = describe_timeout(url, exc, timeouts)
    except httpx.HTTPError as exc:
        error = describe_http_error(url, exc)
    return FetchResult(url=url, started_at=started_at, error=error)


async def _within(awaitable: Awaitable[FetchResult], seconds: float) -> FetchResult:
    """Await `awaitable`, raising `asyncio.TimeoutError` after `seconds`."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await awaitable
    # NOTE: before Python 3.12, wait_for can swallow a cancellation that arrives
    # as the request completes; Collector.stop() cancels again for that reason.
    return await asyncio.wait_for(awaitable, seconds)


async def _read_response(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], started_at: float
) -> FetchResult:
    async with client.stream("GET", url, headers=headers) as response:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                limit = MAX_BODY_BYTES // (1024 * 1024)
                error = (
                    f"{shown_url(url)}: response body larger than {limit} MiB; "
                    "check that the URL serves Prometheus metrics"
                )
                return FetchResult(url=url, started_at=started_at, error=error)
            chunks.append(chunk)
        return FetchResult(
            url=url,
            started_at=started_at,
            status=response.status_code,
            content_type=response.headers.get("content-type"),
            body=b"".join(chunks),
        )


def shown_url(url: str) -> str:
    """Return `url` as messages show it: password hidden, controls made visible."""
    return visible(redact_url(url))


def describe_timeout(url: str, exc: Exception, timeouts: Timeouts) -> str:
    """Explain a timed-out request in one line, with the option to raise."""
    url = shown_url(url)
    if isinstance(exc, httpx.ConnectTimeout):
        return (
            f"{url}: connecting timed out after {timeouts.connect:g} s; check that "
            "the host is reachable, or raise --connect-timeout on a slow link"
        )
    if isinstance(exc, httpx.PoolTimeout):
        return (
            f"{url}: no free connection within {timeouts.total:g} s; "
            "raise --timeout or poll fewer targets"
        )
    return (
        f"{url}: no answer within {timeouts.total:g} s; check the service's load, "
        "or raise --timeout on a slow link"
    )


def describe_http_error(url: str, exc: httpx.HTTPError) -> str:
    """Explain a failed request (refused, unresolvable, dropped) in one line."""
    return f"{shown_url(url)}: {failure_reason(exc)}"


def failure_reason(exc: httpx.HTTPError) -> str:
    """Say why a request got no response, and the fix, without the URL.

    The dashboard, `--once` and `haven-top debug` share this wording.
    """
    text = redact_url(str(exc)) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        causes = _causes(exc)
        if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
            return (
                "connection refused; check that the service is running "
                "and listens on that host and port"
            )
        if any(isinstance(cause, socket.gaierror) for cause in causes):
            return "unknown host; check the host name in the URL"
        return f"connecting failed: {_one_line(text)}; check the URL"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects; check the base URL"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return (
            f"connection dropped: {_one_line(text)}; "
            "check that the URL is an HTTP service and read its logs"
        )
    return f"request failed: {_one_line(text)}; check the URL"


def describe_status(url: str, status: int) -> str:
    """Explain an unexpected HTTP status in one line."""
    reason = httpx.codes.get_reason_phrase(status)
    if status in (401, 403):
        fix = "haven-top reads /metrics without credentials; allow it or use a proxy"
    elif status == 404:
        fix = "check that the URL is the base URL of a Haven service"
    elif status >= 500:
        fix = "the service failed to answer; read its logs"
    else:
        fix = "check that the URL is the base URL of a Haven service"
    return f"{shown_url(url)}: HTTP {status} {reason}; {fix}"


def describe_html(url: str) -> str:
    """Explain an HTML page where metrics or JSON were expected."""
    return (
        f"{shown_url(url)}: returned an HTML page, not metrics; check that the URL "
        "is the base URL of a Haven service and not a proxy or login page"
    )


def looks_like_html(content_type: str | None, body: bytes) -> bool:
    """Tell whether a response is an HTML page, by its type or its first bytes."""
    if content_type and "html" in content_type.lower():
        return True
    start = body[:64].lstrip().lower()
    return start.startswith((b"<!doctype", b"<html", b"<head", b"<body"))


def _causes(exc: BaseException) -> list[BaseException]:
    """List `exc` and the exceptions it was raised from.

    httpx and anyio wrap the `OSError` that distinguishes a refused connection
    from a failed DNS lookup, so the chain must be searched.
    """
    chain = [exc]
    while len(chain) < 10:
        cause = chain[-1].__cause__ or chain[-1].__context__
        if cause is None:
            break
        chain.append(cause)
    return chain


def _one_line(text: str, limit: int = 160) -> str:
    flat = visible(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class ScrapeResult:
    """One scrape of `/metrics`: an exposition body, or a one-line reason."""

    target: str
    at: float
    """Unix time the scrape started, which stamps its samples."""
    body: bytes | None = None
    content_type: str | None = None
    error: str | None = None


async def scrape(
    client: httpx.AsyncClient, target: str, timeouts: Timeouts
) -> ScrapeResult:
    """Fetch `/metrics` of `target`, keeping only a body that may be an exposition."""
    url = join_url(target, "/metrics")
    result = await fetch(client, url, timeouts, accept=METRICS_ACCEPT)
    error = result.error
    if error is None and result.status != 200:
        error = describe_status(url, result.status or 0)
    if error is None and looks_like_html(result.content_type, result.body):
        error = describe_html(url)
    if error is not None:
        return ScrapeResult(target=target, at=result.started_at, error=error)
    return ScrapeResult(
        target=target,
        at=result.started_at,
        body=result.body,
        content_type=result.content_type,
    )


async def poll_forever(poll: Callable[[], Awaitable[None]], interval: float) -> None:
    """Await `poll()` every `interval` seconds until cancelled.

    The next round is armed only after the previous one ends, so rounds never
    overlap. A round that overruns the interval is followed at once by the next.
    """
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while True:
        await poll()
        now = loop.time()
        next_at = max(next_at + interval, now)
        await asyncio.sleep(next_at - now)
