"""A bounded, compact store of log records with an index by request ID.

Records are kept in columns over a ring of `capacity` slots: the raw line as
bytes, its level and status code, and a link to the previous record of the
same request. A parsed dict per record would cost about 920 bytes; a slot
costs about 20 bytes plus the line, and each request about 120 bytes in the
index (measured with tracemalloc by bench/bench_ingest.py). Every other field is parsed from the line when a caller asks for it, so
`LogRecord` objects are built only for the records that are read.

Each record has a sequence number (`seq`) in order of arrival. The ring slot
of a record is `seq % capacity`, so a record is found by seq without a scan.
When the ring is full the oldest records are evicted and counted.

The index maps the hash of each request ID to the newest seq of that request,
and each record links to the previous one. Following the links visits only
that request's records; each is checked against the ID, so two IDs with the
same hash cannot mix.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat

import orjson

from haven_top.core.logrecord import (
    ERROR_RANK,
    LEVEL_RANKS,
    RAW_LEVEL,
    UNKNOWN_LEVEL,
    LogRecord,
)

DEFAULT_CAPACITY = 100_000
_CHUNK = 64
"""Lines parsed together: enough to pay for the per-chunk calls, few enough
that the parsed objects are still in the CPU cache when they are dropped."""
_DICT_GET = dict.get
_RANKS_GET = LEVEL_RANKS.get
_NO_LINK = -1


class LogStore:
    """The retained log records of every source, in order of arrival.

    Not thread-safe: call it from one event loop or thread.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"log buffer size {capacity} is invalid: use 1 or more")
        self.capacity = capacity
        self.first_seq = 0
        """Seq of the oldest retained record."""
        self.next_seq = 0
        """Seq the next record will get; also the count of records received."""
        self._raw: list[bytes | None] = [None] * capacity
        self._level = array("b", bytes(capacity))
        self._status = array("H", bytes(2 * capacity))
        self._prev = array("q", [_NO_LINK]) * capacity
        self._last: dict[int, int] = {}
        self._prune_at = capacity
        # (first seq, instance, received) of each run of records that share
        # them, and the first seqs alone for bisecting.
        self._batches: list[tuple[int, str | None, float]] = []
        self._batch_starts: list[int] = []

    def __len__(self) -> int:
        return self.next_seq - self.first_seq

    @property
    def received(self) -> int:
        """Records received since the store was made."""
        return self.next_seq

    @property
    def evicted(self) -> int:
        """Records dropped to keep the store within its capacity."""
        return self.first_seq

    def ingest(
        self, lines: Sequence[bytes], instance: str | None, received: float
    ) -> range:
        """Parse and store `lines` (one record each, no trailing newline).

        Returns the range of seqs the new records got. The records of one call
        share `instance` and `received` (Unix time).
        """
        start = self.next_seq
        if not lines:
            return range(start, start)
        self._mark_batch(start, instance, received)
        step = min(self.capacity, _CHUNK)
        for offset in range(0, len(lines), step):
            chunk = lines[offset : offset + step]
            columns = _extract_fast(chunk) or _extract_slow(chunk)
            self._make_room(len(chunk))
            self._write(chunk, *columns)
        return range(start, self.next_seq)

    def _make_room(self, count: int) -> None:
        excess = len(self) + count - self.capacity
        if excess <= 0:
            return
        # The evicted slots are the ones the new records overwrite next.
        self.first_seq += excess
        if self.first_seq >= self._prune_at:
            self._prune()

    def _write(
        self, chunk: Sequence[bytes], levels: array, statuses: array, keys: list
    ) -> None:
        start = self.next_seq
        pos = start % self.capacity
        links = _link(self._last, keys, start)
        _write_ring(self._raw, pos, chunk)
        _write_ring(self._level, pos, levels)
        _write_ring(self._status, pos, statuses)
        _write_ring(self._prev, pos, links)
        self.next_seq = start + len(chunk)

    def _prune(self) -> None:
        """Drop index entries and batch marks of evicted records."""
        first = self.first_seq
        self._last = {key: seq for key, seq in self._last.items() if seq >= first}
        self._prune_at = first + max(1, self.capacity // 2)
        stale = bisect_right(self._batch_starts, first) - 1
        if stale > 0:
            del self._batches[:stale]
            del self._batch_starts[:stale]

    def _mark_batch(self, start: int, instance: str | None, received: float) -> None:
        marks = self._batches
        if marks and marks[-1][1] == instance and marks[-1][2] == received:
            return
        marks.append((start, instance, received))
        self._batch_starts.append(start)

    def _batch_of(self, seq: int) -> tuple[int, str | None, float]:
        return self._batches[bisect_right(self._batch_starts, seq) - 1]

    def get(self, seq: int) -> LogRecord | None:
        """Return the record `seq`, or None when it was evicted or never stored."""
        if not self.first_seq <= seq < self.next_seq:
            return None
        pos = seq % self.capacity
        _, instance, received = self._batch_of(seq)
        return LogRecord(
            seq=seq,
            raw=self._raw[pos] or b"",
            instance=instance,
            received=received,
            level=self._level[pos],
            status=self._status[pos] or None,
        )

    def seqs(self) -> range:
        """Seqs of every retained record, oldest first."""
        return range(self.first_seq, self.next_seq)

    def records(self, seqs: Iterable[int] | None = None) -> Iterator[LogRecord]:
        """Yield the retained records among `seqs` (default: all), in that order."""
        for seq in self.seqs() if seqs is None else seqs:
            record = self.get(seq)
            if record is not None:
                yield record

    def request_seqs(self, request_id: str) -> list[int]:
        """Seqs of the retained records with `request_id`, oldest first.

        Follows the links between the records of one request, so the cost
        grows with that request's records, not with the store.
        """
        seqs: list[int] = []
        seq = self._last.get(hash(request_id), _NO_LINK)
        while seq >= self.first_seq:
            record = self.get(seq)
            if record is not None and record.request_id == request_id:
                seqs.append(seq)
            seq = self._prev[seq % self.capacity]
        seqs.reverse()
        return seqs

    def has_request(self, request_id: str) -> bool:
        return bool(self.request_seqs(request_id))

    def request_records(self, request_id: str) -> list[LogRecord]:
        """Every retained record of one request from every instance, by time."""
        records = list(self.records(self.request_seqs(request_id)))
        records.sort(key=lambda record: (record.timestamp, record.seq))
        return records

    def level_at(self, seq: int) -> int:
        """The level rank of a retained record; `RAW_LEVEL` for a raw line."""
        return self._level[seq % self.capacity]

    def status_at(self, seq: int) -> int:
        """The status code of a retained record, 0 when it has none."""
        return self._status[seq % self.capacity]

    def raw_at(self, seq: int) -> bytes:
        return self._raw[seq % self.capacity] or b""

    def instance_at(self, seq: int) -> str | None:
        return self._batch_of(seq)[1]

    def is_problem_at(self, seq: int) -> bool:
        """True for ERROR and above, and for a 5xx response."""
        pos = seq % self.capacity
        return self._level[pos] >= ERROR_RANK or self._status[pos] >= 500


def _extract_fast(lines: Sequence[bytes]) -> tuple[array, array, list] | None:
    """Extract level, status and request key of records of the contract's shape.

    Every step maps a C function over the whole chunk. Returns None when any
    line is not an object with an `extra` object, and the caller falls back
    to `_extract_slow`.
    """
    try:
        docs = list(map(orjson.loads, lines))
        # dict.get raises TypeError when given a value that is not a dict.
        extras = list(map(_DICT_GET, docs, repeat("extra")))
        names = map(_DICT_GET, docs, repeat("level"))
        levels = array("b", map(_RANKS_GET, names, repeat(UNKNOWN_LEVEL)))
        request_ids = map(_DICT_GET, extras, repeat("request_id"))
        # A record without a request ID gets the key hash(None). Nothing looks
        # that key up, and each lookup checks the IDs of the records it finds.
        keys = list(map(hash, request_ids))
    except (orjson.JSONDecodeError, TypeError):
        return None
    statuses = map(_DICT_GET, extras, repeat("status_code"))
    try:
        status_array = array("H", statuses)
    except (TypeError, OverflowError):
        status_array = _status_array(
            _DICT_GET(extra, "status_code") for extra in extras
        )
    return levels, status_array, keys


def _extract_slow(lines: Sequence[bytes]) -> tuple[array, array, list]:
    """Extract level, status and request key of any lines, one at a time."""
    levels = array("b", bytes(len(lines)))
    statuses: list[object] = [None] * len(lines)
    keys: list[int | None] = [None] * len(lines)
    for i, line in enumerate(lines):
        doc = _structured(line)
        if doc is None:
            levels[i] = RAW_LEVEL
            continue
        name = doc.get("level")
        levels[i] = _RANKS_GET(name, UNKNOWN_LEVEL) if type(name) is str else 0
        extra = doc.get("extra")
        fields = extra if type(extra) is dict else doc
        statuses[i] = fields.get("status_code")
        request_id = fields.get("request_id")
        if type(request_id) is str and request_id:
            keys[i] = hash(request_id)
    return levels, _status_array(statuses), keys


def _structured(line: bytes) -> dict | None:
    """Parse a line; None unless it is an object with timestamp, level or message."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict:
        return None
    if "message" in doc or "level" in doc or "timestamp" in doc:
        return doc
    return None


def _link(last: dict[int, int], keys: list, start: int) -> array:
    """Link each record to the previous one of its request, one at a time."""
    links = array("q", [_NO_LINK]) * len(keys)
    find = last.get
    for i, key in enumerate(keys):
        if key is not None:
            links[i] = find(key, _NO_LINK)
            last[key] = start + i
    return links


def _status_array(values: Iterable[object]) -> array:
    return array("H", [_valid_status(value) for value in values])


def _valid_status(value: object) -> int:
    return value if type(value) is int and 100 <= value <= 999 else 0


def _write_ring(column: list | array, pos: int, values: Sequence | array) -> None:
    """Copy `values` into `column` from slot `pos`, wrapping at its end."""
    end = pos + len(values)
    if end <= len(column):
        column[pos:end] = values
        return
    split = len(column) - pos
    column[pos:] = values[:split]
    column[: end - len(column)] = values[split:]
