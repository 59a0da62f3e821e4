"""The `--selector` applied to the alerts of a Prometheus server.

Prometheus applies the selector to every query, but its alerts API returns
every alert it has. haven-top keeps an alert unless one of its labels
contradicts a matcher of the selector. The last tests run a real Prometheus
(/usr/bin/prometheus, started on 127.0.0.1) whose rules fire at once.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from prometheus_server import PrometheusServer, start_prometheus, wait_for

from haven_top.cli import main
from haven_top.core.snapshot import Alert
from haven_top.sources.prometheus import PrometheusProvider, PrometheusSettings
from haven_top.sources.prometheus_api import alerts_from_api
from haven_top.sources.promql import LabelMatcher, labels_fit, parse_selector


def matcher_tuples(selector: str) -> list[tuple[str, str, str]]:
    return [(m.name, m.operator, m.value) for m in parse_selector(selector)]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", []),
        ('job="haven"', [("job", "=", "haven")]),
        ('{job="haven"}', [("job", "=", "haven")]),
        (
            ' { job != "a" ,env=~"prod|stage", zone!~`eu-.*`, } ',
            [("job", "!=", "a"), ("env", "=~", "prod|stage"), ("zone", "!~", "eu-.*")],
        ),
        ("team='core'", [("team", "=", "core")]),
        ('path="a\\"b\\\\c\\n"', [("path", "=", 'a"b\\c\n')]),
        ('path=~"\\\\d+"', [("path", "=~", "\\d+")]),
        ("path=~`\\d+`", [("path", "=~", "\\d+")]),
        ('label="x,y", other="}"', [("label", "=", "x,y"), ("other", "=", "}")]),
    ],
)
def test_parse_selector_accepts(
    selector: str, expected: list[tuple[str, str, str]]
) -> None:
    assert matcher_tuples(selector) == expected


@pytest.mark.parametrize(
    ("selector", "fragment"),
    [
        ('job=="haven"', "invalid label matcher"),
        ("job=haven", "invalid label matcher"),
        ('job="haven" env="prod"', "invalid label matcher"),
        ('1job="haven"', "invalid label matcher"),
        ('job="haven', "invalid label matcher"),
        ('path=~"\\d+"', "invalid escape sequence"),
        ('job=~"(unclosed"', "invalid regular expression"),
    ],
)
def test_parse_selector_rejects(selector: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        parse_selector(selector)


@pytest.mark.parametrize(
    ("selector", "labels", "fits"),
    [
        ('job="haven"', {"job": "haven"}, True),
        ('job="haven"', {"job": "other"}, False),
        ('job="haven"', {"severity": "page"}, True),
        ('job!="other"', {"job": "haven"}, True),
        ('job!="other"', {"job": "other"}, False),
        ('job=~"hav.*"', {"job": "haven"}, True),
        ('job=~"hav"', {"job": "haven"}, False),
        ('job=~"hav.*"', {"job": "xhaven"}, False),
        ('job!~"oth.*"', {"job": "haven"}, True),
        ('job!~"oth.*"', {"job": "other"}, False),
        ('job="haven", env=~"prod|stage"', {"job": "haven", "env": "dev"}, False),
        ('job="haven", env=~"prod|stage"', {"job": "haven", "env": "stage"}, True),
        ("", {"job": "anything"}, True),
    ],
)
def test_labels_fit(selector: str, labels: dict[str, str], fits: bool) -> None:
    assert labels_fit(labels, parse_selector(selector)) is fits


def test_regex_matcher_is_anchored() -> None:
    (matcher,) = parse_selector('instance=~"127.0.0.1:80.."')
    assert isinstance(matcher, LabelMatcher)
    assert matcher.matches("127.0.0.1:8001")
    assert not matcher.matches("127.0.0.1:80011")
    assert not matcher.matches("x127.0.0.1:8001")


def test_alerts_from_api_filters_by_selector() -> None:
    active = [
        {"labels": {"alertname": "Ours", "job": "haven"}, "state": "firing"},
        {"labels": {"alertname": "Theirs", "job": "other"}, "state": "firing"},
        {"labels": {"alertname": "Fleetwide"}, "state": "pending"},
    ]
    rules = [
        {"name": "Ours", "state": "firing"},
        {"name": "QuietOurs", "state": "inactive", "labels": {"job": "haven"}},
        {"name": "QuietTheirs", "state": "inactive", "labels": {"job": "other"}},
    ]
    selector = parse_selector('job="haven"')
    names = [alert.name for alert in alerts_from_api(active, rules, selector)]
    assert names == ["Ours", "Fleetwide", "QuietOurs"]
    everything = [alert.name for alert in alerts_from_api(active, rules)]
    assert "Theirs" in everything
    assert "QuietTheirs" in everything


def test_alerts_selector_may_name_alertname() -> None:
    rules = [{"name": "Quiet", "state": "inactive"}]
    selector = parse_selector('alertname!="Quiet"')
    assert alerts_from_api([], rules, selector) == ()


ALWAYS_FIRING = [
    {
        "alert": "HavenSelected",
        "expr": "vector(1)",
        "labels": {"job": "haven", "severity": "page"},
        "annotations": {"summary": "carries the selected job"},
    },
    {
        "alert": "OtherJobAlert",
        "expr": "vector(1)",
        "labels": {"job": "other"},
        "annotations": {"summary": "carries another job"},
    },
    {
        "alert": "NoJobLabel",
        "expr": "vector(1)",
        "labels": {"severity": "info"},
        "annotations": {"summary": "carries no job label"},
    },
]
"""Rules that fire at the first evaluation: `vector(1)` with no `for`."""


@pytest.fixture(scope="module")
def alert_server() -> Iterator[PrometheusServer]:
    server = start_prometheus([], rules=ALWAYS_FIRING)
    try:
        yield server
    finally:
        server.stop()


def wait_all_firing(server: PrometheusServer) -> None:
    """Wait until the server's alerts API lists every rule of `ALWAYS_FIRING`."""

    def firing() -> set[str]:
        with urllib.request.urlopen(f"{server.url}/api/v1/alerts", timeout=2) as reply:
            alerts = json.load(reply)["data"]["alerts"]
        names = {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}
        return names if len(names) == len(ALWAYS_FIRING) else set()

    wait_for(firing, timeout=15, what="every rule firing")


