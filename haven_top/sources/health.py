"""Poll a target's `/health/live` and `/health/ready` and read what they return.

A 200 from `/health/ready` carries `{"dependencies": {"database": "healthy"}}`;
a 503 carries `{"status": "not ready", "error": "..."}`. As with Kubernetes
probes, a probe that cannot be reached or times out counts as failing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from haven_top.core.sanitize import visible
from haven_top.sources.scraper import (
    FetchResult,
    Timeouts,
    describe_html,
    describe_status,
    fetch,
    join_url,
    looks_like_html,
)

MAX_ERROR_CHARS = 200
"""Longest 503 error text kept, so that it fits on one line of the screen."""
MAX_DEPENDENCY_CHARS = 80
"""Maximum characters kept of a dependency name or state."""


@dataclass(frozen=True)
class HealthResult:
    """One poll of both health endpoints of one target."""

    target: str
    at: float
    live: bool
    ready: bool
    dependencies: dict[str, str] = field(default_factory=dict)
    ready_error: str | None = None
    """The `error` text of a 503 from `/health/ready`."""
    error: str | None = None
    """One-line reason, with the likely fix, when a probe got no usable response."""


async def check_health(
    client: httpx.AsyncClient, target: str, timeouts: Timeouts
) -> HealthResult:
    """Poll `/health/live` and `/health/ready` of `target` concurrently."""
    live_result, ready_result = await asyncio.gather(
        fetch(client, join_url(target, "/health/live"), timeouts),
        fetch(client, join_url(target, "/health/ready"), timeouts),
    )
    live_error = probe_error(live_result, ok_statuses=(200,))
    ready_error_line = probe_error(ready_result, ok_statuses=(200, 503))
    payload = parse_json_object(ready_result.body) if ready_error_line is None else {}
    ready = ready_error_line is None and ready_result.status == 200
    ready_error = None
    if ready_error_line is None and ready_result.status == 503:
        ready_error = read_error_text(payload, ready_result.body)
    return HealthResult(
        target=target,
        at=live_result.started_at,
        live=live_error is None,
        ready=ready,
        dependencies=read_dependencies(payload),
        ready_error=ready_error,
        error=live_error or ready_error_line,
    )


def probe_error(result: FetchResult, *, ok_statuses: tuple[int, ...]) -> str | None:
    """Return why a probe failed, or None when its status is in `ok_statuses`."""
    if result.error is not None:
        return result.error
    if result.status not in ok_statuses:
        return describe_status(result.url, result.status or 0)
    if looks_like_html(result.content_type, result.body):
        return describe_html(result.url)
    return None


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object body; anything else decodes to an empty dict."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def read_dependencies(payload: dict[str, Any]) -> dict[str, str]:
    """Map each dependency to its state as text: "healthy", "unhealthy" ...

    A state given as an object such as `{"status": "healthy", ...}` is reduced
    to its `status`; other values are shown as JSON text. Control characters
    in names and states are made visible, because the target chooses them.
    """
    raw = payload.get("dependencies")
    if not isinstance(raw, dict):
        return {}
    dependencies = {}
    for name, state in raw.items():
        if isinstance(state, dict) and "status" in state:
            state = state["status"]
        if not isinstance(state, str):
            state = orjson.dumps(state).decode()
        dependencies[_shown(str(name))] = _shown(state)
    return dependencies


def _shown(text: str, limit: int = MAX_DEPENDENCY_CHARS) -> str:
    flat = visible(text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def read_error_text(payload: dict[str, Any], body: bytes) -> str:
    """Return the `error` of a 503 payload, or the raw body when it has none,
    as one line with control characters made visible."""
    error = payload.get("error")
    if error is None:
        text = body.decode("utf-8", errors="replace")
    elif isinstance(error, str):
        text = error
    else:
        text = orjson.dumps(error).decode()
    flat = " ".join(text.split()) or "no error text"
    return _shown(flat, MAX_ERROR_CHARS)
