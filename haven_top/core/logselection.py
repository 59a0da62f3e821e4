"""The records that pass a filter, kept up to date as records arrive and leave.

A `LogSelection` is what the log pane scrolls through. Without a filter it is
the whole store and costs nothing. With one it holds the seqs of the matching
records: the whole retained buffer is checked once when the filter is set
(only that request's records when the filter names a request ID), then each
refresh checks only the records that arrived since.

Rows change only in `refresh`: records that the store takes in or evicts
between two refreshes leave row numbers as they were, so a row drawn twice
shows the same seq. A seq may then be evicted already; `LogStore.get`
returns None for it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from haven_top.core.logfilter import LogFilter
from haven_top.core.logrecord import LogRecord
from haven_top.core.logstore import LogStore


class LogSelection:
    """The seqs of the retained records passing `log_filter`, oldest first."""

    def __init__(self, store: LogStore, log_filter: LogFilter | None = None) -> None:
        self.store = store
        self.filter = log_filter or LogFilter()
        self.evicted = 0
        """Rows dropped by `refresh` because the store evicted their records."""
        self._seqs = array("q")
        self._first = store.first_seq
        """Without a filter: the seq of row 0 at the last refresh."""
        self._checked_to = store.first_seq
        self._fill()

    def _fill(self) -> None:
        store = self.store
        request_id = self.filter.request_id
        self._first = store.first_seq
        self._checked_to = store.next_seq
        if not self.filter:
            return
        if request_id is not None:
            candidates: list[int] | range = store.request_seqs(request_id)
        else:
            candidates = store.seqs()
        matches = self.filter.matches
        self._seqs = array("q", (seq for seq in candidates if matches(store, seq)))

    def refresh(self) -> int:
        """Take in records that arrived and drop evicted ones; return new matches."""
        store = self.store
        start = max(self._checked_to, store.first_seq)
        new = range(start, store.next_seq)
        self._drop_evicted()
        self._checked_to = store.next_seq
        if not self.filter:
            return len(new)
        matches = self.filter.matches
        before = len(self._seqs)
        self._seqs.extend(seq for seq in new if matches(store, seq))
        return len(self._seqs) - before

    def _drop_evicted(self) -> None:
        first = self.store.first_seq
        if not self.filter:
            # Rows run from `_first` to `_checked_to`. Records that came and
            # went between two refreshes were never rows.
            self.evicted += max(0, min(first, self._checked_to) - self._first)
            self._first = first
            return
        stale = bisect_left(self._seqs, first)
        if stale:
            del self._seqs[:stale]
            self.evicted += stale

    def __len__(self) -> int:
        if not self.filter:
            return max(0, self._checked_to - self._first)
        return len(self._seqs)

    def seq_at(self, index: int) -> int:
        """Return the seq of row `index`.

        Row 0 is the oldest match at the last refresh.
        """
        if not self.filter:
            return self._first + index
        return self._seqs[index]

    def index_of(self, seq: int) -> int | None:
        """Return the row of record `seq`, or None when it is not in the selection."""
        if not self.filter:
            in_range = self._first <= seq < self._checked_to
            return seq - self._first if in_range else None
        index = bisect_left(self._seqs, seq)
        found = index < len(self._seqs) and self._seqs[index] == seq
        return index if found else None

    def seqs(self) -> Iterator[int]:
        for index in range(len(self)):
            yield self.seq_at(index)

    def records(self) -> Iterator[LogRecord]:
        """Yield the records of every row that the store still retains."""
        return self.store.records(self.seqs())

    def find_problem(self, start: int, step: int) -> int | None:
        """Find the row of the next ERROR-or-worse or 5xx record after `start`,
        going by `step` (+1 or -1), or None when there is none.

        Rows whose records were evicted since the last refresh are skipped.
        """
        store = self.store
        index = start + step
        count = len(self)
        while 0 <= index < count:
            seq = self.seq_at(index)
            if seq >= store.first_seq and store.is_problem_at(seq):
                return index
            index += step
        return None


def export_jsonl(records: Iterator[LogRecord], path: Path) -> int:
    """Write `records` to `path` as JSON lines; return how many were written."""
    count = 0
    with path.open("wb") as out:
        for record in records:
            out.write(record.export_line() + b"\n")
            count += 1
    return count


def logs_report(selection: LogSelection, limit: int = 100) -> dict[str, Any]:
    """Build the `logs` object of `--once --format json`.

    `matched` holds the newest `limit` records passing the filter, newest
    last: a JSON record as it came (with `instance` added), a raw line as
    `{"raw": TEXT}`.
    """
    selection.refresh()
    count = len(selection)
    first = max(0, count - limit)
    rows = (selection.seq_at(index) for index in range(first, count))
    matched = [
        orjson.loads(record.export_line()) for record in selection.store.records(rows)
    ]
    return {
        "received": selection.store.received,
        "evicted": selection.store.evicted,
        "filter": selection.filter.text or None,
        "matched_total": count,
        "matched": matched,
    }
