"""Direct-mode alert rules: the Haven monitoring guide's two alerts, as intended.

The guide's `HighErrorRate` and `SlowResponse` rules are broken as written (one
compares 5xx requests per second with 0.05, the other is not valid PromQL). What
is evaluated here is their stated intent, over the whole fleet:

- HighErrorRate: the 5xx ratio over a 5-minute window is above 5% for 5 minutes.
- SlowResponse: p95 latency over a 5-minute window is above 1 s for 10 minutes.

Thresholds, windows and `for` durations come from the `[alerts]` table of the
config file. States follow Prometheus: a rule whose condition is true is pending
until the condition has been true for its `for` duration, and then firing. A
condition that turns false, or has no data, makes the rule inactive again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from haven_top.core.snapshot import Alert, Snapshot
from haven_top.core.state import LONGEST_WINDOW_SECONDS

if TYPE_CHECKING:
    from haven_top.core.state import MonitorState

logger = logging.getLogger(__name__)

INACTIVE = "inactive"
PENDING = "pending"
FIRING = "firing"

MEASURES = ("error_ratio", "p95")
"""Measures a rule can compare with its threshold: the 5xx ratio, or p95 in seconds."""


@dataclass(frozen=True)
class AlertRule:
    """One threshold rule over a fleet-wide measure."""

    name: str
    measure: str
    """One of `MEASURES`."""
    threshold: float
    """The condition is true while the measure is strictly above this."""
    for_seconds: float
    """Seconds the condition must stay true before the alert fires (0: at once)."""
    window_seconds: float
    """The window the measure is computed over, like `[5m]` in a PromQL rate."""
    severity: str
    enabled: bool = True


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule("HighErrorRate", "error_ratio", 0.05, 300.0, 300.0, "critical"),
    AlertRule("SlowResponse", "p95", 1.0, 600.0, 300.0, "warning"),
)

CONFIG_KEYS = {"high_error_rate": "HighErrorRate", "slow_response": "SlowResponse"}
"""Sub-tables of `[alerts]` and the rules they configure."""

RULE_KEYS = ("threshold", "for", "window", "severity", "enabled")

MAX_WINDOW_SECONDS = LONGEST_WINDOW_SECONDS
"""Longest rule window: direct mode keeps no older scrapes than this."""

_DURATION = re.compile(
    r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$"
)


class AlertConfigError(ValueError):
    """An invalid `[alerts]` table. The message names the key and the fix."""


def parse_duration(value: object, *, key: str) -> float:
    """Convert seconds (a number) or a string like "90s", "5m" or "1h30m" to seconds."""
    if isinstance(value, bool):
        raise AlertConfigError(_duration_message(key, value))
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value.strip())):
        if not any(match.groups()):
            raise AlertConfigError(_duration_message(key, value))
        hours, minutes, secs = (float(part or 0) for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        raise AlertConfigError(_duration_message(key, value))
    if seconds < 0:
        raise AlertConfigError(_duration_message(key, value))
    return seconds


def _duration_message(key: str, value: object) -> str:
    return (
        f"invalid alerts.{key}: {value!r} is not a duration; "
        'use seconds (300) or a string such as "5m" or "90s"'
    )


def rules_from_config(table: Mapping[str, Any] | None) -> tuple[AlertRule, ...]:
    """Build the rules from the config file's `[alerts]` table (None: defaults).

    Raises `AlertConfigError` on an unknown key or a value of the wrong type.
    """
    table = table or {}
    for key in table:
        if key not in CONFIG_KEYS:
            raise AlertConfigError(
                f"unknown key alerts.{key}; expected one of "
                + ", ".join(f"alerts.{name}" for name in CONFIG_KEYS)
            )
    by_name = {rule.name: rule for rule in DEFAULT_RULES}
    rules = []
    for key, name in CONFIG_KEYS.items():
        section = table.get(key, {})
        if not isinstance(section, Mapping):
            raise AlertConfigError(
                f"invalid alerts.{key}: expected a table such as "
                f"[alerts.{key}] with threshold, for and window"
            )
        rules.append(_apply_section(by_name[name], key, section))
    return tuple(rules)


def _apply_section(rule: AlertRule, key: str, section: Mapping[str, Any]) -> AlertRule:
    for field_name in section:
        if field_name not in RULE_KEYS:
            raise AlertConfigError(
                f"unknown key alerts.{key}.{field_name}; expected one of "
                + ", ".join(RULE_KEYS)
            )
    changes: dict[str, Any] = {}
    if "threshold" in section:
        changes["threshold"] = _parse_threshold(
            section["threshold"], f"{key}.threshold"
        )
    if "for" in section:
        changes["for_seconds"] = parse_duration(section["for"], key=f"{key}.for")
    if "window" in section:
        window = parse_duration(section["window"], key=f"{key}.window")
        if not 0 < window <= MAX_WINDOW_SECONDS:
            raise AlertConfigError(
                f"invalid alerts.{key}.window: {section['window']!r}; use a "
                f"window above 0 and at most {format_duration(MAX_WINDOW_SECONDS)}"
            )
        changes["window_seconds"] = window
    if "severity" in section:
        changes["severity"] = str(section["severity"])
    if "enabled" in section:
        if not isinstance(section["enabled"], bool):
            raise AlertConfigError(
                f"invalid alerts.{key}.enabled: {section['enabled']!r}; "
                "use true or false"
            )
        changes["enabled"] = section["enabled"]
    return replace(rule, **changes)


def _parse_threshold(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise AlertConfigError(
            f"invalid alerts.{key}: {value!r}; use a number of at least 0 "
            "(a ratio such as 0.05 for errors, seconds for p95)"
        )
    return float(value)


Measure = Callable[[AlertRule], "float | None"]
"""Returns a rule's measure over its window now, or None when there is no data."""


