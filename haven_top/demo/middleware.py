"""ASGI middleware: request ids, the request metrics and one log record per request."""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haven_top.demo.logs import request_id_var
from haven_top.demo.service import Metrics

log = logging.getLogger("haven.api")

MAX_REQUEST_ID_LENGTH = 128
UNMATCHED_ENDPOINT = "<unmatched>"


def pick_request_id(headers: Headers) -> str:
    """Return the client's X-Request-ID when it is sane, else a new UUID4."""
    candidate = headers.get("x-request-id", "")
    if 0 < len(candidate) <= MAX_REQUEST_ID_LENGTH and candidate.isprintable():
        return candidate
    return str(uuid.uuid4())


def endpoint_label(scope: Scope) -> str:
    """Return the matched route's template, such as /api/v1/records/{id}."""
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED_ENDPOINT


class RequestMiddleware:
    """Tag, time, count and log every HTTP request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = pick_request_id(Headers(scope=scope))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("Unhandled error while processing request")
            if response_started:
                raise
            await _send_internal_error(send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - started, request_id)
            request_id_var.reset(token)

    def _record(
        self, scope: Scope, status: int, seconds: float, request_id: str
    ) -> None:
        method = scope["method"]
        endpoint = endpoint_label(scope)
        self.metrics.requests.labels(method, endpoint, str(status)).inc()
        self.metrics.duration.labels(method, endpoint).observe(seconds)
        fields = {
            "method": method,
            "path": scope["path"],
            "status_code": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        level = logging.ERROR if status >= 500 else logging.INFO
        log.log(
            level,
            "Request processed",
            extra={"fields": fields, "request_id": request_id},
        )


async def _send_internal_error(send: Send) -> None:
    body = json.dumps({"error": "internal server error"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
