"""The log store: parsing, bounded retention, the request index, odd lines."""

from __future__ import annotations

import json

import pytest

from haven_top.core.logrecord import RAW_LEVEL, UNKNOWN_LEVEL
from haven_top.core.logrequests import recent_requests, request_summary
from haven_top.core.logstore import LogStore


def record(
    message: str = "Request processed",
    level: str = "INFO",
    request_id: str | None = "r1",
    status: int | None = 200,
    path: str = "/api/v1/records",
    method: str = "GET",
    duration: float = 25,
    timestamp: str = "2025-01-15T12:00:00.000Z",
) -> bytes:
    extra: dict[str, object] = {"method": method, "path": path, "duration_ms": duration}
    if request_id is not None:
        extra["request_id"] = request_id
    if status is not None:
        extra["status_code"] = status
    doc = {
        "timestamp": timestamp,
        "level": level,
        "logger": "haven.api",
        "message": message,
        "extra": extra,
    }
    return json.dumps(doc).encode()


def test_contract_record_fields() -> None:
    store = LogStore(10)
    seqs = store.ingest([record(request_id="abc", status=503)], "a:1", 5.0)
    got = store.get(seqs[0])
    assert got is not None
    assert got.level_name == "INFO"
    assert got.status == 503
    assert got.request_id == "abc"
    assert got.method == "GET"
    assert got.path == "/api/v1/records"
    assert got.duration_ms == 25.0
    assert got.instance == "a:1"
    assert got.message == "Request processed"
    assert got.is_problem


def test_non_json_lines_kept_raw() -> None:
    lines = [
        b"Traceback (most recent call last):",
        b'  File "app.py", line 3, in <module>',
        b"ValueError: boom",
        b"[1, 2, 3]",
        b'"a json string"',
        b'{"no": "known keys"}',
        b"",
    ]
    store = LogStore(100)
    store.ingest(lines, None, 1.0)
    kept = list(store.records())
    assert [r.raw for r in kept] == lines
    assert all(r.level == RAW_LEVEL for r in kept)
    assert kept[0].message == "Traceback (most recent call last):"


def test_mixed_chunk_keeps_every_line() -> None:
    lines = [record(request_id=f"r{i}") for i in range(100)]
    lines[50] = b"not json at all"
    store = LogStore(1000)
    store.ingest(lines, None, 1.0)
    assert len(store) == 100
    assert store.get(50).raw == b"not json at all"
    assert store.get(51).request_id == "r51"
    assert store.request_seqs("r99") == [99]


@pytest.mark.parametrize(
    "line",
    [
        b'{"level": ["INFO"], "message": "level is a list"}',
        b'{"level": 5, "message": "level is a number"}',
        b'{"level": "INFO", "message": {"nested": true}, "extra": []}',
        b'{"level": "INFO", "message": "x", "extra": {"status_code": "500"}}',
        b'{"level": "INFO", "message": "x", "extra": {"status_code": 99999999}}',
        b'{"level": "INFO", "message": "x", "extra": {"request_id": ["a"]}}',
        b'{"level": "INFO", "message": "x", "extra": {"duration_ms": "slow"}}',
        b'{"level": "INFO", "message": "x", "extra": {"status_code": true}}',
        b'{"level": "INFO", "message": "x", "extra": {"path": 7, "method": null}}',
    ],
)
def test_odd_field_types_never_raise(line: bytes) -> None:
    store = LogStore(10)
    store.ingest([line], None, 1.0)
    got = store.get(0)
    assert got is not None
    assert got.raw == line
    assert got.level in (UNKNOWN_LEVEL, 20)
    assert got.status in (None, 1)
    assert got.duration_ms is None
    assert got.request_id is None
    assert isinstance(got.message, str)


def test_invalid_utf8_kept_and_replaced() -> None:
    line = b'{"level": "INFO", "message": "caf\xe9"}'
    store = LogStore(10)
    store.ingest([line, b"\xff\xfe plain"], None, 1.0)
    assert store.get(0).raw == line
    assert store.get(0).text == '{"level": "INFO", "message": "caf\ufffd"}'
    assert store.get(1).text.startswith("\ufffd\ufffd")


def test_megabyte_line_stored_whole() -> None:
    big = b"x" * 1_000_000
    line = json.dumps({"level": "INFO", "message": big.decode()}).encode()
    store = LogStore(10)
    store.ingest([line, big], None, 1.0)
    assert store.get(0).message == big.decode()
    assert store.get(1).raw == big


def test_eviction_counts_and_bounds() -> None:
    store = LogStore(100)
    for batch in range(5):
        store.ingest([record(request_id=f"b{batch}-{i}") for i in range(70)], "a", 1.0)
    assert len(store) == 100
    assert store.received == 350
    assert store.evicted == 250
    assert store.get(249) is None
    assert store.get(250).request_id == "b3-40"
    assert store.request_seqs("b0-0") == []
    assert store.request_seqs("b4-69") == [349]


