"""Direct-mode alerts driven by the demo's incident scenario, end to end.

The rules get windows and `for` durations of seconds through the same `[alerts]`
table a config file holds, so a whole pending-firing-inactive cycle fits in a
few seconds of the scenario's error burst.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from haven_top.cli import main
from haven_top.core.alerts import rules_from_config
from haven_top.core.snapshot import Alert
from haven_top.demo.launcher import DemoProcess
from haven_top.sources.collector import Collector

PHASE_SECONDS = 3.0
FAST_RULES = {
    "high_error_rate": {"threshold": 0.05, "window": "2s", "for": "1s"},
    "slow_response": {"enabled": False},
}


async def test_incident_drives_error_alert_through_states(
    start_demo: Callable[..., DemoProcess],
) -> None:
    demo = start_demo(scenario="incident", seed=5, phase_seconds=PHASE_SECONDS)
    collector = Collector(
        [demo.url], interval=0.5, alert_rules=rules_from_config(FAST_RULES)
    )
    seen: list[Alert] = []
    await collector.start()
    try:
        # Baseline, error burst, then the latency spike with no injected errors.
        deadline = time.monotonic() + 6 * PHASE_SECONDS
        while time.monotonic() < deadline:
            (alert,) = collector.snapshot(window_seconds=60).alerts
            if not seen or alert.state != seen[-1].state:
                seen.append(alert)
            if [a.state for a in seen][-3:] == ["pending", "firing", "inactive"]:
                break
            await asyncio.sleep(0.1)
    finally:
        await collector.stop()
    states = [alert.state for alert in seen]
    assert states[-3:] == ["pending", "firing", "inactive"], states
    pending, firing, resolved = seen[-3:]
    assert pending.name == "HighErrorRate"
    assert pending.since is not None
    assert firing.since is not None
    assert resolved.since is not None
    assert firing.since - pending.since >= 1.0
    assert resolved.since > firing.since
    assert firing.value > 0.05
    assert firing.labels["for"] == "1s"
    assert "5xx ratio over 2s above 5%" in firing.summary


def test_once_exits_1_while_alert_fires(
    demo: DemoProcess,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # p95 is above 0 s whenever there is traffic, so with `for = 0` this rule
    # fires on the first evaluation that has data.
    config = tmp_path / "config.toml"
    config.write_text('[alerts.slow_response]\nthreshold = 0\nfor = 0\nwindow = "5s"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    status = main(["--once", "--format", "json", "--config", str(config), demo.url])
    document = orjson.loads(capsys.readouterr().out)
    alerts = {alert["name"]: alert for alert in document["alerts"]}
    assert status == 1
    assert alerts["SlowResponse"]["state"] == "firing"
    assert alerts["SlowResponse"]["since"] is not None
    assert alerts["HighErrorRate"]["state"] in ("inactive", "pending")
    assert all(target["ready"] for target in document["targets"])
