"""PromQL for the Haven series, and the parsing of what Prometheus returns.

Pure functions with no I/O, so the queries and the parsing are testable alone.
The queries follow the intent of the monitoring guide's rules, not their text:
the error ratio divides 5xx rates by all rates, and quantiles come from
`histogram_quantile` over summed `_bucket` rates.

A `Scope` is the request of one poll: the fleet selector, the rate window and
the instance the panes are narrowed to (None for the whole fleet).
Per-instance figures for the instances table always cover the whole fleet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT = 5.0
"""Seconds one Prometheus request may take unless configured."""

REQUESTS = "haven_requests_total"
BUCKETS = "haven_request_duration_seconds_bucket"
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}

GAUGES = (
    "haven_db_connections",
    "haven_db_pool_size",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
)
"""Gauges read raw per instance; the fleet or one instance is summed in Python."""

CPU_WINDOW_SECONDS = 60
"""Range of the `irate` over process CPU: long enough to hold two scrapes."""

INSTANT_KEYS = (
    "by_endpoint",
    "by_instance",
    "instance_p95",
    "up",
    "up_time",
    "gauges",
    "process_cpu",
    *QUANTILES,
    *(f"endpoint_{name}" for name in QUANTILES),
)

HISTORY_KEYS = ("requests_per_second", "error_ratio", "p95", "db_usage")


@dataclass(frozen=True)
class Scope:
    """Selector, window and narrowed instance of one poll's queries."""

    selector: str
    window_seconds: float
    instance: str | None = None


def normalize_selector(selector: str) -> str:
    """Strip the braces of a selector such as `{job="haven"}` and any spaces."""
    text = selector.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    return text.rstrip(",").strip()


@dataclass(frozen=True)
class LabelMatcher:
    """One label matcher of a selector, such as `job="haven"` or `env!~"dev.*"`."""

    name: str
    operator: str
    """"=", "!=", "=~" or "!~"."""
    value: str
    pattern: re.Pattern[str] | None = None
    """The compiled regular expression of "=~" and "!~", matched against the
    whole value as Prometheus anchors it."""

    def matches(self, value: str) -> bool:
        """Return True when the label value `value` satisfies this matcher."""
        if self.operator == "=":
            return value == self.value
        if self.operator == "!=":
            return value != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(value) is not None
        return found if self.operator == "=~" else not found


_MATCHER_RE = re.compile(
    r"""\s*(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<operator>=~|!~|!=|=)\s*"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*(?:,|$)""",
    re.DOTALL,
)
_ESCAPE_RE = re.compile(
    r"\\(?:(?P<char>[abfnrtv\\'\"])|x(?P<hex2>[0-9a-fA-F]{2})"
    r"|u(?P<hex4>[0-9a-fA-F]{4})|U(?P<hex8>[0-9a-fA-F]{8})|(?P<octal>[0-7]{3}))"
)
_ESCAPED_CHARS = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r"}
_ESCAPED_CHARS.update({"t": "\t", "v": "\v"})


def parse_selector(selector: str) -> tuple[LabelMatcher, ...]:
    """Parse label matchers such as `{job="haven", env=~"prod|stage"}`.

    Strings may be quoted with ", ' or ` as in PromQL, and regular expressions
    must match the whole value, as Prometheus anchors them. Raises ValueError
    on text that is not a list of label matchers.
    """
    text = normalize_selector(selector)
    found = []
    position = 0
    while position < len(text):
        match = _MATCHER_RE.match(text, position)
        if match is None:
            raise ValueError(
                f"invalid label matcher at {text[position:]!r} in selector "
                f'{selector!r}; write matchers such as job="haven"'
            )
        found.append(_matcher(match, selector))
        position = match.end()
    return tuple(found)


def _matcher(match: re.Match[str], selector: str) -> LabelMatcher:
    name, operator = match.group("name"), match.group("operator")
    value = _unquote(match.group("value"))
    pattern = None
    if operator in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"invalid regular expression {value!r} in selector {selector!r}: "
                f"{exc}; fix the pattern"
            ) from None
    return LabelMatcher(name, operator, value, pattern)


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    if literal[0] == "`":
        return body
    rest = _ESCAPE_RE.sub(_unescape, body)
    if "\\" in _ESCAPE_RE.sub("", body):
        raise ValueError(
            f"invalid escape sequence in string {literal}; write a backslash as \\\\ "
            "or quote the pattern with backticks"
        )
    return rest


def _unescape(match: re.Match[str]) -> str:
    char = match.group("char")
    if char is not None:
        return _ESCAPED_CHARS.get(char, char)
    if match.group("octal") is not None:
        return chr(int(match.group("octal"), 8))
    digits = match.group("hex2") or match.group("hex4") or match.group("hex8")
    return chr(int(digits, 16))