@dataclass
class _RuleState:
    state: str = INACTIVE
    since: float | None = None
    active_at: float | None = None
    value: float | None = None


class AlertEvaluator:
    """Tracks each rule's state across evaluations, as a Prometheus rule group does.

    Call `evaluate` at least once per collection round with the current time.
    State changes happen at evaluation times, so their precision is the time
    between two evaluations.
    Not thread-safe.
    """

    def __init__(self, rules: Sequence[AlertRule] = DEFAULT_RULES) -> None:
        self._rules = tuple(rule for rule in rules if rule.enabled)
        for rule in self._rules:
            if rule.measure not in MEASURES:
                raise ValueError(f"unknown measure {rule.measure!r} in {rule.name}")
        self._states = {rule.name: _RuleState() for rule in self._rules}

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        return self._rules

    @property
    def windows(self) -> tuple[float, ...]:
        """The distinct windows the rules need measures over, sorted."""
        return tuple(sorted({rule.window_seconds for rule in self._rules}))

    def evaluate(self, now: float, measure: Measure) -> tuple[Alert, ...]:
        """Evaluate every rule at Unix time `now` and return all their alerts."""
        for rule in self._rules:
            state = self._states[rule.name]
            before = state.state
            self._step(rule, state, measure(rule), now)
            if state.state != before:
                logger.info(
                    "alert %s is %s (was %s), value %s",
                    rule.name,
                    state.state,
                    before,
                    state.value,
                )
        return self.alerts()

    def alerts(self) -> tuple[Alert, ...]:
        """Return every rule's alert as of the last evaluation, inactive ones too."""
        return tuple(self._alert(rule) for rule in self._rules)

    def _step(
        self, rule: AlertRule, state: _RuleState, value: float | None, now: float
    ) -> None:
        state.value = value
        holds = value is not None and value > rule.threshold
        if not holds:
            if state.state != INACTIVE:
                state.state, state.since, state.active_at = INACTIVE, now, None
            return
        if state.state == INACTIVE:
            state.state, state.since, state.active_at = PENDING, now, now
        if state.state == PENDING and now - state.active_at >= rule.for_seconds:
            state.state, state.since = FIRING, now

    def _alert(self, rule: AlertRule) -> Alert:
        state = self._states[rule.name]
        labels = {
            "severity": rule.severity,
            "for": format_duration(rule.for_seconds),
            "window": format_duration(rule.window_seconds),
        }
        return Alert(
            name=rule.name,
            state=state.state,
            since=state.since,
            value=state.value,
            summary=describe_rule(rule),
            labels=labels,
        )


def describe_rule(rule: AlertRule) -> str:
    """Describe the rule in one line, e.g. "5xx ratio over 5m above 5% for 5m"."""
    duration = format_duration(rule.for_seconds)
    window = format_duration(rule.window_seconds)
    if rule.measure == "error_ratio":
        limit = f"{rule.threshold * 100:g}%"
        return f"5xx ratio over {window} above {limit} for {duration}"
    return f"p95 latency over {window} above {rule.threshold:g} s for {duration}"


def format_duration(seconds: float) -> str:
    """Write seconds the way Prometheus writes a duration: "90s" as "1m30s"."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    parts.append(f"{secs}s" if secs or whole == 0 else "")
    return "".join(parts)


def measure_from_snapshots(build: Callable[[float], Snapshot]) -> Measure:
    """Measure rules from snapshots that `build(window_seconds)` returns.

    Each distinct window is built once per returned measure, so create a new
    measure for every evaluation round.
    """
    built: dict[float, Snapshot] = {}

    def measure(rule: AlertRule) -> float | None:
        if rule.window_seconds not in built:
            built[rule.window_seconds] = build(rule.window_seconds)
        snapshot = built[rule.window_seconds]
        if rule.measure == "error_ratio":
            return snapshot.traffic.error_ratio
        return snapshot.latency_seconds.p95

    return measure


def measure_from_state(state: MonitorState, now: float) -> Measure:
    """Measure rules from the whole fleet's figures in `state` at Unix time `now`.

    Unlike `MonitorState.snapshot`, this leaves the sparklines alone.
    """

    def measure(rule: AlertRule) -> float | None:
        traffic, latency = state.fleet_figures(now, rule.window_seconds)
        if rule.measure == "error_ratio":
            return traffic.error_ratio
        return latency.p95

    return measure
