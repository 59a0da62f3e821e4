"""The demo Haven service as a Starlette app: records API, health, metrics, admin."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from haven_top.demo.middleware import RequestMiddleware
from haven_top.demo.pool import DatabaseUnavailable, PoolTimeout
from haven_top.demo.service import DemoService
from haven_top.demo.stream import make_stream_endpoint

log = logging.getLogger("haven.api")
admin_log = logging.getLogger("haven.admin")

MAX_DEBUG_SECONDS = 24 * 3600
INJECTED_ERRORS = (
    "deadlock detected while updating records",
    "upstream search index timed out",
    "could not serialize access due to concurrent update",
)


class InjectedFault(Exception):
    """A failure injected by the scenario, returned to the client as a 500."""


class InvalidInput(Exception):
    """A request body or parameter that fails validation."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def build_app(service: DemoService) -> Starlette:
    """Build the ASGI app around an already created `DemoService`."""
    routes = [
        Route("/health/live", _health_live),
        Route("/health/ready", _with(service, _health_ready)),
        Route("/metrics", _with(service, _metrics)),
        Route("/demo/state", _with(service, _demo_state)),
        Route(
            "/api/v1/records",
            _with(service, _records),
            methods=["GET", "POST"],
        ),
        Route(
            "/api/v1/records/{id}",
            _with(service, _record),
            methods=["GET", "PUT", "DELETE"],
        ),
        WebSocketRoute("/logs/stream", make_stream_endpoint(service)),
    ]
    if service.options.debug_endpoint:
        routes.append(
            Route("/admin/debug", _with(service, _admin_debug), methods=["GET", "POST"])
        )
    handlers = {
        InjectedFault: _fault_response,
        PoolTimeout: _pool_timeout_response,
        DatabaseUnavailable: _database_down_response,
        InvalidInput: _invalid_input_response,
    }
    middleware = [Middleware(RequestMiddleware, metrics=service.metrics)]
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)


