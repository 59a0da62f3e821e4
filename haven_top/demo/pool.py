"""A bounded pool of SQLite connections and the records table behind the demo API.

The pool is real: each checkout takes one of `capacity` open connections and a
caller that finds none free waits up to its timeout, then gets `PoolTimeout`.
Every method here blocks, so the app calls them through a thread pool.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from haven_top.demo.scenarios import Faults

log = logging.getLogger("haven.db")

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


class PoolTimeout(Exception):
    """No connection became free within the checkout timeout."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached (an injected outage in the demo)."""


class ConnectionPool:
    """A fixed set of SQLite connections handed out one caller at a time."""

    def __init__(self, path: Path, *, capacity: int = 10) -> None:
        if capacity < 1:
            raise ValueError(f"pool capacity must be at least 1, got {capacity}")
        self.path = path
        self.capacity = capacity
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._in_use = 0
        self._lock = threading.Lock()
        for _ in range(capacity):
            self._idle.put(self._connect())

    def _connect(self) -> sqlite3.Connection:
        # Connections move between worker threads, one holder at a time.
        conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    @property
    def in_use(self) -> int:
        """Number of connections checked out right now."""
        return self._in_use

    @contextmanager
    def connection(self, timeout: float) -> Iterator[sqlite3.Connection]:
        """Check a connection out for the duration of the block."""
        started = time.perf_counter()
        try:
            conn = self._idle.get(timeout=timeout)
        except queue.Empty:
            raise PoolTimeout(
                f"no free connection among {self.capacity} after {timeout:.1f} s"
            ) from None
        with self._lock:
            self._in_use += 1
        waited_ms = (time.perf_counter() - started) * 1000
        log.debug("pool checkout", extra={"fields": {"wait_ms": round(waited_ms, 2)}})
        try:
            yield conn
        finally:
            with self._lock:
                self._in_use -= 1
            self._idle.put(conn)

    def close(self) -> None:
        """Close the idle connections. Call it once no request is running."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _row(row: sqlite3.Row) -> dict[str, Any]:
    return dict(row)


class RecordStore:
    """CRUD on the records table, each call holding one pooled connection."""

    def __init__(
        self, pool: ConnectionPool, faults: Faults, *, checkout_timeout: float = 1.0
    ) -> None:
        self.pool = pool
        self.faults = faults
        self.checkout_timeout = checkout_timeout
        with pool.connection(checkout_timeout) as conn:
            conn.execute(SCHEMA)
            conn.commit()

    def _execute(
        self, sql: str, params: tuple[Any, ...] = (), *, hold: float = 0.0
    ) -> list[sqlite3.Row]:
        if self.faults.database_down:
            raise DatabaseUnavailable("connection refused by database at demo host")
        with self.pool.connection(self.checkout_timeout) as conn:
            started = time.perf_counter()
            cursor = conn.execute(sql, params)
            rows = cursor.fetchall()
            conn.commit()
            if hold > 0:
                # A slow query: the connection stays checked out meanwhile.
                time.sleep(hold)
            elapsed_ms = (time.perf_counter() - started) * 1000
            fields = {"sql": sql.split()[0], "rows": len(rows) or cursor.rowcount}
            fields["query_ms"] = round(elapsed_ms, 2)
            log.debug("query executed", extra={"fields": fields})
            return rows

    def ping(self) -> None:
        """Run `SELECT 1`, raising when the database or pool is unavailable."""
        self._execute("SELECT 1")

    def seed(self, count: int) -> None:
        """Insert `count` sample records when the table is empty."""
        rows = self._execute("SELECT COUNT(*) AS n FROM records")
        for index in range(count - rows[0]["n"]):
            self.create(f"sample-{index + 1}", float(index))

    def create(self, name: str, value: float, *, hold: float = 0.0) -> dict[str, Any]:
        """Insert a record and return it."""
        now = _now()
        rows = self._execute(
            "INSERT INTO records (name, value, created_at, updated_at)"
            " VALUES (?, ?, ?, ?) RETURNING *",
            (name, value, now, now),
            hold=hold,
        )
        return _row(rows[0])

    def list(
        self, *, limit: int = 20, offset: int = 0, hold: float = 0.0
    ) -> list[dict[str, Any]]:
        """Return up to `limit` records ordered by id."""
        rows = self._execute(
            "SELECT * FROM records ORDER BY id LIMIT ? OFFSET ?",
            (limit, offset),
            hold=hold,
        )
        return [_row(row) for row in rows]

    def get(self, record_id: int, *, hold: float = 0.0) -> dict[str, Any] | None:
        """Return one record, or None when the id is unknown."""
        rows = self._execute(
            "SELECT * FROM records WHERE id = ?", (record_id,), hold=hold
        )
        return _row(rows[0]) if rows else None

    def update(
        self, record_id: int, name: str, value: float, *, hold: float = 0.0
    ) -> dict[str, Any] | None:
        """Replace a record's fields, returning None when the id is unknown."""
        rows = self._execute(
            "UPDATE records SET name = ?, value = ?, updated_at = ?"
            " WHERE id = ? RETURNING *",
            (name, value, _now(), record_id),
            hold=hold,
        )
        return _row(rows[0]) if rows else None

    def delete(self, record_id: int, *, hold: float = 0.0) -> bool:
        """Delete a record, returning False when the id is unknown."""
        rows = self._execute(
            "DELETE FROM records WHERE id = ? RETURNING id", (record_id,), hold=hold
        )
        return bool(rows)
