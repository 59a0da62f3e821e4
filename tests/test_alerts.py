"""The direct-mode alert evaluator and its `[alerts]` config table, as pure logic."""

from __future__ import annotations

import pytest

from haven_top.core.alerts import (
    DEFAULT_RULES,
    AlertConfigError,
    AlertEvaluator,
    AlertRule,
    format_duration,
    measure_from_snapshots,
    parse_duration,
    rules_from_config,
)
from haven_top.core.snapshot import Latency, Snapshot, Traffic

ERRORS = AlertRule("HighErrorRate", "error_ratio", 0.05, 10.0, 60.0, "critical")


def run(evaluator: AlertEvaluator, steps: list[tuple[float, float | None]]) -> list:
    """Evaluate `(time, value)` steps and return the one alert after each."""
    seen = []
    for now, value in steps:
        (alert,) = evaluator.evaluate(now, lambda rule, value=value: value)
        seen.append(alert)
    return seen


def test_evaluator_pending_then_firing_then_inactive() -> None:
    alerts = run(
        AlertEvaluator([ERRORS]),
        [(0, 0.01), (1, 0.2), (5, 0.3), (11, 0.3), (12, 0.3), (13, 0.01)],
    )
    assert [a.state for a in alerts] == [
        "inactive",
        "pending",
        "pending",
        "firing",
        "firing",
        "inactive",
    ]
    assert alerts[0].since is None
    assert alerts[1].since == 1
    assert alerts[2].since == 1
    assert alerts[3].since == 11
    assert alerts[4].since == 11
    assert alerts[5].since == 13
    assert alerts[4].value == 0.3


def test_evaluator_pending_resets_when_condition_breaks() -> None:
    alerts = run(AlertEvaluator([ERRORS]), [(0, 0.2), (8, 0.0), (9, 0.2), (18, 0.2)])
    assert [a.state for a in alerts] == ["pending", "inactive", "pending", "pending"]
    assert alerts[3].since == 9


def test_evaluator_no_data_resolves() -> None:
    alerts = run(AlertEvaluator([ERRORS]), [(0, 0.2), (10, 0.2), (11, None)])
    assert [a.state for a in alerts] == ["pending", "firing", "inactive"]
    assert alerts[2].value is None


def test_evaluator_threshold_is_strict() -> None:
    alerts = run(AlertEvaluator([ERRORS]), [(0, 0.05), (20, 0.05)])
    assert [a.state for a in alerts] == ["inactive", "inactive"]


def test_evaluator_zero_for_fires_at_once() -> None:
    rule = AlertRule("Now", "p95", 1.0, 0.0, 60.0, "warning")
    (alert,) = run(AlertEvaluator([rule]), [(3, 1.5)])
    assert alert.state == "firing"
    assert alert.since == 3


def test_evaluator_measures_each_rule() -> None:
    values = {"error_ratio": 0.5, "p95": 0.2}
    alerts = AlertEvaluator(DEFAULT_RULES).evaluate(0, lambda r: values[r.measure])
    states = {a.name: a.state for a in alerts}
    assert states == {"HighErrorRate": "pending", "SlowResponse": "inactive"}
    labels = {a.name: a.labels for a in alerts}
    assert labels["HighErrorRate"]["severity"] == "critical"
    assert labels["SlowResponse"]["for"] == "10m"


def test_evaluator_skips_disabled_rules() -> None:
    (rule,) = rules_from_config({"high_error_rate": {"enabled": False}})[:1]
    evaluator = AlertEvaluator([rule, DEFAULT_RULES[1]])
    assert [r.name for r in evaluator.rules] == ["SlowResponse"]


def test_measure_builds_each_window_once() -> None:
    built: list[float] = []

    def build(window: float) -> Snapshot:
        built.append(window)
        return Snapshot(
            taken_at=0,
            window_seconds=window,
            traffic=Traffic(error_ratio=0.25),
            latency_seconds=Latency(p95=2.0),
        )

    rules = rules_from_config({"slow_response": {"window": 30}})
    evaluator = AlertEvaluator(rules)
    alerts = evaluator.evaluate(0, measure_from_snapshots(build))
    assert sorted(built) == [30.0, 300.0]
    assert [a.value for a in alerts] == [0.25, 2.0]
    assert evaluator.windows == (30.0, 300.0)


def test_config_defaults_match_the_guide() -> None:
    errors, slow = rules_from_config(None)
    assert (errors.name, errors.threshold, errors.for_seconds) == (
        "HighErrorRate",
        0.05,
        300.0,
    )
    assert (slow.name, slow.threshold, slow.for_seconds) == ("SlowResponse", 1.0, 600.0)
    assert errors.window_seconds == 300.0
    assert slow.window_seconds == 300.0


def test_config_overrides_every_field() -> None:
    errors, slow = rules_from_config(
        {
            "high_error_rate": {"threshold": 0.1, "for": "2s", "window": 5},
            "slow_response": {"threshold": 0.25, "for": "1m30s", "severity": "page"},
        }
    )
    assert (errors.threshold, errors.for_seconds, errors.window_seconds) == (
        0.1,
        2.0,
        5.0,
    )
    assert (slow.threshold, slow.for_seconds, slow.severity) == (0.25, 90.0, "page")


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"high_eror_rate": {}}, "unknown key alerts.high_eror_rate"),
        ({"slow_response": {"treshold": 1}}, "unknown key alerts.slow_response."),
        ({"slow_response": 3}, "expected a table"),
        ({"slow_response": {"threshold": "1s"}}, "alerts.slow_response.threshold"),
        ({"slow_response": {"threshold": -1}}, "at least 0"),
        ({"high_error_rate": {"for": "5 minutes"}}, "not a duration"),
        ({"high_error_rate": {"window": 0}}, "above 0 and at most 15m"),
        ({"high_error_rate": {"window": "1h"}}, "above 0 and at most 15m"),
        ({"high_error_rate": {"enabled": "yes"}}, "true or false"),
    ],
)
def test_config_rejects_bad_table(table: dict, fragment: str) -> None:
    with pytest.raises(AlertConfigError, match=fragment.replace(".", r"\.")):
        rules_from_config(table)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(300, 300.0), (1.5, 1.5), ("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0)],
)
def test_parse_duration_accepts(text: object, seconds: float) -> None:
    assert parse_duration(text, key="x") == seconds


@pytest.mark.parametrize("text", ["", "5", "m", "5x", True, -1, None])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(AlertConfigError):
        parse_duration(text, key="x")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (2, "2s"), (90, "1m30s"), (600, "10m"), (3600, "1h"), (0.5, "0.5s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
