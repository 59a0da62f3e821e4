"""Structured JSON logging for the demo service, fanned out to WebSocket clients.

The `haven.*` loggers write records from the event loop and from worker
threads. `LogHub` formats each record once and appends it to every
subscriber's bounded queue. A slow subscriber loses its oldest records and
the loss is counted, so memory stays bounded whatever the client does.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import threading
from collections import deque
from datetime import datetime, timezone
from typing import Any

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

ROOT_LOGGER = "haven"


class RequestIdFilter(logging.Filter):
    """Stamp each record with the request id of the code that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object in the Haven log shape."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_to_dict(record), default=str)


class RawTracebackFormatter(logging.Formatter):
    """Format a record as JSON, then any traceback as plain lines after it.

    Many real services write logs this way, so log readers meet lines that
    are not JSON.
    """

    def format(self, record: logging.LogRecord) -> str:
        data = record_to_dict(record)
        traceback = data.pop("exception", None)
        line = json.dumps(data, default=str)
        return f"{line}\n{traceback}" if traceback else line


def record_to_dict(record: logging.LogRecord) -> dict[str, Any]:
    """Build the Haven log record: timestamp, level, logger, message, extra."""
    stamp = datetime.fromtimestamp(record.created, timezone.utc)
    data: dict[str, Any] = {
        "timestamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
    }
    extra: dict[str, Any] = {}
    request_id = getattr(record, "request_id", None)
    if request_id is not None:
        extra["request_id"] = request_id
    extra.update(getattr(record, "fields", {}))
    if extra:
        data["extra"] = extra
    if record.exc_info:
        data["exception"] = logging.Formatter().formatException(record.exc_info)
    return data


class Subscriber:
    """One stream client's filter and bounded queue of formatted records."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        min_level: int = 0,
        request_id: str | None = None,
        max_queued: int = 1000,
    ) -> None:
        self.loop = loop
        self.min_level = min_level
        self.request_id = request_id
        self.queue: deque[str] = deque(maxlen=max_queued)
        self.dropped = 0
        self.ready = asyncio.Event()
        self._lock = threading.Lock()

    def wants(self, level: int, request_id: str | None) -> bool:
        """Return whether a record of this level and request id passes the filter."""
        if level < self.min_level:
            return False
        return self.request_id is None or request_id == self.request_id

    def offer(self, line: str) -> None:
        """Queue a line from any thread, dropping the oldest when full."""
        with self._lock:
            if len(self.queue) == self.queue.maxlen:
                self.dropped += 1
            self.queue.append(line)
        self.loop.call_soon_threadsafe(self.ready.set)

    def take(self, limit: int) -> tuple[list[str], int]:
        """Remove up to `limit` lines and return them with the drops since last."""
        with self._lock:
            count = min(limit, len(self.queue))
            lines = [self.queue.popleft() for _ in range(count)]
            dropped, self.dropped = self.dropped, 0
            if not self.queue:
                self.ready.clear()
        return lines, dropped


class LogHub(logging.Handler):
    """A logging handler that copies every record to the stream subscribers."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestIdFilter())
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        self.dropped_total = 0

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            targets = [
                sub
                for sub in self._subscribers
                if sub.wants(record.levelno, getattr(record, "request_id", None))
            ]
        if not targets:
            return
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - logging must never raise into callers
            self.handleError(record)
            return
        for subscriber in targets:
            try:
                subscriber.offer(line)
            except RuntimeError:
                # The subscriber's event loop has closed, so the client is gone.
                self.unsubscribe(subscriber)


class DebugMode:
    """Switch the `haven` loggers to DEBUG for a while, then back to INFO."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.audit = logging.getLogger(f"{logger.name}.admin")
        self.expires_at: datetime | None = None
        self._timer: asyncio.TimerHandle | None = None

    @property
    def enabled(self) -> bool:
        return self.expires_at is not None

    def enable(self, duration: float) -> datetime:
        """Turn debug logging on for `duration` seconds and return the expiry."""
        self._cancel_timer()
        loop = asyncio.get_running_loop()
        # A fresh context keeps the enabling request's id off the expiry record.
        self._timer = loop.call_later(
            duration, self._expire, context=contextvars.Context()
        )
        now = datetime.now(timezone.utc)
        self.expires_at = datetime.fromtimestamp(
            now.timestamp() + duration, timezone.utc
        )
        self.logger.setLevel(logging.DEBUG)
        self.audit.warning(
            "Debug logging enabled",
            extra={"fields": {"duration_s": duration, "expires_at": self.state()[2]}},
        )
        return self.expires_at

    def disable(self, reason: str = "disabled by request") -> None:
        """Turn debug logging off now."""
        self._cancel_timer()
        was_enabled = self.enabled
        self.expires_at = None
        self.logger.setLevel(logging.INFO)
        if was_enabled:
            self.audit.warning(
                "Debug logging disabled", extra={"fields": {"reason": reason}}
            )

    def state(self) -> tuple[bool, str, str | None]:
        """Return (enabled, level name, expiry as ISO 8601 or None)."""
        if self.expires_at is None:
            return False, "INFO", None
        expiry = self.expires_at.isoformat(timespec="milliseconds")
        return True, "DEBUG", expiry.replace("+00:00", "Z")

    def _expire(self) -> None:
        self._timer = None
        self.disable(reason="expired")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def configure_logging(
    hub: LogHub, log_file: str | None = None, *, raw_tracebacks: bool = False
) -> logging.Logger:
    """Attach the hub, and a JSON-lines file if given, to the `haven` logger.

    With `raw_tracebacks` the file also gets a plain start-up banner and
    tracebacks as plain text after their record.
    """
    logger = logging.getLogger(ROOT_LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(hub)
    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        if raw_tracebacks:
            file_handler.setFormatter(RawTracebackFormatter())
            file_handler.stream.write(
                f"Haven demo service starting, pid {os.getpid()}\n"
            )
        else:
            file_handler.setFormatter(JsonFormatter())
        file_handler.addFilter(RequestIdFilter())
        logger.addHandler(file_handler)
    return logger
