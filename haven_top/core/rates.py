"""Counter increases and rates over a window, with resets handled as Prometheus does.

A counter only goes up while its process lives. A value lower than the one
before is a reset (the process restarted and the counter began again at zero),
so the increase across the reset is the new value itself. Increases are
therefore never negative.

Rates are not extrapolated. `rate` divides the increase between the first and
the last sample in the window by the time between those two samples, which is
the exact average over the span the samples cover. Prometheus's `rate()` also
stretches that increase towards the window's edges. The two agree when the
samples cover the whole window. When they cover only part of it (a new target
or series), Prometheus's figure is lower, because it divides by nearly the
whole window.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

Point = tuple[float, float]
"""(Unix time in seconds, counter value)."""


def counter_delta(previous: float, current: float) -> float:
    """Return how much a counter grew from `previous` to `current`.

    A lower `current` is a reset, and the counter grew by `current` since then.
    """
    if current >= previous:
        return current - previous
    return current


def increase(points: Sequence[Point]) -> float | None:
    """Sum the growth of one counter over time-ordered points.

    Returns None with fewer than two usable points. NaN values are skipped.
    """
    total = 0.0
    previous: float | None = None
    used = 0
    for _, value in points:
        if math.isnan(value):
            continue
        if previous is not None:
            total += counter_delta(previous, value)
        previous = value
        used += 1
    if used < 2:
        return None
    return total


def rate(points: Sequence[Point]) -> float | None:
    """Return the per-second increase between the first and last usable point.

    Returns None with fewer than two usable points or when they share one time.
    """
    usable = [(at, value) for at, value in points if not math.isnan(value)]
    grown = increase(usable)
    if grown is None:
        return None
    span = usable[-1][0] - usable[0][0]
    if span <= 0:
        return None
    return grown / span


def in_window(points: Sequence[Point], start: float, end: float) -> Sequence[Point]:
    """Return the time-ordered points with `start <= time <= end`."""
    times = [at for at, _ in points]
    return points[bisect_left(times, start) : bisect_right(times, end)]
