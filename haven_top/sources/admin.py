"""Client for a Haven service's `POST /admin/debug`, with one-line outcomes.

Every call returns a `DebugResult` instead of raising, so neither the app nor
the CLI can crash on a service's response, and no traceback of a failed call
exists to carry the token. The token leaves this process only in the
`Authorization` header, over https or over http to a loopback address.
"""

from __future__ import annotations

import asyncio
import enum
import time
import uuid
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from haven_top.core.sanitize import visible
from haven_top.core.token import (
    AdminToken,
    Secret,
    check_target,
)
from haven_top.core.urls import redact_url
from haven_top.sources.scraper import failure_reason

DEBUG_PATH = "/admin/debug"
DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRY_DELAY = 1.0
MAX_DURATION = 86_400
"""Upper bound for a requested duration in seconds (one day)."""
MAX_ATTEMPTS = 2
"""One retry after a timeout, a connection failure or a 5xx other than 501."""
NO_ENDPOINT_STATUSES = (404, 405, 501)
"""Statuses that mean the service has no `/admin/debug`; never retried."""

_DETAIL_CHARS = 120


class Outcome(enum.Enum):
    """Result kind of a debug request; every kind but OK is a failure."""

    OK = "ok"
    REJECTED = "rejected"
    """401 or 403: the token is wrong or missing."""
    NO_ENDPOINT = "no_endpoint"
    """404, 405 or 501: the service has no `/admin/debug`."""
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"
    """Not sent: the URL is not https nor http to a loopback address."""
    INVALID = "invalid"
    """Not sent or not understood: a bad URL or an unexpected response."""


@dataclass(frozen=True)
class DebugResult:
    target: str
    enabled: bool
    """The state that was requested."""
    outcome: Outcome
    message: str
    """One line for the operator; never contains the token or a URL's
    password, and shows control characters from the service visibly."""
    status: int | None = None
    until: float | None = None
    """Local Unix time when debug logging ends, for a successful enable."""
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True)
class AdminOptions:
    """Settings for the dashboard's `/admin/debug` calls, from flags and config."""

    token: AdminToken | None = None
    token_error: str | None = None
    """Reason the token failed to load, shown when the operator presses the key."""
    warnings: tuple[str, ...] = ()
    """One-line warnings to show once at start, such as a readable token file."""
    allow_insecure: bool = False
    timeout: float = DEFAULT_TIMEOUT


class _BearerAuth(httpx.Auth):
    """Bearer authentication that sets the header at send time, so no local
    variable in this module's frames contains the token."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = "Bearer " + self._token.reveal()
        yield request


def debug_url(target: str) -> str:
    """Join a target's base URL (which may have a path prefix) with `/admin/debug`."""
    parts = urlsplit(target)
    path = parts.path.rstrip("/") + DEBUG_PATH
    return parts._replace(path=path, query="", fragment="").geturl()