async def poll_alerts(settings: PrometheusSettings) -> dict[str, Alert]:
    provider = PrometheusProvider(settings, interval=0.2)
    await provider.start()
    try:
        assert await provider.wait_for_poll(5)
        snapshot = provider.snapshot(window_seconds=10)
    finally:
        await provider.stop()
    return {alert.name: alert for alert in snapshot.alerts}


@pytest.mark.parametrize(
    "selector", ['job="haven"', 'job!="other"', 'job=~"hav.*"', 'job!~"oth.*"']
)
async def test_provider_keeps_selected_alerts(
    alert_server: PrometheusServer, selector: str
) -> None:
    wait_all_firing(alert_server)
    everything = await poll_alerts(PrometheusSettings(alert_server.url))
    assert set(everything) == {rule["alert"] for rule in ALWAYS_FIRING}
    kept = await poll_alerts(PrometheusSettings(alert_server.url, selector=selector))
    assert set(kept) == {"HavenSelected", "NoJobLabel"}
    assert kept["HavenSelected"].labels == {"job": "haven", "severity": "page"}
    assert kept["HavenSelected"].state == "firing"


def test_once_json_lists_selected_alerts(
    alert_server: PrometheusServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    wait_all_firing(alert_server)
    argv = ["--once", "--format", "json", "--prometheus", alert_server.url]
    status = main([*argv, "--selector", 'job="haven"'])
    document = orjson.loads(capsys.readouterr().out)
    names = {alert["name"] for alert in document["alerts"]}
    assert names == {"HavenSelected", "NoJobLabel"}
    assert status == 1
