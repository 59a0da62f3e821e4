"""histogram_quantile: interpolation, edge buckets and repaired counts."""

from __future__ import annotations

import math

import pytest

from haven_top.core.quantile import (
    histogram_quantile,
    histogram_quantiles,
    parse_le,
)

INF = math.inf
BASIC = [(0.1, 10.0), (0.5, 20.0), (1.0, 30.0), (INF, 40.0)]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.0, 0.0),
        (0.125, 0.05),
        (0.25, 0.1),
        (0.5, 0.5),
        (0.625, 0.75),
        (0.75, 1.0),
        (0.9, 1.0),
        (1.0, 1.0),
        (-0.1, -INF),
        (1.1, INF),
    ],
)
def test_quantile_basic_histogram(q: float, expected: float) -> None:
    assert histogram_quantile(q, BASIC) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("case", "q", "buckets", "expected"),
    [
        ("unsorted input", 0.625, list(reversed(BASIC)), 0.75),
        ("missing +Inf bucket", 0.5, BASIC[:-1], None),
        ("only +Inf bucket", 0.5, [(INF, 10.0)], None),
        ("no buckets", 0.5, [], None),
        ("zero observations", 0.5, [(0.1, 0.0), (1.0, 0.0), (INF, 0.0)], None),
        ("NaN q", math.nan, BASIC, None),
        ("in +Inf bucket", 0.99, [(0.1, 1.0), (0.2, 2.0), (INF, 100.0)], 0.2),
        ("lowest bound zero", 0.25, [(0.0, 5.0), (1.0, 10.0), (INF, 10.0)], 0.0),
        ("lowest bound negative", 0.25, [(-1.0, 10.0), (1.0, 20.0), (INF, 20.0)], -1),
        ("above negative bucket", 0.75, [(-1.0, 10.0), (1.0, 20.0), (INF, 20.0)], 0),
        ("q zero, empty first", 0.0, [(0.1, 0.0), (1.0, 4.0), (INF, 4.0)], None),
        (
            "duplicate bounds add",
            0.5,
            [(0.1, 5.0), (0.1, 5.0), (1.0, 20.0), (INF, 20.0)],
            0.1,
        ),
        (
            "decreasing count raised",
            0.5,
            [(0.1, 10.0), (0.5, 8.0), (1.0, 30.0), (INF, 40.0)],
            0.75,
        ),
        (
            "decreasing count, low q",
            0.25,
            [(0.1, 10.0), (0.5, 8.0), (1.0, 30.0), (INF, 40.0)],
            0.1,
        ),
        ("NaN count skipped", 0.5, [*BASIC, (2.0, math.nan)], 0.5),
        ("one finite bucket", 0.5, [(2.0, 10.0), (INF, 10.0)], 1.0),
    ],
)
def test_quantile_edge_cases(
    case: str, q: float, buckets: list[tuple[float, float]], expected: float | None
) -> None:
    result = histogram_quantile(q, buckets)

    if expected is None:
        assert result is None, case
    else:
        assert result == pytest.approx(expected), case


def test_quantile_flattens_float_noise() -> None:
    # 100 + 1e-11 differs from 100 by 1e-13 relative, below the 1e-12 tolerance,
    # so the second bucket counts as holding no observations.
    buckets = [(0.1, 100.0), (0.2, 100.0 + 1e-11), (0.3, 100.0), (INF, 200.0)]
    q = 100.000000000005 / 200.0

    assert histogram_quantile(q, buckets) == pytest.approx(0.3)


def test_quantiles_share_preparation() -> None:
    p50, p95, p99 = histogram_quantiles((0.5, 0.95, 0.99), BASIC)

    assert p50 == pytest.approx(0.5)
    assert p95 == pytest.approx(1.0)
    assert p99 == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.005", 0.005),
        ("1", 1.0),
        ("1.0", 1.0),
        ("+Inf", INF),
        ("Inf", INF),
        ("-1", -1.0),
        ("NaN", None),
        ("", None),
        ("fast", None),
    ],
)
def test_parse_le_values(text: str, expected: float | None) -> None:
    assert parse_le(text) == expected