def labels_fit(labels: Mapping[str, str], selector: Sequence[LabelMatcher]) -> bool:
    """Return True unless a label of `labels` contradicts a matcher of `selector`.

    A matcher whose label is absent from `labels` is not applied: an alert
    built from an aggregate such as `sum(rate(...))` has lost the `job` and
    `instance` labels, and still belongs to the selected fleet.
    """
    return all(
        matcher.matches(labels[matcher.name])
        for matcher in selector
        if matcher.name in labels
    )


def quote(value: str) -> str:
    """Write `value` as a PromQL double-quoted string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def matchers(selector: str, *extra: str) -> str:
    """Join the fleet selector with extra label matchers into `{...}`."""
    parts = [part for part in (normalize_selector(selector), *extra) if part]
    return "{" + ", ".join(parts) + "}"


def duration(seconds: float) -> str:
    """Write a PromQL range duration in whole seconds, at least 1s."""
    return f"{max(1, round(seconds))}s"


def _scoped(scope: Scope, *extra: str) -> str:
    if scope.instance is not None:
        extra = (f"instance={quote(scope.instance)}", *extra)
    return matchers(scope.selector, *extra)


def instant_queries(scope: Scope) -> dict[str, str]:
    """Build every instant query of one poll, keyed by `INSTANT_KEYS`."""
    window = duration(scope.window_seconds)
    fleet = matchers(scope.selector)
    scoped = _scoped(scope)
    scoped_buckets = f"rate({BUCKETS}{scoped}[{window}])"
    queries = {
        "by_endpoint": (
            f"sum by (method, endpoint, status) (rate({REQUESTS}{scoped}[{window}]))"
        ),
        "by_instance": f"sum by (instance, status) (rate({REQUESTS}{fleet}[{window}]))",
        "instance_p95": (
            "histogram_quantile(0.95, sum by (instance, le) "
            f"(rate({BUCKETS}{fleet}[{window}])))"
        ),
        "up": f"up{fleet}",
        "up_time": f"timestamp(up{fleet})",
        "gauges": matchers(scope.selector, f'__name__=~"{"|".join(GAUGES)}"'),
        "process_cpu": (
            f"irate(process_cpu_seconds_total{fleet}[{duration(CPU_WINDOW_SECONDS)}])"
        ),
    }
    for name, q in QUANTILES.items():
        queries[name] = f"histogram_quantile({q}, sum by (le) ({scoped_buckets}))"
        queries[f"endpoint_{name}"] = (
            f"histogram_quantile({q}, sum by (method, endpoint, le) ({scoped_buckets}))"
        )
    return queries


def history_queries(scope: Scope) -> dict[str, str]:
    """Build the range queries that backfill the sparklines, keyed by `HISTORY_KEYS`."""
    window = duration(scope.window_seconds)
    scoped = _scoped(scope)
    errors = _scoped(scope, 'status=~"5.."')
    requests = f"sum(rate({REQUESTS}{scoped}[{window}]))"
    # With no 5xx series yet the numerator is empty, which would make the whole
    # ratio empty instead of 0; `or vector(0)` fills it in.
    error_sum = f"(sum(rate({REQUESTS}{errors}[{window}])) or vector(0))"
    return {
        "requests_per_second": requests,
        "error_ratio": f"{error_sum} / {requests}",
        "p95": (
            f"histogram_quantile(0.95, sum by (le) (rate({BUCKETS}{scoped}[{window}])))"
        ),
        "db_usage": (
            f"sum(haven_db_connections{scoped}) / sum(haven_db_pool_size{scoped})"
        ),
    }


def sample_value(raw: object) -> float | None:
    """Convert a sample value string to a float; NaN and unparsable become None."""
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def vector(result: Iterable[Mapping[str, Any]]) -> list[tuple[dict[str, str], float]]:
    """Parse an instant vector into (labels, value) pairs, dropping NaN samples."""
    samples = []
    for series in result:
        value = sample_value(series.get("value", (None, None))[1])
        if value is not None:
            samples.append((dict(series.get("metric", {})), value))
    return samples


def scalar_of(result: Iterable[Mapping[str, Any]]) -> float | None:
    """Return the value of a one-series instant vector, or None when it is empty."""
    samples = vector(result)
    return samples[0][1] if samples else None


def matrix_points(
    result: Sequence[Mapping[str, Any]], end: float, step: float, count: int
) -> tuple[float | None, ...]:
    """Lay a one-series range result onto the `count` steps that end at `end`.

    Steps where Prometheus returned no point, or NaN, become None (a gap).
    """
    points: list[float | None] = [None] * count
    if not result:
        return tuple(points)
    for stamp, raw in result[0].get("values", ()):
        index = count - 1 - round((end - float(stamp)) / step)
        if 0 <= index < count:
            points[index] = sample_value(raw)
    return tuple(points)


def status_class(status: str) -> str:
    """Map an HTTP status code such as "503" to its class "5xx"."""
    return f"{status[0]}xx" if status[:1].isdigit() else "other"


def sum_by(
    samples: Iterable[tuple[dict[str, str], float]], *labels: str
) -> dict[tuple[str, ...], float]:
    """Sum samples by the values of `labels` (missing labels count as "")."""
    sums: dict[tuple[str, ...], float] = {}
    for series_labels, value in samples:
        key = tuple(series_labels.get(label, "") for label in labels)
        sums[key] = sums.get(key, 0.0) + value
    return sums


def error_ratio(errors: float | None, total: float | None) -> float | None:
    """Divide 5xx by all requests per second; no traffic is no data (None)."""
    if errors is None or not total:
        return None
    return errors / total


@dataclass(frozen=True)
class InstanceReading:
    """One instance as Prometheus reports it, for the instances table."""

    instance: str
    up: bool | None
    scraped_at: float | None
    """Unix time of Prometheus's last scrape of the instance."""
    requests_per_second: float | None
    errors_per_second: float | None
    p95: float | None
    gauges: dict[str, float]
    """Latest value of each of `GAUGES` that the instance exports."""
    cpu_cores: float | None

    @property
    def error_ratio(self) -> float | None:
        return error_ratio(self.errors_per_second, self.requests_per_second)


