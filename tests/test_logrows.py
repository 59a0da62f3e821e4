"""The log pane's rows: a selection that moves only on refresh, and pinned
copies of held records that the store evicted."""

from __future__ import annotations

import json

from haven_top.core.logfilter import parse_filter
from haven_top.core.logrows import LogRows
from haven_top.core.logselection import LogSelection
from haven_top.core.logstore import LogStore


def line(i: int, status: int = 200, level: str = "INFO") -> bytes:
    doc = {
        "timestamp": "2025-01-15T12:00:00.000Z",
        "level": level,
        "message": f"request {i}",
        "extra": {"request_id": f"r{i}", "status_code": status},
    }
    return json.dumps(doc).encode()


def filled(count: int, capacity: int) -> LogStore:
    store = LogStore(capacity)
    store.ingest([line(i) for i in range(count)], "a", 1.0)
    return store


def test_selection_rows_move_only_on_refresh() -> None:
    store = filled(10, capacity=10)
    selection = LogSelection(store)
    store.ingest([line(i) for i in range(10, 13)], "a", 1.0)
    assert len(selection) == 10
    assert selection.seq_at(0) == 0
    assert selection.refresh() == 3
    assert selection.seq_at(0) == 3
    assert len(selection) == 10
    assert selection.evicted == 3


def test_filtered_selection_counts_evicted_rows() -> None:
    store = LogStore(10)
    store.ingest([line(i, status=500 if i % 2 else 200) for i in range(10)], "a", 1.0)
    selection = LogSelection(store, parse_filter("status>=500"))
    store.ingest([line(i) for i in range(10, 14)], "a", 1.0)
    assert list(selection.seqs()) == [1, 3, 5, 7, 9]
    assert selection.refresh() == 0
    assert list(selection.seqs()) == [5, 7, 9]
    assert selection.evicted == 2


def test_burst_between_refreshes_is_not_counted() -> None:
    store = filled(10, capacity=10)
    selection = LogSelection(store)
    store.ingest([line(i) for i in range(10, 40)], "a", 1.0)
    assert selection.refresh() == 10
    assert selection.evicted == 10
    assert selection.seq_at(0) == 30


def test_pinned_records_become_ghost_rows() -> None:
    store = filled(10, capacity=10)
    rows = LogRows(LogSelection(store))
    rows.pin([2, 3, 4])
    store.ingest([line(i) for i in range(10, 14)], "a", 1.0)
    assert rows.refresh() == (4, 4)
    assert rows.ghost_count == 2
    assert [rows.seq_at(row) for row in range(4)] == [2, 3, 4, 5]
    assert len(rows) == 12
    assert rows.index_of(3) == 1
    assert rows.index_of(4) == 2
    assert rows.index_of(1) is None
    record = rows.record(2)
    assert record is not None
    assert record.message == "request 2"
    assert rows.seq_at(12) is None


def test_pin_drops_ghosts_off_screen() -> None:
    store = filled(10, capacity=10)
    rows = LogRows(LogSelection(store))
    rows.pin([1, 2])
    store.ingest([line(i) for i in range(10, 13)], "a", 1.0)
    rows.refresh()
    assert rows.ghost_count == 2
    rows.pin([2, 3])
    assert rows.ghost_count == 1
    assert rows.seq_at(0) == 2
    rows.unpin()
    assert rows.ghost_count == 0
    assert rows.record(2) is None


def test_find_problem_spans_ghosts() -> None:
    store = LogStore(10)
    lines = [line(i) for i in range(10)]
    lines[1] = line(1, status=502)
    lines[8] = line(8, level="ERROR")
    store.ingest(lines, "a", 1.0)
    rows = LogRows(LogSelection(store))
    rows.pin([0, 1, 2])
    store.ingest([line(i) for i in range(10, 13)], "a", 1.0)
    rows.refresh()
    assert rows.ghost_count == 3
    assert rows.find_problem(-1, 1) == 1
    assert rows.find_problem(1, 1) == 8
    assert rows.find_problem(8, 1) is None
    assert rows.find_problem(len(rows), -1) == 8
    assert rows.find_problem(8, -1) == 1
    assert rows.find_problem(1, -1) is None