class AdminClient:
    """Sends `POST /admin/debug` to targets, with one retry on a timeout, a
    connection failure or a 5xx other than 501. The retry is safe because the
    request sets a state."""

    def __init__(
        self,
        token: Secret,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry_delay: float = DEFAULT_RETRY_DELAY,
        allow_insecure: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._auth = _BearerAuth(token)
        self._token = token
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.allow_insecure = allow_insecure
        self._transport = transport

    async def set_debug_many(
        self, targets: Sequence[str], enabled: bool, duration: int | None = None
    ) -> list[DebugResult]:
        """Send the same request to every target concurrently, results in order."""
        async with self._client() as client:
            calls = [self._set_debug(client, t, enabled, duration) for t in targets]
            return list(await asyncio.gather(*calls))

    async def set_debug(
        self, target: str, enabled: bool, duration: int | None = None
    ) -> DebugResult:
        """Turn debug logging on (for `duration` seconds) or off on one target."""
        async with self._client() as client:
            return await self._set_debug(client, target, enabled, duration)

    def _client(self) -> httpx.AsyncClient:
        # Redirects are not followed: one could lead the token to another host.
        return httpx.AsyncClient(
            auth=self._auth,
            timeout=self.timeout,
            follow_redirects=False,
            transport=self._transport,
            trust_env=False,
        )

    async def _set_debug(
        self,
        client: httpx.AsyncClient,
        target: str,
        enabled: bool,
        duration: int | None,
    ) -> DebugResult:
        problem = _check_request(target, enabled, duration, self.allow_insecure)
        if problem is not None:
            return problem
        body: dict[str, object] = {"enabled": enabled}
        if enabled:
            body["duration"] = duration
        try:
            result = await self._post_with_retry(client, target, body)
        except Exception as exc:  # noqa: BLE001 - see below
            # httpx maps transport failures to HTTPError, handled above. Anything
            # else ends here because its traceback would run through httpcore
            # frames whose locals hold the Authorization header.
            reason = _one_line(f"{type(exc).__name__}: {exc}")
            message = f"debug request to {_shown(target)} failed unexpectedly: {reason}"
            result = DebugResult(target, enabled, Outcome.INVALID, message)
        return self._redact(result)

    async def _post_with_retry(
        self, client: httpx.AsyncClient, target: str, body: dict[str, object]
    ) -> DebugResult:
        attempt = 1
        while True:
            sent_at = time.time()
            try:
                response = await client.post(
                    debug_url(target), json=body, headers=_headers()
                )
            except httpx.HTTPError as exc:
                if attempt == MAX_ATTEMPTS:
                    return _transport_failure(target, body, exc, attempt, self.timeout)
            else:
                if attempt == MAX_ATTEMPTS or not _is_retried(response):
                    return _classify(target, body, response, sent_at, attempt)
            await asyncio.sleep(self.retry_delay)
            attempt += 1

    def _redact(self, result: DebugResult) -> DebugResult:
        # A service could echo the header in an error body; never pass it on.
        message = result.message.replace(self._token.reveal(), "********")
        message = visible(redact_url(message))
        if message == result.message:
            return result
        return DebugResult(
            result.target,
            result.enabled,
            result.outcome,
            message,
            result.status,
            result.until,
            result.attempts,
        )


def _check_request(
    target: str, enabled: bool, duration: int | None, allow_insecure: bool
) -> DebugResult | None:
    refusal = check_target(target, allow_insecure=allow_insecure)
    if refusal is not None:
        refusal = redact_url(refusal)
        outcome = Outcome.INVALID if refusal.startswith("invalid") else Outcome.REFUSED
        return DebugResult(target, enabled, outcome, refusal)
    if enabled and (duration is None or not 1 <= duration <= MAX_DURATION):
        message = (
            f"invalid debug duration {duration}: "
            f"use a whole number of seconds from 1 to {MAX_DURATION}"
        )
        return DebugResult(target, enabled, Outcome.INVALID, message)
    return None


def _headers() -> dict[str, str]:
    return {"X-Request-ID": f"haven-top-admin-{uuid.uuid4()}"}


def _is_retried(response: httpx.Response) -> bool:
    # 501 Not Implemented means the endpoint does not exist, so a retry cannot help.
    return response.is_server_error and response.status_code != 501


def _shown(target: str) -> str:
    return visible(redact_url(target))


def _transport_failure(
    target: str,
    body: dict[str, object],
    error: httpx.HTTPError,
    attempts: int,
    timeout: float,
) -> DebugResult:
    enabled = bool(body["enabled"])
    tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
    if isinstance(error, httpx.TimeoutException):
        message = (
            f"debug request to {_shown(target)} timed out after {timeout:g} s "
            f"({tries}): check that the service is up, or raise the timeout"
        )
        return DebugResult(target, enabled, Outcome.TIMEOUT, message, attempts=attempts)
    message = (
        f"debug request to {_shown(target)} failed ({tries}): {failure_reason(error)}"
    )
    return DebugResult(target, enabled, Outcome.UNREACHABLE, message, attempts=attempts)


def _classify(
    target: str,
    body: dict[str, object],
    response: httpx.Response,
    sent_at: float,
    attempts: int,
) -> DebugResult:
    enabled = bool(body["enabled"])
    status = response.status_code
    reason = httpx.codes.get_reason_phrase(status)
    target_text = _shown(target)

    def result(
        outcome: Outcome, message: str, until: float | None = None
    ) -> DebugResult:
        return DebugResult(target, enabled, outcome, message, status, until, attempts)

    if status in (401, 403):
        return result(
            Outcome.REJECTED,
            f"admin token rejected by {target_text} (HTTP {status}): "
            "check HAVEN_ADMIN_TOKEN or the admin token file",
        )
    if status in NO_ENDPOINT_STATUSES:
        return result(
            Outcome.NO_ENDPOINT,
            f"{target_text} has no debug endpoint: POST {DEBUG_PATH} returned "
            f"HTTP {status} {reason}; use a Haven service that supports it",
        )
    if response.is_server_error:
        tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
        return result(
            Outcome.SERVER_ERROR,
            f"debug request to {target_text} failed with HTTP {status} ({tries}): "
            "try again later or check the service's logs",
        )
    if response.is_redirect:
        location = _one_line(response.headers.get("location", ""))
        return result(
            Outcome.INVALID,
            f"{target_text} redirects POST {DEBUG_PATH} to "
            f"{location or 'elsewhere'} (HTTP {status}): use the final URL as the "
            "target",
        )
    if not response.is_success:
        detail = _one_line(response.text)
        suffix = f": {detail}" if detail else ""
        return result(
            Outcome.INVALID,
            f"{target_text} rejected the debug request with HTTP {status}{suffix}",
        )
    if not enabled:
        return result(Outcome.OK, f"debug logging off on {target_text}")
    duration = int(body["duration"])  # type: ignore[call-overload]
    remaining = _granted_seconds(response, duration)
    until = sent_at + remaining
    clock = datetime.fromtimestamp(until).strftime("%H:%M:%S")
    return result(
        Outcome.OK,
        f"debug logging on for {remaining:.0f} s on {target_text}, until {clock}",
        until,
    )


def _granted_seconds(response: httpx.Response, requested: int) -> float:
    """Return how long the service reports debug stays on, at most `requested`.

    The service's `expires_at` is on its own clock, so it is compared with its
    `Date` header rather than with ours. A service that shortened the duration
    shows up here. `Date` has whole seconds, so the estimate is up to 1 s long.
    """
    try:
        payload = response.json()
        expires = _parse_iso(str(payload["expires_at"]))
        served = parsedate_to_datetime(response.headers["date"])
    except (ValueError, KeyError, TypeError):
        return float(requested)
    granted = (expires - served).total_seconds()
    return max(0.0, min(float(requested), granted))


def _parse_iso(text: str) -> datetime:
    # datetime.fromisoformat accepts a trailing "Z" only from Python 3.11 on.
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("expires_at has no time zone")
    return parsed


def _one_line(text: str) -> str:
    line = visible(" ".join(text.split()))
    if len(line) > _DETAIL_CHARS:
        line = line[: _DETAIL_CHARS - 3] + "..."
    return line
