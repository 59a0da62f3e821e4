"""Log sources merged into one store, in batches.

Each source (`log_websocket`, `log_files`) runs as one asyncio task and hands
its lines to a `LogHub`, a list append and nothing more. The hub's own task
ingests what is pending into the `LogStore` a few times a second, in slices
that yield to the event loop between them, so a burst blocks keys for at
most one slice (about 8 ms at 1.5 µs a line).
Whoever shows the logs polls the store, or gets one `on_change` call per
ingest; nothing is sent per line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from haven_top.core.logstore import LogStore

logger = logging.getLogger(__name__)

MAX_LINE_BYTES = 16 * 1024 * 1024
"""A line longer than this is stored in pieces of this size."""
INGEST_SLICE = 5_000
"""Lines ingested before the hub yields to the event loop (about 8 ms)."""


@dataclass(frozen=True)
class StreamStatus:
    """The state of one log source, for the pane's status line."""

    name: str
    state: str
    """"connecting", "connected", "retrying", "rejected", "waiting",
    "following", "exited" or "failed"."""
    detail: str = ""
    """One line: the error, the exit status, or the next retry."""
    since: float = 0.0
    """Unix time the state was entered."""


class LogSink(Protocol):
    """The receiver of a source's lines and state changes."""

    def add_lines(self, instance: str | None, lines: Sequence[bytes]) -> None: ...

    def set_status(self, name: str, state: str, detail: str = "") -> None: ...


class LogSource(Protocol):
    """One stream of log lines: a WebSocket, a file, a pipe or a command."""

    name: str

    async def run(self, sink: LogSink) -> None:
        """Read until cancelled (or, for a pipe or command, until its end)."""
        ...


class LineSplitter:
    """Split a byte stream into lines; keep a partial line until it ends."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self._partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        """Return the complete lines in `data` after what was kept before.

        Lines end with LF; a CR before it is dropped. Empty lines are skipped.
        """
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        while len(self._partial) > self.max_line:
            lines.append(self._partial[: self.max_line])
            self._partial = self._partial[self.max_line :]
        return [line.removesuffix(b"\r") for line in lines if line not in (b"", b"\r")]

    def flush(self) -> list[bytes]:
        """Return the partial line, if any, as a last line."""
        rest, self._partial = self._partial.removesuffix(b"\r"), b""
        return [rest] if rest else []


class LogHub:
    """Merge lines from every source into one store, in batches."""

    def __init__(
        self,
        store: LogStore,
        *,
        flush_interval: float = 0.1,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.on_change = on_change
        self.statuses: dict[str, StreamStatus] = {}
        self.dropped = 0
        """Lines dropped unread because more arrived at once than the store holds."""
        self._pending: list[tuple[str | None, Sequence[bytes]]] = []
        self._pending_count = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def received(self) -> int:
        """Lines received from every source, stored or not."""
        return self.store.received + self.dropped

    @property
    def evicted(self) -> int:
        """Lines no longer retained: evicted from the store or dropped unread."""
        return self.store.evicted + self.dropped

    def add_lines(self, instance: str | None, lines: Sequence[bytes]) -> None:
        if not lines:
            return
        self._pending.append((instance, lines))
        self._pending_count += len(lines)
        self._wake.set()
        if self._pending_count > 2 * self.store.capacity:
            self._drop_oldest_pending()

    def _drop_oldest_pending(self) -> None:
        """Drop pending lines that the store would evict as soon as it took them."""
        excess = self._pending_count - self.store.capacity
        while excess > 0 and self._pending:
            instance, lines = self._pending[0]
            if len(lines) > excess:
                self._pending[0] = (instance, lines[excess:])
                self.dropped += excess
                self._pending_count -= excess
                return
            self._pending.pop(0)
            self.dropped += len(lines)
            self._pending_count -= len(lines)
            excess -= len(lines)

    def set_status(self, name: str, state: str, detail: str = "") -> None:
        old = self.statuses.get(name)
        if old is not None and old.state == state and old.detail == detail:
            return
        self.statuses[name] = StreamStatus(name, state, detail, time.time())
        logger.info("log source %s: %s %s", name, state, detail)
        if self.on_change is not None:
            self.on_change()

    def start(self, sources: Iterable[LogSource]) -> None:
        """Start the ingest task and one task per source in the running loop."""
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._ingest_forever(), name="log-ingest"))
        for source in sources:
            task = loop.create_task(self._run_source(source), name=f"log:{source.name}")
            self._tasks.append(task)

    async def stop(self) -> None:
        """Cancel every task and wait for them, which ends child processes too."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.flush()

    async def _run_source(self, source: LogSource) -> None:
        try:
            await source.run(self)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - one source must not stop others
            logger.exception("log source %s failed", source.name)
            self.set_status(source.name, "failed", _one_line(error))

    async def _ingest_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._ingest_pending()
            await asyncio.sleep(self.flush_interval)

    async def _ingest_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            self._pending_count = 0
            received = time.time()
            for instance, lines in batch:
                for start in range(0, len(lines), INGEST_SLICE):
                    self.store.ingest(
                        lines[start : start + INGEST_SLICE], instance, received
                    )
                    await asyncio.sleep(0)
        if self.on_change is not None:
            self.on_change()

    def flush(self) -> None:
        """Ingest everything pending now, without yielding."""
        batch, self._pending = self._pending, []
        self._pending_count = 0
        received = time.time()
        for instance, lines in batch:
            self.store.ingest(lines, instance, received)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
