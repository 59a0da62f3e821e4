"""A target's `/logs/stream` WebSocket, reconnecting with backoff.

Each text message contains one JSON record or several separated by newlines.
When the connection drops, is refused (an HTTP error, or close code 1008 for
a bad token) or stalls (no pong within `ping_timeout`, or no handshake within
`open_timeout`), the source waits and connects again: exponential backoff
from `backoff_base` doubling to `backoff_max` (30 s), each wait jittered
between half and all of its value. What was received stays in the store.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from haven_top.sources.logstreams import LineSplitter, LogSink

POLICY_VIOLATION = 1008
STABLE_SECONDS = 10.0
"""A connection up this long (or one that sent a message) resets the backoff."""


@dataclass(frozen=True)
class Backoff:
    """Waits between reconnection attempts, in seconds."""

    base: float = 0.5
    maximum: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Return the jittered wait before attempt `attempt` (1 is the first retry)."""
        ceiling = min(self.maximum, self.base * 2 ** max(0, attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)


def stream_url(
    base_url: str, *, level: str | None = None, request_id: str | None = None
) -> str:
    """Turn a target's base URL (http or https) into its `/logs/stream` URL."""
    parts = urlsplit(base_url)
    scheme = {"https": "wss", "wss": "wss"}.get(parts.scheme, "ws")
    path = parts.path.rstrip("/") + "/logs/stream"
    query = {
        key: value for key, value in (("level", level), ("request_id", request_id))
    }
    encoded = urlencode({key: value for key, value in query.items() if value})
    return urlunsplit((scheme, parts.netloc, path, encoded, ""))


class WebSocketLogSource:
    """Read one target's log stream for as long as the task runs."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        level: str | None = None,
        request_id: str | None = None,
        open_timeout: float = 5.0,
        ping_interval: float = 10.0,
        ping_timeout: float = 10.0,
        backoff: Backoff | None = None,
        seed: int | None = None,
    ) -> None:
        self.url = stream_url(base_url, level=level, request_id=request_id)
        self.instance = urlsplit(base_url).netloc or base_url
        self.name = self.instance
        self.token = token
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.backoff = backoff or Backoff()
        self.attempts = 0
        """Failed attempts since the last stable connection."""
        self._rng = random.Random(seed)

    async def run(self, sink: LogSink) -> None:
        while True:
            sink.set_status(self.name, "connecting", self.url)
            reason, rejected = await self._connect_once(sink)
            self.attempts += 1
            delay = self.backoff.delay(self.attempts, self._rng)
            state = "rejected" if rejected else "retrying"
            sink.set_status(self.name, state, f"{reason}; retry in {delay:.1f} s")
            await asyncio.sleep(delay)

    async def _connect_once(self, sink: LogSink) -> tuple[str, bool]:
        """Connect and read until the connection ends; return why, and whether
        the server rejected haven-top (bad token, HTTP 4xx)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        try:
            async with connect(
                self.url,
                additional_headers=headers,
                open_timeout=self.open_timeout,
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                max_size=None,
                compression=None,
            ) as connection:
                return await self._read(connection, sink)
        except InvalidStatus as error:
            status = error.response.status_code
            return f"handshake rejected with HTTP {status}", 400 <= status < 500
        except (TimeoutError, asyncio.TimeoutError):
            return f"no handshake within {self.open_timeout:g} s", False
        except (OSError, InvalidHandshake) as error:
            return _describe(error), False

    async def _read(
        self, connection: ClientConnection, sink: LogSink
    ) -> tuple[str, bool]:
        sink.set_status(self.name, "connected", self.url)
        opened = time.monotonic()
        splitter = LineSplitter()
        try:
            while True:
                message = await connection.recv(decode=False)
                self.attempts = 0
                data = message if isinstance(message, bytes) else message.encode()
                sink.add_lines(self.instance, splitter.feed(data + b"\n"))
        except ConnectionClosed as closed:
            if time.monotonic() - opened >= STABLE_SECONDS:
                self.attempts = 0
            return _close_reason(closed)


def _close_reason(closed: ConnectionClosed) -> tuple[str, bool]:
    frame = closed.rcvd
    if frame is None:
        return "connection lost (no close frame; stalled or dropped)", False
    reason = f": {frame.reason}" if frame.reason else ""
    if frame.code == POLICY_VIOLATION:
        return f"closed by the server with code 1008{reason}; check the token", True
    return f"closed by the server with code {frame.code}{reason}", False


def _describe(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