@dataclass(frozen=True)
class ScopeReading:
    """The traffic, latency and endpoint figures of the fleet or one instance."""

    by_status: dict[str, float]
    """Requests per second keyed by status code."""
    endpoints: dict[tuple[str, str], dict[str, float | None]]
    """Figures of each (method, endpoint): "rps", "errors", "p50", "p95", "p99"."""
    quantiles: dict[str, float | None]
    """"p50", "p95" and "p99" in seconds."""


def read_instances(results: Mapping[str, list]) -> tuple[InstanceReading, ...]:
    """Combine the per-instance query results into one reading per instance."""
    up = {labels.get("instance", ""): v for labels, v in vector(results["up"])}
    up_time = {
        labels.get("instance", ""): v for labels, v in vector(results["up_time"])
    }
    rates = sum_by(vector(results["by_instance"]), "instance", "status")
    p95 = {
        labels.get("instance", ""): v for labels, v in vector(results["instance_p95"])
    }
    cpu = sum_by(vector(results["process_cpu"]), "instance")
    gauges = sum_by(vector(results["gauges"]), "instance", "__name__")
    readings = []
    for instance in sorted(up):
        own_rates = {s: v for (i, s), v in rates.items() if i == instance}
        readings.append(
            InstanceReading(
                instance=instance,
                up=up[instance] >= 1,
                scraped_at=up_time.get(instance),
                requests_per_second=sum(own_rates.values()) if own_rates else None,
                errors_per_second=_errors(own_rates) if own_rates else None,
                p95=p95.get(instance),
                gauges={n: v for (i, n), v in gauges.items() if i == instance},
                cpu_cores=cpu.get((instance,)),
            )
        )
    return tuple(readings)


def read_scope(results: Mapping[str, list]) -> ScopeReading:
    """Combine the scoped query results into traffic, latency and endpoint rows."""
    by_endpoint = sum_by(vector(results["by_endpoint"]), "method", "endpoint", "status")
    by_status: dict[str, float] = {}
    endpoints: dict[tuple[str, str], dict[str, float | None]] = {}
    for (method, endpoint, status), value in by_endpoint.items():
        by_status[status] = by_status.get(status, 0.0) + value
        row = endpoints.setdefault((method, endpoint), {"rps": 0.0, "errors": 0.0})
        row["rps"] = (row["rps"] or 0.0) + value
        if status_class(status) == "5xx":
            row["errors"] = (row["errors"] or 0.0) + value
    for name in QUANTILES:
        key = f"endpoint_{name}"
        for labels, value in vector(results[key]):
            route = (labels.get("method", ""), labels.get("endpoint", ""))
            endpoints.setdefault(route, {"rps": None, "errors": None})[name] = value
    quantiles = {name: scalar_of(results[name]) for name in QUANTILES}
    return ScopeReading(by_status=by_status, endpoints=endpoints, quantiles=quantiles)


def _errors(rates_by_status: Mapping[str, float]) -> float:
    return sum(v for s, v in rates_by_status.items() if status_class(s) == "5xx")
