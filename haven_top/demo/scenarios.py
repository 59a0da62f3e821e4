"""Scenarios: timed phases that inject faults into the running demo service.

`steady` keeps a healthy service with a trickle of slow and failed requests.
`incident` runs a baseline, then an error burst, a latency spike, pool
saturation and readiness flapping one after another, then a recovery, and
loops from the error burst.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("haven.scenario")

SCENARIO_NAMES = ("steady", "incident", "none")


@dataclass
class Faults:
    """Faults in force right now, read by the request handlers."""

    error_rate: float = 0.0
    slow_fraction: float = 0.0
    slow_seconds: tuple[float, float] = (0.0, 0.0)
    hold_seconds: tuple[float, float] = (0.0, 0.0)
    database_down: bool = False
    base_latency: tuple[float, float] = (0.001, 0.015)

    def clear(self) -> None:
        """Reset every fault to the healthy state."""
        healthy = Faults()
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(healthy, name))


@dataclass(frozen=True)
class Phase:
    """One stretch of a scenario: its name and the faults it sets."""

    name: str
    apply: Callable[[Faults], None] = field(default=lambda faults: None)
    flapping: bool = False


def _steady(faults: Faults) -> None:
    faults.error_rate = 0.002
    faults.slow_fraction = 0.01
    faults.slow_seconds = (0.15, 0.5)


def _error_burst(faults: Faults) -> None:
    faults.error_rate = 0.25


def _latency_spike(faults: Faults) -> None:
    # 40% of requests wait 1-2.5 s, so p95 lands well above 1 s.
    faults.slow_fraction = 0.4
    faults.slow_seconds = (1.0, 2.5)


def _pool_saturation(faults: Faults) -> None:
    # Every query keeps its connection for about 1 s. At 20 req/s that needs
    # about 20 connections, twice the pool, so checkouts time out with 503s.
    faults.hold_seconds = (0.6, 1.4)


SCENARIOS: dict[str, tuple[Phase, ...]] = {
    "steady": (Phase("steady", _steady),),
    "incident": (
        Phase("baseline", _steady),
        Phase("error_burst", _error_burst),
        Phase("latency_spike", _latency_spike),
        Phase("pool_saturation", _pool_saturation),
        Phase("readiness_flapping", flapping=True),
        Phase("recovery", _steady),
    ),
    "none": (),
}


class ScenarioRunner:
    """Walks a scenario's phases, changing `faults` at each boundary."""

    def __init__(self, name: str, faults: Faults, *, phase_seconds: float) -> None:
        if name not in SCENARIOS:
            known = ", ".join(SCENARIO_NAMES)
            raise ValueError(f"unknown scenario {name!r}, choose one of {known}")
        if phase_seconds <= 0:
            raise ValueError(f"phase length must be positive, got {phase_seconds}")
        self.name = name
        self.faults = faults
        self.phase_seconds = phase_seconds
        self.phase = "none"
        self.cycle = 0

    async def run(self) -> None:
        """Apply phases until cancelled. A one-phase scenario stays in its phase."""
        phases = SCENARIOS[self.name]
        if not phases:
            return
        if len(phases) == 1:
            self._enter(phases[0])
            await asyncio.Event().wait()
        self._enter(phases[0])
        await asyncio.sleep(self.phase_seconds)
        while True:
            self.cycle += 1
            for phase in phases[1:]:
                self._enter(phase)
                if phase.flapping:
                    await self._flap()
                else:
                    await asyncio.sleep(self.phase_seconds)

    def _enter(self, phase: Phase) -> None:
        self.faults.clear()
        phase.apply(self.faults)
        self.phase = phase.name
        fields = {"scenario": self.name, "phase": phase.name, "cycle": self.cycle}
        log.warning("Scenario phase started: %s", phase.name, extra={"fields": fields})

    async def _flap(self) -> None:
        # Six flips per phase, but never faster than every half second.
        interval = max(self.phase_seconds / 6, 0.5)
        deadline = asyncio.get_running_loop().time() + self.phase_seconds
        while asyncio.get_running_loop().time() < deadline:
            self.faults.database_down = not self.faults.database_down
            state = "down" if self.faults.database_down else "up"
            log.warning(
                "Database connectivity %s", state, extra={"fields": {"db": state}}
            )
            await asyncio.sleep(interval)
        self.faults.database_down = False
