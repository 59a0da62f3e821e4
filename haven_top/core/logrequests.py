"""Requests as the logs tell them: one request's records, and recent requests.

These back the drill-down: from an endpoint to its recent requests, and from
a request ID to everything every instance logged about it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from haven_top.core.logrecord import LogRecord
from haven_top.core.logstore import LogStore


@dataclass(frozen=True)
class RequestSummary:
    """What the records of one request say about it."""

    request_id: str
    method: str | None = None
    path: str | None = None
    status: int | None = None
    duration_ms: float | None = None
    instance: str | None = None
    first_seen: float | None = None
    """Unix time of its earliest record."""
    record_count: int = 0

    @property
    def failed(self) -> bool:
        return (self.status or 0) >= 500


def summarise(request_id: str, records: Iterable[LogRecord]) -> RequestSummary:
    """Merge the fields of one request's records; later records win."""
    fields: dict[str, object] = {}
    count = 0
    first_seen: float | None = None
    for record in records:
        count += 1
        first_seen = record.timestamp if first_seen is None else first_seen
        for key in ("method", "path", "status", "duration_ms", "instance"):
            value = getattr(record, key)
            if value is not None:
                fields[key] = value
    return RequestSummary(
        request_id=request_id,
        first_seen=first_seen,
        record_count=count,
        **fields,  # type: ignore[arg-type]  # the keys are fields of the class
    )


def request_summary(store: LogStore, request_id: str) -> RequestSummary:
    return summarise(request_id, store.request_records(request_id))


def recent_requests(
    store: LogStore,
    method: str | None,
    endpoint: str,
    *,
    limit: int = 20,
    scan: int = 50_000,
) -> list[RequestSummary]:
    """Return recent requests to one endpoint: failed ones first, then slowest.

    `endpoint` is a path or a route template such as `/records/{id}`. Only the
    newest `scan` records are read, newest first; a record is parsed only when
    its line holds the template's fixed prefix.
    """
    pattern = endpoint_pattern(endpoint)
    prefix = endpoint.split("{", 1)[0].encode()
    seen: set[str] = set()
    found: list[RequestSummary] = []
    stop = max(store.first_seq, store.next_seq - scan)
    for seq in range(store.next_seq - 1, stop - 1, -1):
        if prefix not in store.raw_at(seq):
            continue
        record = store.get(seq)
        request_id = record.request_id if record is not None else None
        if request_id is None or request_id in seen or record is None:
            continue
        if not _same_endpoint(record, method, pattern):
            continue
        seen.add(request_id)
        found.append(request_summary(store, request_id))
    found.sort(key=_failed_then_slowest)
    return found[:limit]


def _same_endpoint(record: LogRecord, method: str | None, pattern: re.Pattern) -> bool:
    path = record.path
    if path is None:
        return False
    if method is not None and record.method != method:
        return False
    return pattern.fullmatch(path.split("?", 1)[0]) is not None


def _failed_then_slowest(summary: RequestSummary) -> tuple[bool, float]:
    return (not summary.failed, -(summary.duration_ms or 0.0))


def endpoint_pattern(endpoint: str) -> re.Pattern[str]:
    """Compile a route template (`/records/{id}`, `/files/{p:path}`) to a regex.

    A path without braces matches only itself.
    """
    regex = ""
    for part in re.split(r"(\{[^}]*\})", endpoint):
        if part.startswith("{") and part.endswith("}"):
            regex += ".+" if part.endswith(":path}") else "[^/]+"
        else:
            regex += re.escape(part)
    return re.compile(regex)
