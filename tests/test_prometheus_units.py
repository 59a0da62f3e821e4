"""The Prometheus mode's pure parts on tables of cases: PromQL text, parsing of
API results, snapshot building, alerts, and the command-line flags."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from haven_top.cli import main
from haven_top.config import ConfigError, Settings
from haven_top.core.snapshot import EndpointStats
from haven_top.prometheus_cli import (
    PASSWORD_ENV,
    TOKEN_ENV,
    add_prometheus_arguments,
    prometheus_settings,
)
from haven_top.sources.prometheus import PollResult
from haven_top.sources.prometheus_api import (
    PrometheusSettings,
    _error_detail,
    alerts_from_api,
    parse_rfc3339,
)
from haven_top.sources.prometheus_snapshot import (
    SnapshotInputs,
    build_snapshot,
    sort_endpoints,
)
from haven_top.sources.promql import (
    Scope,
    history_queries,
    instant_queries,
    matchers,
    matrix_points,
    normalize_selector,
    quote,
    read_instances,
    read_scope,
    sample_value,
)

AT = 1_700_000_000.0


def sample(labels: dict[str, str], value: str) -> dict[str, object]:
    """One series of an instant vector, as the query API returns it."""
    return {"metric": labels, "value": [AT, value]}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ('job="haven"', 'job="haven"'),
        ('{job="haven"}', 'job="haven"'),
        (' { job="haven", env="prod", } ', 'job="haven", env="prod"'),
        ("", ""),
    ],
)
def test_normalize_selector(selector: str, expected: str) -> None:
    assert normalize_selector(selector) == expected


def test_quote_escapes_promql_strings() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'


def test_matchers_join_selector_and_extra() -> None:
    assert (
        matchers('{job="haven"}', 'instance="x:1"') == '{job="haven", instance="x:1"}'
    )
    assert matchers("") == "{}"


def test_queries_follow_the_intended_rules() -> None:
    queries = instant_queries(Scope('job="haven"', 300))
    assert queries["p95"] == (
        "histogram_quantile(0.95, sum by (le) "
        '(rate(haven_request_duration_seconds_bucket{job="haven"}[300s])))'
    )
    assert queries["by_endpoint"] == (
        "sum by (method, endpoint, status) "
        '(rate(haven_requests_total{job="haven"}[300s]))'
    )
    ratio = history_queries(Scope('job="haven"', 300))["error_ratio"]
    assert ratio == (
        '(sum(rate(haven_requests_total{job="haven", status=~"5.."}[300s])) '
        "or vector(0)) / "
        'sum(rate(haven_requests_total{job="haven"}[300s]))'
    )


def test_narrowed_queries_keep_fleet_table() -> None:
    queries = instant_queries(Scope('job="haven"', 60, instance="h:1"))
    assert 'instance="h:1"' in queries["by_endpoint"]
    assert 'instance="h:1"' in queries["p99"]
    assert "instance=" not in queries["by_instance"]
    assert "instance=" not in queries["up"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1.5", 1.5), ("NaN", None), ("+Inf", math.inf), ("x", None), (None, None)],
)
def test_sample_value(raw: object, expected: float | None) -> None:
    assert sample_value(raw) == expected


def test_matrix_points_align_on_end() -> None:
    result = [{"values": [[98, "1"], [100, "3"], [101, "NaN"]]}]
    assert matrix_points(result, end=101, step=1, count=5) == (
        None,
        1.0,
        None,
        3.0,
        None,
    )
    assert matrix_points([], end=101, step=1, count=2) == (None, None)


def fleet_results() -> dict[str, list]:
    a, b = {"instance": "a:1"}, {"instance": "b:1"}
    return {
        "up": [sample({**a, "job": "haven"}, "1"), sample({**b, "job": "haven"}, "0")],
        "up_time": [sample(a, str(AT - 2)), sample(b, str(AT - 30))],
        "by_instance": [
            sample({**a, "status": "200"}, "9"),
            sample({**a, "status": "503"}, "1"),
        ],
        "instance_p95": [sample(a, "0.25"), sample(b, "NaN")],
        "process_cpu": [sample(a, "0.5")],
        "gauges": [
            sample({**a, "__name__": "haven_db_connections"}, "3"),
            sample({**a, "__name__": "haven_db_pool_size"}, "10"),
            sample({**a, "__name__": "process_start_time_seconds"}, "1000"),
        ],
        "by_endpoint": [
            sample({"method": "GET", "endpoint": "/x", "status": "200"}, "6"),
            sample({"method": "GET", "endpoint": "/x", "status": "500"}, "2"),
            sample({"method": "POST", "endpoint": "/y", "status": "201"}, "2"),
        ],
        "p50": [sample({}, "0.01")],
        "p95": [sample({}, "0.2")],
        "p99": [],
        "endpoint_p50": [sample({"method": "GET", "endpoint": "/x"}, "0.01")],
        "endpoint_p95": [sample({"method": "GET", "endpoint": "/x"}, "0.3")],
        "endpoint_p99": [sample({"method": "POST", "endpoint": "/y"}, "NaN")],
    }


def test_read_instances_per_instance_figures() -> None:
    first, second = read_instances(fleet_results())
    assert (first.instance, first.up, first.scraped_at) == ("a:1", True, AT - 2)
    assert first.requests_per_second == 10
    assert first.error_ratio == 0.1
    assert first.p95 == 0.25
    assert first.cpu_cores == 0.5
    assert first.gauges["haven_db_pool_size"] == 10
    assert (second.up, second.requests_per_second, second.p95) == (False, None, None)


def test_read_scope_endpoints_and_classes() -> None:
    reading = read_scope(fleet_results())
    assert reading.by_status == {"200": 6, "500": 2, "201": 2}
    assert reading.endpoints[("GET", "/x")] == {
        "rps": 8,
        "errors": 2,
        "p50": 0.01,
        "p95": 0.3,
    }
    assert reading.quantiles == {"p50": 0.01, "p95": 0.2, "p99": None}


def poll_result(scope: Scope) -> PollResult:
    results = fleet_results()
    return PollResult(
        at=AT,
        scope=scope,
        instances=read_instances(results),
        reading=read_scope(results),
        target_errors={"b:1": "connection refused"},
    )


def test_build_snapshot_fills_fleet() -> None:
    scope = Scope("", 60)
    inputs = SnapshotInputs(AT + 1, scope, poll_result(scope), None, "http://p:9090")
    snapshot = build_snapshot(inputs, endpoint_limit=1)
    assert snapshot.traffic.requests_per_second == 10
    assert snapshot.traffic.error_ratio == 0.2
    assert snapshot.traffic.by_status_class == {"2xx": 8, "5xx": 2}
    assert snapshot.latency_seconds.p95 == 0.2
    assert (snapshot.db_pool.active, snapshot.db_pool.size) == (3, 10)
    assert [row.endpoint for row in snapshot.endpoints] == ["/x", "(1 other)"]
    down = snapshot.targets[1]
    assert down.up is False
    assert down.error == "Prometheus cannot scrape it: connection refused"
    assert down.last_scrape_age == 31
    assert snapshot.metrics_age == 3


def test_build_snapshot_reports_prometheus_down() -> None:
    scope = Scope("", 60)
    inputs = SnapshotInputs(
        AT + 10, scope, poll_result(scope), "cannot reach it", "http://p:9090"
    )
    snapshot = build_snapshot(inputs)
    server, *instances = snapshot.targets
    assert (server.url, server.up) == ("http://p:9090", False)
    assert server.error == "Prometheus: cannot reach it"
    assert [t.up for t in instances] == [None, None]
    assert snapshot.traffic.requests_per_second is None
    assert snapshot.endpoints == ()


def test_build_snapshot_narrows_before_poll() -> None:
    fleet = Scope("", 60)
    narrowed = Scope("", 60, instance="a:1")
    inputs = SnapshotInputs(AT, narrowed, poll_result(fleet), None, "http://p:9090")
    snapshot = build_snapshot(inputs)
    assert snapshot.selected_target == "a:1"
    assert snapshot.traffic.requests_per_second == 10
    assert snapshot.latency_seconds.p95 == 0.25
    assert snapshot.endpoints == ()
    assert snapshot.db_pool.size == 10


def rows(*rates: tuple[str, float, float, float | None]) -> list[EndpointStats]:
    return [
        EndpointStats("GET", name, rps, errors, errors / rps, None, p95, None)
        for name, rps, errors, p95 in rates
    ]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("rate", ["/a", "/b", "/c"]),
        ("errors", ["/a", "/c", "/b"]),
        ("p95", ["/b", "/a", "/c"]),
    ],
)
def test_sort_endpoints(sort: str, expected: list[str]) -> None:
    table = rows(("/a", 9, 1, 0.1), ("/b", 5, 0, 0.5), ("/c", 1, 1, None))
    assert [row.endpoint for row in sort_endpoints(table, sort, None)] == expected


def test_sort_endpoints_sums_rest() -> None:
    table = rows(("/a", 9, 1, 0.1), ("/b", 5, 0, 0.5), ("/c", 1, 1, None))
    kept, rest = sort_endpoints(table, "rate", 1)
    assert kept.endpoint == "/a"
    assert (rest.method, rest.endpoint, rest.is_rest) == ("*", "(2 others)", True)
    assert rest.requests_per_second == 6
    assert rest.error_ratio == pytest.approx(1 / 6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-04T16:01:30.5Z", 1796400090.5),
        ("2026-12-04T17:01:30.509049786+01:00", 1796400090.509049786),
        ("0001-01-01T00:00:00Z", None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_parse_rfc3339(text: str | None, expected: float | None) -> None:
    if expected is None:
        assert parse_rfc3339(text) is None
    else:
        assert parse_rfc3339(text) == pytest.approx(expected)


def test_alerts_from_api_states_and_since() -> None:
    active = [
        {
            "labels": {"alertname": "Errors", "severity": "critical"},
            "annotations": {"summary": "too many 5xx"},
            "state": "firing",
            "activeAt": "2026-12-04T16:01:30Z",
            "value": "1.2e-01",
        },
        {
            "labels": {"alertname": "Slow"},
            "annotations": {"description": "p95 high"},
            "state": "pending",
            "activeAt": "2026-12-04T16:02:00Z",
            "value": "1.5",
        },
    ]
    rules = [
        {"name": "Errors", "duration": 300, "state": "firing"},
        {"name": "Slow", "duration": 600, "state": "pending"},
        {"name": "Quiet", "duration": 60, "state": "inactive", "labels": {"x": "y"}},
    ]
    firing, pending, quiet = alerts_from_api(active, rules)
    assert (firing.name, firing.state, firing.value) == ("Errors", "firing", 0.12)
    assert firing.since == parse_rfc3339("2026-12-04T16:01:30Z") + 300
    assert firing.labels == {"severity": "critical"}
    assert firing.summary == "too many 5xx"
    assert pending.since == parse_rfc3339("2026-12-04T16:02:00Z")
    assert pending.summary == "p95 high"
    assert (quiet.name, quiet.state, quiet.since) == ("Quiet", "inactive", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'HTTP Status Code 400 (b\'{"status":"error","error":"bad \\\\"x\\\\""}\')',
            'bad "x"',
        ),
        (
            "HTTP Status Code 502 (b'<html>bad gateway</html>')",
            "<html>bad gateway</html>",
        ),
        ("plain text", "plain text"),
    ],
)
def test_error_detail(text: str, expected: str) -> None:
    assert _error_detail(text) == expected


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_prometheus_arguments(parser.add_argument_group())
    return parser.parse_args(list(argv))


def test_flags_build_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tmp_path / "token"
    token.write_text("abc\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    args = parse(
        "--prometheus",
        "https://prom:9090",
        "--selector",
        'job="haven"',
        "--prometheus-bearer-token-file",
        str(token),
        "--prometheus-ca-file",
        str(ca),
        "--prometheus-timeout",
        "2.5",
    )
    settings = prometheus_settings(args, Settings())
    assert isinstance(settings, PrometheusSettings)
    assert settings.bearer_token is not None
    assert settings.bearer_token.reveal() == "abc"
    assert "abc" not in repr(settings)
    assert (settings.selector, settings.timeout) == ('job="haven"', 2.5)
    assert settings.ca_file == str(ca)


def test_flags_read_password_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    args = parse("--prometheus", "http://p:9090", "--prometheus-user", "me")
    settings = prometheus_settings(args, Settings())
    assert settings is not None
    assert settings.username == "me"
    assert settings.password is not None
    assert settings.password.reveal() == "pw"


@pytest.mark.parametrize(
    ("argv", "settings", "fragment"),
    [
        (("--selector", "x"), Settings(), "--selector needs --prometheus URL"),
        (("--prometheus", "http://p:1"), Settings(targets=("http://a",)), "drop"),
        (("--prometheus", "ftp://p"), Settings(), "invalid Prometheus URL"),
        (
            ("--prometheus", "http://p:1", "--prometheus-user", "me"),
            Settings(),
            PASSWORD_ENV,
        ),
        (
            ("--prometheus", "http://p:1", "--prometheus-timeout", "0"),
            Settings(),
            "above 0",
        ),
        (
            ("--prometheus", "http://p:1", "--prometheus-ca-file", "/nope"),
            Settings(),
            "not found",
        ),
        (
            ("--prometheus", "http://p:1", "--prometheus-bearer-token-file", "/nope"),
            Settings(),
            "cannot read the Prometheus bearer token file",
        ),
    ],
)
def test_flags_reject_bad_values(
    argv: tuple[str, ...],
    settings: Settings,
    fragment: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(ConfigError, match=fragment):
        prometheus_settings(parse(*argv), settings)


def test_cli_rejects_targets_with_prometheus(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    status = main(["--prometheus", "http://127.0.0.1:9", "http://127.0.0.1:8000"])
    assert status == 2
    assert "--prometheus reads every instance" in capsys.readouterr().err