def _with(service: DemoService, handler: Callable[..., Any]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        return await handler(service, request)

    endpoint.__name__ = handler.__name__.lstrip("_")
    return endpoint


async def _health_live(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


async def _health_ready(service: DemoService, request: Request) -> Response:
    try:
        await run_in_threadpool(service.store.ping)
    except (DatabaseUnavailable, PoolTimeout) as exc:
        log.warning("Readiness check failed: %s", exc)
        return JSONResponse({"status": "not ready", "error": str(exc)}, 503)
    dependencies = {"database": "healthy", "cache": "healthy"}
    return JSONResponse({"status": "ready", "dependencies": dependencies})


async def _metrics(service: DemoService, request: Request) -> Response:
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    body = encoder(service.metrics.registry)
    return Response(body, headers={"Content-Type": content_type})


async def _demo_state(service: DemoService, request: Request) -> Response:
    scenario = service.scenario
    enabled, level, expires_at = service.debug.state()
    return JSONResponse(
        {
            "scenario": scenario.name if scenario else "none",
            "phase": scenario.phase if scenario else "none",
            "cycle": scenario.cycle if scenario else 0,
            "faults": dataclasses.asdict(service.faults),
            "debug": {"enabled": enabled, "level": level, "expires_at": expires_at},
            "pool": {"in_use": service.pool.in_use, "capacity": service.pool.capacity},
            "stream_clients": service.hub.subscriber_count,
            "database": str(service.pool.path),
        }
    )


async def _admin_debug(service: DemoService, request: Request) -> Response:
    if not _authorized(request, service.options.admin_token):
        admin_log.warning("Rejected admin request with a missing or invalid token")
        return JSONResponse(
            {"error": "missing or invalid bearer token"},
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if request.method == "POST":
        body = await _json_body(request)
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise InvalidInput("field 'enabled' must be true or false")
        if enabled:
            service.debug.enable(_duration(body.get("duration", 300)))
        else:
            service.debug.disable()
    enabled, level, expires_at = service.debug.state()
    return JSONResponse({"enabled": enabled, "level": level, "expires_at": expires_at})


def _authorized(request: Request, token: str) -> bool:
    scheme, _, supplied = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(supplied.strip().encode(), token.encode())


def _duration(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(
            f"field 'duration' must be a number of seconds, got {value!r}"
        )
    if not 0 < value <= MAX_DEBUG_SECONDS:
        raise InvalidInput(
            f"field 'duration' must be between 0 and {MAX_DEBUG_SECONDS} s, got {value}"
        )
    return float(value)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}", 400) from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object", 400)
    return body


def _record_fields(body: dict[str, Any]) -> tuple[str, float]:
    name, value = body.get("name"), body.get("value")
    if not isinstance(name, str) or not 0 < len(name) <= 200:
        raise InvalidInput("field 'name' must be a string of 1-200 characters")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"field 'value' must be a number, got {value!r}")
    return name, float(value)


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        number = int(raw)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise InvalidInput(
            f"query parameter {name!r} must be an integer {low}-{high}, got {raw!r}",
            400,
        )
    return number


async def _run_query(
    service: DemoService, func: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """Run one store call with the scenario's latency, errors and slow queries."""
    faults, rng = service.faults, service.rng
    delay = rng.uniform(*faults.base_latency)
    if rng.random() < faults.slow_fraction:
        delay += rng.uniform(*faults.slow_seconds)
    await asyncio.sleep(delay)
    if rng.random() < faults.error_rate:
        raise InjectedFault(rng.choice(INJECTED_ERRORS))
    hold = rng.uniform(*faults.hold_seconds) if faults.hold_seconds[1] > 0 else 0.0
    return await run_in_threadpool(func, *args, hold=hold, **kwargs)


async def _records(service: DemoService, request: Request) -> Response:
    if request.method == "POST":
        return await _create_record(service, request)
    return await _list_records(service, request)


async def _record(service: DemoService, request: Request) -> Response:
    raw_id = request.path_params["id"]
    if not raw_id.isdigit():
        return JSONResponse(
            {"error": f"record id must be an integer, got {raw_id!r}"}, 404
        )
    handlers = {"GET": _get_record, "PUT": _update_record, "DELETE": _delete_record}
    return await handlers[request.method](service, request, int(raw_id))


async def _list_records(service: DemoService, request: Request) -> Response:
    limit = _query_int(request, "limit", 20, 1, 100)
    offset = _query_int(request, "offset", 0, 0, 10**9)
    records = await _run_query(service, service.store.list, limit=limit, offset=offset)
    return JSONResponse({"records": records, "count": len(records)})


async def _create_record(service: DemoService, request: Request) -> Response:
    name, value = _record_fields(await _json_body(request))
    record = await _run_query(service, service.store.create, name, value)
    return JSONResponse(record, 201)


async def _get_record(
    service: DemoService, request: Request, record_id: int
) -> Response:
    record = await _run_query(service, service.store.get, record_id)
    return _found_or_404(record, record_id)


async def _update_record(
    service: DemoService, request: Request, record_id: int
) -> Response:
    name, value = _record_fields(await _json_body(request))
    record = await _run_query(service, service.store.update, record_id, name, value)
    return _found_or_404(record, record_id)


async def _delete_record(
    service: DemoService, request: Request, record_id: int
) -> Response:
    if await _run_query(service, service.store.delete, record_id):
        return Response(status_code=204)
    return _found_or_404(None, record_id)


def _found_or_404(record: dict[str, Any] | None, record_id: int) -> Response:
    if record is None:
        return JSONResponse({"error": f"record {record_id} not found"}, 404)
    return JSONResponse(record)


async def _fault_response(request: Request, exc: Exception) -> Response:
    log.error("Request failed: %s", exc, exc_info=exc)
    return JSONResponse({"error": "internal server error"}, 500)


async def _pool_timeout_response(request: Request, exc: Exception) -> Response:
    log.warning("Connection pool exhausted: %s", exc)
    return JSONResponse({"error": "database connection pool exhausted"}, 503)


async def _database_down_response(request: Request, exc: Exception) -> Response:
    log.error("Database unavailable: %s", exc)
    return JSONResponse({"error": "database unavailable"}, 503)


async def _invalid_input_response(request: Request, exc: Exception) -> Response:
    status = exc.status if isinstance(exc, InvalidInput) else 422
    return JSONResponse({"error": str(exc)}, status)
