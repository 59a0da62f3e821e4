"""Exposition parser: both text formats, odd values, malformed lines, garbage."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as generate_text
from prometheus_client.openmetrics.exposition import generate_latest as generate_om
from prometheus_client.parser import text_string_to_metric_families

from haven_top.core.exposition import (
    MAX_WARNINGS,
    ExpositionError,
    ExpositionParser,
    Series,
    parse,
)


def make_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = Counter(
        "haven_requests_total",
        "Total requests",
        ["method", "endpoint", "status"],
        registry=registry,
    )
    duration = Histogram(
        "haven_request_duration_seconds",
        "Request duration",
        ["method", "endpoint"],
        registry=registry,
        buckets=(0.01, 0.1, 1.0),
    )
    connections = Gauge("haven_db_connections", "Active", registry=registry)
    requests.labels("GET", "/api/v1/records", "200").inc(3)
    requests.labels("POST", '/odd"path\\with\nbreak', "500").inc()
    duration.labels("GET", "/api/v1/records").observe(0.05)
    duration.labels("GET", "/api/v1/records").observe(0.5, exemplar={"trace_id": "abc"})
    connections.set(4)
    return registry


def reference_samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Parse with prometheus_client and key by (name, labels), skipping `_created`."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def our_samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (series.name, frozenset(series.labels.items())): value
        for series, value in parse(text)
    }


def test_parse_matches_prometheus_client() -> None:
    text = generate_text(make_registry()).decode()

    ours = our_samples(text)
    reference = reference_samples(text)

    assert ours == reference
    assert len(ours) == 2 + 6 + 1


def test_parse_openmetrics_from_prometheus_client() -> None:
    body = generate_om(make_registry())
    exposition = parse(body, "application/openmetrics-text; version=1.0.0")

    assert exposition.openmetrics
    assert exposition.warnings == []
    assert exposition.types["haven_requests"] == "counter"
    assert exposition.type_of("haven_requests_total") == "counter"
    assert exposition.type_of("haven_request_duration_seconds_bucket") == "histogram"
    buckets = exposition.get("haven_request_duration_seconds_bucket")
    by_le = {series.labels["le"]: value for series, value in buckets}
    assert by_le == {"0.01": 0.0, "0.1": 1.0, "1.0": 2.0, "+Inf": 2.0}
    assert "haven_requests_created" in exposition.created
    assert "haven_requests_created" not in exposition.samples


def test_parse_openmetrics_detected_by_eof() -> None:
    exposition = parse(b"# TYPE a counter\na_total 1 100.5\n# EOF\n")

    assert exposition.openmetrics
    series, value = next(iter(exposition))
    assert value == 1.0
    assert exposition.timestamps[series] == 100.5


def test_parse_text_timestamp_in_milliseconds() -> None:
    exposition = parse("a 1 1500\n")

    series, _ = next(iter(exposition))
    assert exposition.timestamps[series] == 1.5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (r"plain", "plain"),
        (r"back\\slash", "back\\slash"),
        (r"a \"quote\"", 'a "quote"'),
        (r"line\nbreak", "line\nbreak"),
        (r"\\n", "\\n"),
        (r"\\\"", '\\"'),
        (r"brace } and , comma", "brace } and , comma"),
        (r"hash # inside", "hash # inside"),
        (r"space 7", "space 7"),
        (r"unknown \t escape", "unknown \\t escape"),
        ("", ""),
        ("ünïcode ✓", "ünïcode ✓"),
    ],
)
def test_parse_escaped_label_values(raw: str, expected: str) -> None:
    exposition = parse(f'm{{a="{raw}",b="x"}} 2\n')

    group = exposition.get("m")
    assert len(group) == 1
    assert group.series[0].labels == {"a": expected, "b": "x"}
    assert group.values[0] == 2.0
    assert exposition.warnings == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+Inf", math.inf),
        ("-Inf", -math.inf),
        ("Inf", math.inf),
        ("1e3", 1000.0),
        ("-0.5", -0.5),
        ("42", 42.0),
        ("1.7964000304904718e+09", 1.7964000304904718e09),
    ],
)
def test_parse_special_values(text: str, expected: float) -> None:
    assert parse(f"m {text}\n").first_value("m") == expected


def test_parse_nan_value() -> None:
    value = parse("m NaN\n").first_value("m")

    assert value is not None
    assert math.isnan(value)


@pytest.mark.parametrize(
    "line",
    [
        'm{a="1"} 5',
        'm{a="1"}  5',
        'm{a="1"}\t5',
        '   m{a="1"} 5',
        'm{a="1",} 5',
        'm{ a = "1" } 5',
        'm{a="1"} 5 1700000000000',
        'm{a="1"} 5 # {trace_id="x"} 0.3 1700000000.1',
        'm{a="1"} 5\r',
    ],
)
def test_parse_whitespace_timestamps_exemplars(line: str) -> None:
    exposition = parse(line + "\n")

    assert exposition.warnings == []
    assert list(exposition) == [(Series("m", {"a": "1"}), 5.0)]


def test_parse_help_type_unit_and_comments() -> None:
    text = (
        "# A free comment\n"
        "#\n"
        "\n"
        "# HELP req_total Requests with a \\\\ and a \\n in help\n"
        "# TYPE req_total counter\n"
        "# UNIT latency_seconds seconds\n"
        "req_total 7\n"
        "\n"
        "\n"
    )
    exposition = parse(text)

    assert exposition.help["req_total"] == "Requests with a \\ and a \n in help"
    assert exposition.types["req_total"] == "counter"
    assert exposition.units["latency_seconds"] == "seconds"
    assert exposition.first_value("req_total") == 7.0
    assert exposition.warnings == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("9bad 1", "invalid metric name"),
        ("m{a=1} 1", "not a terminated quoted string"),
        ('m{a="1} 1', "not a terminated quoted string"),
        ('m{1a="1"} 1', "invalid label name"),
        ('m{a="1" b="2"} 1', "expected ',' or '}'"),
        ('m{a="1"', "missing '}'"),
        ('m{a="1",a="2"} 1', "duplicate label"),
        ("m", "missing value"),
        ("m ", "missing value"),
        ("m abc", "value 'abc' is not a number"),
        ('m{a="1"}1', "expected a space"),
        ("m 1 abc", "timestamp 'abc' is not a number"),
        ("m abc 1 2", "value 'abc' is not a number"),
        ("m 1 2 3", "unexpected text after the timestamp"),
        ("# TYPE m nonsense", "unknown metric type 'nonsense'"),
        ("# TYPE", "TYPE line without a valid metric name"),
    ],
)
def test_parse_skips_malformed_line(line: str, problem: str) -> None:
    text = f"before 1\n{line}\nafter 2\n"
    exposition = parse(text)

    assert exposition.first_value("before") == 1.0
    assert exposition.first_value("after") == 2.0
    assert len(exposition.warnings) == 1
    warning = exposition.warnings[0]
    assert warning.startswith("line 2: ")
    assert problem in warning
    assert "\n" not in warning


def test_parse_truncates_long_line_in_warning() -> None:
    line = "m{" + "a" * 500 + "} 1"
    warning = parse(f"ok 1\n{line}\n").warnings[0]

    assert len(warning) < 160
    assert warning.endswith("...'")


def test_parse_caps_warnings() -> None:
    text = "ok 1\n" + "bad line here\n" * (MAX_WARNINGS + 5)
    warnings = parse(text).warnings

    assert len(warnings) == MAX_WARNINGS + 1
    assert warnings[-1] == "5 more malformed lines skipped"


def test_parse_warns_about_text_after_eof() -> None:
    exposition = parse("a 1\n# EOF\nb 2\n")

    assert exposition.first_value("a") == 1.0
    assert exposition.first_value("b") is None
    assert exposition.warnings == ["line 3: text after '# EOF' ignored: 'b 2'"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "no samples; the body is empty"),
        (b"\n\n  \n", "no samples; the body is empty"),
        (b"<!DOCTYPE html>\n<html><body>Not here</body></html>\n", "line 1"),
        (b'{"status": "alive"}', "invalid metric name"),
        (b"# HELP a only help\n# TYPE a gauge\n", "the body has only comments"),
        (b"\x00\xff\xfe garbage", "invalid metric name"),
    ],
)
def test_parse_rejects_body_without_samples(body: bytes, fragment: str) -> None:
    with pytest.raises(ExpositionError) as caught:
        parse(body)

    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_parse_created_series_set_aside_in_text_format() -> None:
    text = generate_text(make_registry()).decode()
    exposition = parse(text)

    assert set(exposition.created) == {
        "haven_requests_created",
        "haven_request_duration_seconds_created",
    }
    assert not any(name.endswith("_created") for name in exposition.samples)
    assert all(value > 1e9 for _, value in exposition.created["haven_requests_created"])


@pytest.mark.parametrize(
    ("text", "is_timestamp"),
    [
        ("x_total 1\nx_created 1700000000\n", True),
        ("h_count 1\nh_created 1700000000\n", True),
        ("h_bucket{le='1'} 1\n".replace("'", '"') + "h_created 17e8\n", True),
        ("# TYPE s summary\ns_sum 1\ns_created 17e8\n", True),
        ("# TYPE c counter\nc_created 17e8\n", True),
        ("# TYPE job_created gauge\njob_created 5\n", False),
        ("lonely_created 3\n", False),
    ],
)
def test_parse_created_series_detection(text: str, is_timestamp: bool) -> None:
    exposition = parse(text)
    created_names = set(exposition.created)

    assert bool(created_names) is is_timestamp


def test_parser_reuses_series_between_scrapes() -> None:
    parser = ExpositionParser()
    first = parser.parse('m{a="1"} 1\nm{a="2"} 2\n')
    second = parser.parse('m{a="1"} 10\nm{a="2"} 20\n')

    assert first.get("m").series[0] is second.get("m").series[0]
    assert second.get("m").values == [10.0, 20.0]
    assert parser.cached_series == 2


def test_parser_cache_drops_series_gone_for_long() -> None:
    parser = ExpositionParser()
    for round_number in range(5):
        lines = [f'm{{id="{round_number}-{i}"}} 1' for i in range(1000)]
        parser.parse("\n".join(lines))

    assert parser.cached_series <= 2 * 1000 + 1000


def test_parser_handles_crlf_line_endings() -> None:
    parser = ExpositionParser()
    body = b'# TYPE m gauge\r\nm 1\r\nn{a="x"} 2\r\n'
    for _ in range(2):
        exposition = parser.parse(body)
        assert exposition.warnings == []
        assert exposition.types == {"m": "gauge"}
        assert exposition.first_value("m") == 1.0
        assert exposition.first_value("n") == 2.0


def test_series_equality_ignores_spacing() -> None:
    exposition = parse('m{a="1",b="2"} 1\nn{ a = "1" , b = "2" } 1\n')
    first = exposition.get("m").series[0]
    second = exposition.get("n").series[0]

    assert first.labels == second.labels
    assert Series("m", {"b": "2", "a": "1"}) == first
    assert hash(Series("m", {"b": "2", "a": "1"})) == hash(first)
    assert first.text == 'm{a="1",b="2"}'


def test_series_labels_are_read_only() -> None:
    series = parse('m{a="1"} 1\n').get("m").series[0]

    with pytest.raises(TypeError):
        series.labels["a"] = "2"  # type: ignore[index]


def test_parser_cached_series_with_bad_value_warns() -> None:
    parser = ExpositionParser()
    parser.parse('m{a="1"} 1\nn 1\n')
    exposition = parser.parse('m{a="1"} oops\nn 2\n')

    assert exposition.first_value("m") is None
    assert exposition.first_value("n") == 2.0
    assert exposition.warnings == [
        "line 1: value 'oops' is not a number: 'm{a=\"1\"} oops'"
    ]


def test_no_samples_message_names_first_bad_line() -> None:
    body = b"# a comment\ngarbage {{{ not prom at all, and then some more text\nx y\n"
    with pytest.raises(ExpositionError) as caught:
        parse(body)

    assert str(caught.value) == (
        "no samples; first bad line 2: value '{{{' is not a number: "
        "'garbage {{{ not prom at all, and then...'"
    )


def test_no_samples_message_escapes_control_characters() -> None:
    with pytest.raises(ExpositionError) as caught:
        parse(b"\x1b]0;title\x07 \x1b[2J\n")

    message = str(caught.value)
    assert "\x1b" not in message
    assert "\\x1b]0;title\\x07" in message
