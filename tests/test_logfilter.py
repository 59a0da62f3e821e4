"""The filter language over a real store, and the selection that follows it."""

from __future__ import annotations

import json

import pytest

from haven_top.core.logfilter import FilterError, parse_filter
from haven_top.core.logselection import LogSelection, export_jsonl, logs_report
from haven_top.core.logstore import LogStore

UUID = "550e8400-e29b-41d4-a716-446655440000"


def line(**fields: object) -> bytes:
    extra = {
        key: fields.pop(key)
        for key in ("request_id", "method", "path", "status_code", "duration_ms")
        if key in fields
    }
    doc = {
        "timestamp": "2025-01-15T12:00:00.000Z",
        "level": fields.pop("level", "INFO"),
        "logger": fields.pop("logger", "haven.api"),
        "message": fields.pop("message", "Request processed"),
        "extra": extra,
    }
    return json.dumps(doc).encode()


LINES = [
    line(
        request_id="a1",
        method="GET",
        path="/api/v1/records",
        status_code=200,
        duration_ms=12,
    ),
    line(
        request_id="a2",
        method="POST",
        path="/api/v1/records",
        status_code=503,
        duration_ms=1500,
        level="ERROR",
        message="Pool exhausted",
    ),
    line(
        request_id=UUID,
        method="GET",
        path="/api/v1/records/7",
        status_code=404,
        duration_ms=3,
        level="WARNING",
    ),
    line(level="DEBUG", message="cache miss", request_id="a1"),
    b"Traceback (most recent call last):",
    line(message="caf\u00e9 ready", logger="haven.db"),
]


@pytest.fixture
def store() -> LogStore:
    store = LogStore(100)
    store.ingest(LINES[:3], "one", 1.0)
    store.ingest(LINES[3:], "two", 2.0)
    return store


def matching(store: LogStore, text: str) -> list[int]:
    selection = LogSelection(store, parse_filter(text, is_request_id=store.has_request))
    return list(selection.seqs())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [0, 1, 2, 3, 4, 5]),
        ("level>=WARNING", [1, 2]),
        ("level>=warn", [1, 2]),
        ("level=DEBUG", [3]),
        ("!level=DEBUG", [0, 1, 2, 4, 5]),
        ("status>=500", [1]),
        ("status=4xx", [2]),
        ("status!=5xx", [0, 2]),
        ("path=/api/v1/records", [0, 1]),
        ("path=/api/v1/records*", [0, 1, 2]),
        ("path~records/", [2]),
        ("method=POST", [1]),
        ("request_id=a1", [0, 3]),
        ("rid=a1 level=DEBUG", [3]),
        ("a1", [0, 3]),
        (UUID, [2]),
        ("pool", [1]),
        ("Pool", [1]),
        ("POOL", []),
        ('"pool exhausted"', [1]),
        ("traceback", [4]),
        ("!traceback", [0, 1, 2, 3, 5]),
        ("caf\u00e9", [5]),
        ("duration>1s", [1]),
        ("duration<=12", [0, 2]),
        ("instance=two", [3, 4, 5]),
        ("logger=haven.db", [5]),
        ("message~ready", [5]),
        ("level>=INFO status>=400 method=GET", [2]),
        ("user=alice", []),
    ],
)
def test_filter_grammar(store: LogStore, text: str, expected: list[int]) -> None:
    assert matching(store, text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("level>=LOUD", "use level"),
        ("status>=abc", "status>=500"),
        ("duration>slow", "duration>250"),
        ("path>/a", "takes =, != or ~"),
        ('"unclosed', "close the quote"),
        ("status=", "has no value"),
    ],
)
def test_filter_errors_say_the_fix(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse_filter(text)


def test_request_filter_uses_index(store: LogStore) -> None:
    log_filter = parse_filter("request_id=a1")
    assert log_filter.request_id == "a1"
    assert parse_filter("!request_id=a1").request_id is None


def test_selection_follows_new_and_evicted() -> None:
    store = LogStore(10)
    selection = LogSelection(store, parse_filter("status>=500"))
    assert len(selection) == 0
    store.ingest([line(status_code=500), line(status_code=200)] * 3, None, 1.0)
    assert selection.refresh() == 3
    assert len(selection) == 3
    store.ingest([line(status_code=200)] * 8, None, 1.0)
    assert selection.refresh() == 0
    assert list(selection.seqs()) == [4]
    unfiltered = LogSelection(store)
    assert len(unfiltered) == 10
    store.ingest([line()], None, 1.0)
    assert unfiltered.refresh() == 1
    assert unfiltered.seq_at(0) == 5


def test_find_problem_both_ways(store: LogStore) -> None:
    selection = LogSelection(store)
    assert selection.find_problem(-1, 1) == 1
    assert selection.find_problem(1, 1) is None
    assert selection.find_problem(6, -1) == 1


def test_export_writes_filtered_jsonl(store: LogStore, tmp_path) -> None:
    selection = LogSelection(store, parse_filter("!level=DEBUG"))
    path = tmp_path / "out.jsonl"
    assert export_jsonl(selection.records(), path) == 5
    rows = [json.loads(text) for text in path.read_text().splitlines()]
    assert rows[0]["extra"]["request_id"] == "a1"
    assert rows[3] == {"raw": "Traceback (most recent call last):", "instance": "two"}


def test_logs_report_newest_last(store: LogStore) -> None:
    report = logs_report(LogSelection(store, parse_filter("level>=INFO")), limit=2)
    assert report["received"] == 6
    assert report["evicted"] == 0
    assert report["matched_total"] == 4
    assert [row["message"] for row in report["matched"]] == [
        "Request processed",
        "caf\u00e9 ready",
    ]
