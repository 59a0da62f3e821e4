"""Counter increases and rates: resets, gaps and short windows."""

from __future__ import annotations

import math

import pytest

from haven_top.core.rates import counter_delta, in_window, increase, rate

NAN = math.nan


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (5.0, 9.0, 4.0),
        (5.0, 5.0, 0.0),
        (9.0, 4.0, 4.0),
        (9.0, 0.0, 0.0),
        (0.0, 0.0, 0.0),
    ],
)
def test_counter_delta_cases(previous: float, current: float, expected: float) -> None:
    assert counter_delta(previous, current) == expected


@pytest.mark.parametrize(
    ("case", "points", "expected_increase", "expected_rate"),
    [
        ("empty window", [], None, None),
        ("one sample", [(0.0, 5.0)], None, None),
        ("flat counter", [(0.0, 5.0), (10.0, 5.0)], 0.0, 0.0),
        ("steady growth", [(0.0, 1.0), (10.0, 5.0), (20.0, 9.0)], 8.0, 0.4),
        (
            "reset mid-window",
            [(0.0, 10.0), (10.0, 15.0), (20.0, 3.0), (30.0, 6.0)],
            11.0,
            11.0 / 30.0,
        ),
        ("reset to zero", [(0.0, 10.0), (10.0, 0.0)], 0.0, 0.0),
        ("two resets", [(0.0, 8.0), (1.0, 2.0), (2.0, 1.0), (3.0, 4.0)], 6.0, 2.0),
        ("NaN skipped", [(0.0, 1.0), (10.0, NAN), (20.0, 5.0)], 4.0, 0.2),
        ("only one usable", [(0.0, NAN), (10.0, 5.0)], None, None),
        ("same timestamp", [(5.0, 1.0), (5.0, 2.0)], 1.0, None),
    ],
)
def test_increase_and_rate(
    case: str,
    points: list[tuple[float, float]],
    expected_increase: float | None,
    expected_rate: float | None,
) -> None:
    grown = increase(points)
    per_second = rate(points)

    if expected_increase is None:
        assert grown is None, case
    else:
        assert grown == pytest.approx(expected_increase), case
        assert grown >= 0, case
    if expected_rate is None:
        assert per_second is None, case
    else:
        assert per_second == pytest.approx(expected_rate), case


@pytest.mark.parametrize(
    ("start", "end", "expected_times"),
    [
        (0.0, 100.0, [10.0, 20.0, 30.0]),
        (15.0, 100.0, [20.0, 30.0]),
        (20.0, 30.0, [20.0, 30.0]),
        (31.0, 40.0, []),
        (0.0, 5.0, []),
    ],
)
def test_in_window_bounds(
    start: float, end: float, expected_times: list[float]
) -> None:
    points = [(10.0, 1.0), (20.0, 2.0), (30.0, 3.0)]

    assert [at for at, _ in in_window(points, start, end)] == expected_times
