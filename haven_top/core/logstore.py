"""A bounded, compact store of log records with an index by request ID.

Records are kept in columns over a ring of `capacity` slots: the raw line as
bytes, its level, its status code and the hash of its request ID. A parsed
dict per record would cost about 920 bytes. A slot costs about 20 bytes plus
the line, and the index about 70 bytes per request (bench/bench_ingest.py
measures both with tracemalloc). Every other field is parsed from the line
when a caller asks for it, so `LogRecord` objects are built only for the
records that are read.

Each record has a sequence number (`seq`) in order of arrival. The ring slot
of a record is `seq % capacity`, so a record is found by seq without a scan.
When the ring is full the oldest records are evicted and counted.

The index splits the seqs into blocks of up to 4,096 records and keeps, per
block, the set of request-ID hashes it contains. A lookup tests each block's
set and searches the bytes of the hash column only in the blocks that
contain the hash, then checks each record found against the ID. Filling a
set costs one C call per chunk of lines, where linking records one by one
cost a Python loop. A block is dropped whole once the store has evicted all
of its records.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, repeat

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
_BLOCK = 4096
"""Maximum records in one block of the request index. A block may pass it by
less than one chunk, because chunks are not split between blocks."""
_DICT_GET = dict.get
_RANKS_GET = LEVEL_RANKS.get
_NO_REQUEST = hash(None)
"""Request-ID hash of a record without one."""


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
        self._key = array("q", bytes(8 * capacity))
        """Hash of each record's request ID, `_NO_REQUEST` without one."""
        self._block_size = max(_CHUNK, min(_BLOCK, capacity // 8))
        self._block_starts: list[int] = [0]
        self._block_keys: list[set[int]] = [set()]
        """Per block of seqs from its start to the next block's start, the
        request-ID hashes of its records."""
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
        self._drop_evicted_marks()

    def _write(
        self, chunk: Sequence[bytes], levels: array, statuses: array, keys: list
    ) -> None:
        start = self.next_seq
        pos = start % self.capacity
        if start - self._block_starts[-1] >= self._block_size:
            self._block_starts.append(start)
            self._block_keys.append(set())
        self._block_keys[-1].update(keys)
        _write_ring(self._raw, pos, chunk)
        _write_ring(self._level, pos, levels)
        _write_ring(self._status, pos, statuses)
        _write_ring(self._key, pos, array("q", keys))
        self.next_seq = start + len(chunk)

    def _drop_evicted_marks(self) -> None:
        """Drop index blocks and batch marks that hold only evicted records."""
        first = self.first_seq
        stale = bisect_right(self._block_starts, first) - 1
        if stale > 0:
            del self._block_starts[:stale]
            del self._block_keys[:stale]
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

        Only the blocks whose set contains the ID's hash are searched, so
        the cost grows with the blocks that request spans, not with the store.
        """
        key = hash(request_id)
        starts = self._block_starts
        keys = self._block_keys
        hits = compress(range(len(keys)), map(set.__contains__, keys, repeat(key)))
        seqs: list[int] = []
        for index in hits:
            start = max(starts[index], self.first_seq)
            end = starts[index + 1] if index + 1 < len(starts) else self.next_seq
            seqs += self._seqs_with_key(key, start, end)
        text = request_id.encode("utf-8", "surrogateescape")
        return [seq for seq in seqs if self._has_request_id(seq, request_id, text)]

    def _seqs_with_key(self, key: int, start: int, end: int) -> list[int]:
        """Seqs from `start` to `end` whose request-ID hash is `key`.

        Searches the column's bytes with `bytes.find`, which runs at memory
        speed, where `array.index` makes an int object per slot. A match must
        start on a slot boundary.
        """
        size = self._key.itemsize
        needle = array("q", [key]).tobytes()
        view = memoryview(self._key)
        found: list[int] = []
        for pos, stop, first in _ring_spans(start, end, self.capacity):
            data = view[pos:stop].tobytes()
            at = data.find(needle)
            while at >= 0:
                if at % size:
                    at = data.find(needle, at + 1)
                    continue
                found.append(first + pos + at // size)
                at = data.find(needle, at + size)
        return found

    def _has_request_id(self, seq: int, request_id: str, text: bytes) -> bool:
        """Check that the record `seq`, whose hash matched, has `request_id`.

        Two IDs with the same 64-bit hash are all but impossible, so a line
        that contains the ID's text is taken as a match without parsing it.
        Other lines (an ID that JSON escapes, or a collision) are parsed.
        """
        if text in self.raw_at(seq):
            return True
        record = self.get(seq)
        return record is not None and record.request_id == request_id

    def has_request(self, request_id: str) -> bool:
        return bool(self.request_seqs(request_id))

    def request_records(self, request_id: str) -> list[LogRecord]:
        """Return every retained record of one request from every instance, by time."""
        records = list(self.records(self.request_seqs(request_id)))
        records.sort(key=lambda record: (record.timestamp, record.seq))
        return records

    def level_at(self, seq: int) -> int:
        """Return the level rank of a retained record, or `RAW_LEVEL` for a raw line."""
        return self._level[seq % self.capacity]

    def status_at(self, seq: int) -> int:
        """Return the status code of a retained record, or 0 when it has none."""
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
        # A record without a request ID gets the key hash(None), which is
        # `_NO_REQUEST`. Each lookup checks the IDs of the records it finds.
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
    keys = [_NO_REQUEST] * len(lines)
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


def _ring_spans(start: int, end: int, capacity: int) -> list[tuple[int, int, int]]:
    """Split seqs `start` to `end` into (first slot, stop slot, seq of slot 0).

    Callers pass retained seqs, which are at most `capacity` apart, so the
    span wraps around the ring at most once.
    """
    if end <= start:
        return []
    pos = start % capacity
    base = start - pos
    stop = pos + (end - start)
    if stop <= capacity:
        return [(pos, stop, base)]
    return [(pos, capacity, base), (0, stop - capacity, base + capacity)]