def test_batch_larger_than_capacity() -> None:
    store = LogStore(10)
    store.ingest([record(request_id=str(i)) for i in range(95)], None, 1.0)
    assert len(store) == 10
    assert [r.request_id for r in store.records()] == [str(i) for i in range(85, 95)]


def test_request_index_across_instances() -> None:
    store = LogStore(1000)
    store.ingest([record(request_id="x", timestamp="2025-01-15T12:00:02Z")], "b", 1.0)
    store.ingest([record(request_id=f"o{i}") for i in range(300)], "a", 1.0)
    store.ingest(
        [
            record(request_id="x", message="started", timestamp="2025-01-15T12:00:01Z"),
            record(request_id="x", message="done", timestamp="2025-01-15T12:00:03Z"),
        ],
        "a",
        2.0,
    )
    assert store.request_seqs("x") == [0, 301, 302]
    by_time = store.request_records("x")
    assert [r.message for r in by_time] == ["started", "Request processed", "done"]
    assert [r.instance for r in by_time] == ["a", "b", "a"]
    assert store.has_request("x")
    assert not store.has_request("nope")


def test_request_index_survives_partial_eviction() -> None:
    store = LogStore(50)
    store.ingest([record(request_id="keep")], None, 1.0)
    store.ingest([record(request_id=f"f{i}") for i in range(40)], None, 1.0)
    store.ingest([record(request_id="keep")], None, 1.0)
    store.ingest([record(request_id=f"g{i}") for i in range(20)], None, 1.0)
    assert store.request_seqs("keep") == [41]


def test_many_evictions_keep_index_small() -> None:
    store = LogStore(64)
    for batch in range(50):
        store.ingest([record(request_id=f"{batch}-{i}") for i in range(64)], None, 1.0)
    # The index keeps only blocks that still hold retained records.
    assert sum(map(len, store._block_keys)) <= 64 * 2
    assert store.request_seqs("49-63") == [50 * 64 - 1]


def test_request_index_across_blocks_and_wrap() -> None:
    store = LogStore(100)
    lines = [record(request_id="x" if i % 30 == 0 else f"o{i}") for i in range(250)]
    for start in range(0, 250, 7):
        store.ingest(lines[start : start + 7], "a", 1.0)
    assert store.first_seq == 150
    assert store.request_seqs("x") == [150, 180, 210, 240]
    assert store.request_seqs("o249") == [249]
    assert store.request_seqs("o149") == []


def test_request_index_escaped_and_mixed_lines() -> None:
    store = LogStore(100)
    store.ingest(
        [
            record(request_id='café "q"'),
            b"Traceback (most recent call last):",
            record(request_id='café "q"', message="done"),
            record(request_id=None),
        ],
        "a",
        1.0,
    )
    # json.dumps escapes the ID, so the index must parse to confirm a match.
    assert "café".encode() not in store.raw_at(0)
    assert store.request_seqs('café "q"') == [0, 2]
    assert store.request_seqs("") == []


def test_recent_requests_failed_then_slowest() -> None:
    store = LogStore(1000)
    lines = [
        record(request_id="fast", path="/api/v1/records/1", duration=5),
        record(request_id="slow", path="/api/v1/records/2", duration=900),
        record(request_id="fail", path="/api/v1/records/3", status=500, duration=50),
        record(request_id="other", path="/api/v1/health", duration=9999),
        record(request_id="post", method="POST", path="/api/v1/records/4"),
    ]
    store.ingest(lines, "a", 1.0)
    found = recent_requests(store, "GET", "/api/v1/records/{record_id}")
    assert [s.request_id for s in found] == ["fail", "slow", "fast"]
    assert found[0].status == 500


def test_request_summary_merges_records() -> None:
    store = LogStore(10)
    start = b'{"level": "DEBUG", "message": "start", "extra": {"request_id": "q"}}'
    store.ingest([start, record(request_id="q", status=502, duration=31)], "i", 1.0)
    summary = request_summary(store, "q")
    assert summary.record_count == 2
    assert summary.status == 502
    assert summary.duration_ms == 31
    assert summary.method == "GET"


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="log buffer size 0"):
        LogStore(0)


def test_export_line_forms() -> None:
    store = LogStore(10)
    store.ingest([record(), b"plain text"], "inst", 1.0)
    exported = [json.loads(r.export_line()) for r in store.records()]
    assert exported[0]["instance"] == "inst"
    assert exported[0]["message"] == "Request processed"
    assert exported[1] == {"raw": "plain text", "instance": "inst"}
