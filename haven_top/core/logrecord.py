"""One log record: the line as it came, and the fields haven-top reads from it.

A record of the contract's shape is a JSON object such as::

    {"timestamp": "2025-01-15T12:00:00.000Z", "level": "INFO",
     "logger": "haven.api", "message": "Request processed",
     "extra": {"request_id": "...", "method": "GET", "path": "/api/v1/records",
               "status_code": 200, "duration_ms": 25}}

The request fields are read from `extra`, or from the top level when a record
has no `extra` object. Any other line (not JSON, JSON that is not an object, an
object with none of `timestamp`, `level` and `message`, a traceback line) is a
raw record: kept byte for byte and shown as it came.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import orjson

from haven_top.core.sanitize import decode

RAW_LEVEL = -1
"""Level rank of a line that is not a structured record."""
UNKNOWN_LEVEL = 0
"""Level rank of a structured record without a level haven-top recognises."""

LEVEL_RANKS: dict[str, int] = {
    "DEBUG": 10,
    "INFO": 20,
    "WARNING": 30,
    "WARN": 30,
    "ERROR": 40,
    "CRITICAL": 50,
    "FATAL": 50,
}
for _name, _rank in list(LEVEL_RANKS.items()):
    LEVEL_RANKS[_name.lower()] = _rank
    LEVEL_RANKS[_name.title()] = _rank

LEVEL_NAMES: dict[int, str] = {
    RAW_LEVEL: "",
    UNKNOWN_LEVEL: "?",
    10: "DEBUG",
    20: "INFO",
    30: "WARNING",
    40: "ERROR",
    50: "CRITICAL",
}

ERROR_RANK = LEVEL_RANKS["ERROR"]


def level_rank(name: str) -> int | None:
    """Return the rank of a level name in any case (`warn` is WARNING), or None."""
    return LEVEL_RANKS.get(name.upper())


def parse_timestamp(value: object) -> float | None:
    """Convert an ISO 8601 string or a Unix time (s or ms) to Unix seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value / 1000 if value > 1e11 else float(value)
    if not isinstance(value, str):
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp()


@dataclass(frozen=True)
class LogRecord:
    """A stored record, rebuilt from the store's columns when it is needed."""

    seq: int
    """Position in the order of arrival; unique within one store."""
    raw: bytes
    instance: str | None
    received: float
    """Unix time the line reached haven-top."""
    level: int
    """Rank as in `LEVEL_RANKS`; `RAW_LEVEL` for a raw line."""
    status: int | None = None
    """HTTP status code of the request the record reports, when it has one."""

    @property
    def is_raw(self) -> bool:
        return self.level == RAW_LEVEL

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES.get(self.level, "?")

    @property
    def is_problem(self) -> bool:
        """True for ERROR and above, and for a 5xx response."""
        return self.level >= ERROR_RANK or (self.status or 0) >= 500

    @cached_property
    def document(self) -> dict[str, Any] | None:
        """The parsed JSON object of a structured record; None for a raw line."""
        if self.is_raw:
            return None
        try:
            doc = orjson.loads(self.raw)
        except orjson.JSONDecodeError:
            return None
        return doc if isinstance(doc, dict) else None

    @cached_property
    def timestamp(self) -> float:
        """The record's own time in Unix seconds, else the time it was received."""
        doc = self.document
        stamp = parse_timestamp(doc.get("timestamp")) if doc else None
        return self.received if stamp is None else stamp

    @cached_property
    def fields(self) -> dict[str, Any]:
        """The record's `extra` object, else its top level; empty for a raw line."""
        doc = self.document
        if doc is None:
            return {}
        extra = doc.get("extra")
        return extra if isinstance(extra, dict) else doc

    @property
    def method(self) -> str | None:
        return _text_or_none(self.fields.get("method"))

    @property
    def path(self) -> str | None:
        return _text_or_none(self.fields.get("path"))

    @property
    def request_id(self) -> str | None:
        return _text_or_none(self.fields.get("request_id"))

    @property
    def duration_ms(self) -> float | None:
        duration = self.fields.get("duration_ms")
        if isinstance(duration, bool) or not isinstance(duration, (int, float)):
            return None
        return float(duration)

    @property
    def text(self) -> str:
        """The whole line decoded, invalid UTF-8 replaced; not yet safe to show."""
        return decode(self.raw)

    @property
    def message(self) -> str:
        """The record's `message`, or the whole line of a raw record."""
        doc = self.document
        if doc is None:
            return self.text
        message = doc.get("message", "")
        return message if isinstance(message, str) else _dump(message)

    @property
    def logger(self) -> str:
        doc = self.document
        logger = doc.get("logger", "") if doc else ""
        return logger if isinstance(logger, str) else _dump(logger)

    def export_line(self) -> bytes:
        """Return one JSONL line (no newline) for writing to an export file.

        A JSON object is written as it came, with `instance` added when the
        record came from a named instance and has no such key. A raw line
        becomes `{"raw": TEXT}`, with `instance` when known.
        """
        doc = self.document
        if doc is None:
            out: dict[str, Any] = {"raw": self.text}
            if self.instance:
                out["instance"] = self.instance
            return orjson.dumps(out)
        if not self.instance or "instance" in doc:
            return self.raw.strip()
        return orjson.dumps({**doc, "instance": self.instance})


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _dump(value: object) -> str:
    return orjson.dumps(value, default=str).decode()
