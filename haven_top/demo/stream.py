"""The /logs/stream WebSocket: live JSON log records, filtered per client."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from starlette.websockets import WebSocket, WebSocketDisconnect

from haven_top.demo.logs import LEVELS, Subscriber
from haven_top.demo.service import DemoService

log = logging.getLogger("haven.logs")

POLICY_VIOLATION = 1008
UNSUPPORTED_DATA = 1003
MAX_RECORDS_PER_MESSAGE = 200
# Waiting a moment after the first record lets a burst share one message.
COALESCE_SECONDS = 0.02


def make_stream_endpoint(
    service: DemoService,
) -> Callable[[WebSocket], Awaitable[None]]:
    """Return the WebSocket endpoint bound to `service`."""

    async def stream_logs(websocket: WebSocket) -> None:
        await websocket.accept()
        if service.options.require_log_token and not _authorized(
            websocket, service.options.admin_token
        ):
            log.warning("Rejected log stream client with a missing or invalid token")
            await websocket.close(POLICY_VIOLATION, "missing or invalid bearer token")
            return
        level_name = websocket.query_params.get("level", "DEBUG").upper()
        if level_name not in LEVELS:
            known = ", ".join(LEVELS)
            reason = f"unknown level {level_name!r}, use one of {known}"
            await websocket.close(UNSUPPORTED_DATA, reason)
            return
        subscriber = Subscriber(
            asyncio.get_running_loop(),
            min_level=LEVELS[level_name],
            request_id=websocket.query_params.get("request_id") or None,
            max_queued=service.options.stream_queue_size,
        )
        await _serve(service, websocket, subscriber)

    return stream_logs


def _authorized(websocket: WebSocket, token: str) -> bool:
    scheme, _, supplied = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(supplied.strip().encode(), token.encode())


async def _serve(
    service: DemoService, websocket: WebSocket, subscriber: Subscriber
) -> None:
    client = (
        f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "?"
    )
    filters = {"min_level": subscriber.min_level, "request_id": subscriber.request_id}
    log.info(
        "Log stream client connected", extra={"fields": {"client": client, **filters}}
    )
    service.hub.subscribe(subscriber)
    sender = asyncio.create_task(_send_records(service, websocket, subscriber))
    watcher = asyncio.create_task(_wait_for_disconnect(websocket))
    try:
        done, _ = await asyncio.wait(
            {sender, watcher}, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        service.hub.unsubscribe(subscriber)
        for task in (sender, watcher):
            task.cancel()
        await asyncio.gather(sender, watcher, return_exceptions=True)
    log.info("Log stream client disconnected", extra={"fields": {"client": client}})


async def _send_records(
    service: DemoService, websocket: WebSocket, subscriber: Subscriber
) -> None:
    while True:
        await subscriber.ready.wait()
        await asyncio.sleep(COALESCE_SECONDS)
        lines, dropped = subscriber.take(MAX_RECORDS_PER_MESSAGE)
        if dropped:
            service.metrics.stream_dropped.inc(dropped)
            lines.insert(0, _drop_notice(dropped))
        if not lines:
            continue
        try:
            await websocket.send_text("\n".join(lines))
        except (WebSocketDisconnect, RuntimeError, OSError):
            return


async def _wait_for_disconnect(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


def _drop_notice(count: int) -> str:
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return json.dumps(
        {
            "timestamp": stamp.replace("+00:00", "Z"),
            "level": "WARNING",
            "logger": "haven.logs",
            "message": f"Dropped {count} log records because the client read slowly",
            "extra": {"dropped": count},
        }
    )
