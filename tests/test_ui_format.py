"""The text forms of snapshot values: units, precision and unknown values."""

from __future__ import annotations

import pytest

from haven_top.core.snapshot import SystemStats
from haven_top.ui.widgets import format as fmt
from haven_top.ui.widgets.system import system_lines


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (0.004, "0.004"),
        (0.25, "0.25"),
        (9.876, "9.88"),
        (12.34, "12.3"),
        (1234.5, "1,234"),
        (-3.5, "-3.50"),
    ],
)
def test_number_precision(value: float, expected: str) -> None:
    assert fmt.number(value) == expected


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: fmt.rate(12.5), "12.5 req/s"),
        (lambda: fmt.rate(None), "no data"),
        (lambda: fmt.rate(None, "", fmt.DASH), "–"),
        (lambda: fmt.rate(3.0, ""), "3.00"),
        (lambda: fmt.millis(0.0123), "12.3 ms"),
        (lambda: fmt.millis(2.5), "2.50 s"),
        (lambda: fmt.millis(2.5, unit=False), "2,500"),
        (lambda: fmt.millis(12.0), "12.0 s"),
        (lambda: fmt.millis(0.0876, unit=False), "87.6"),
        (lambda: fmt.millis(None), "no data"),
        (lambda: fmt.percent(0.0506), "5.1%"),
        (lambda: fmt.percent(0.0004), "0.04%"),
        (lambda: fmt.percent(0.0), "0.0%"),
        (lambda: fmt.percent(1.0, sign=False), "100.0"),
        (lambda: fmt.percent(None), "no data"),
        (lambda: fmt.percent_value(23.5), "24%"),
        (lambda: fmt.percent_value(1.84), "1.8%"),
        (lambda: fmt.size(0.0), "0 B"),
        (lambda: fmt.size(1536.0), "1.50 KiB"),
        (lambda: fmt.size(123.5 * 1024**2), "124 MiB"),
        (lambda: fmt.size(3.25 * 1024**3), "3.25 GiB"),
        (lambda: fmt.size(None), "no data"),
        (lambda: fmt.byte_rate(300 * 1024), "300 KiB/s"),
        (lambda: fmt.age(0.44), "0.4s"),
        (lambda: fmt.age(42.0), "42s"),
        (lambda: fmt.age(185.0), "3m05s"),
        (lambda: fmt.age(3 * 3600 + 25 * 60), "3h25m"),
        (lambda: fmt.age(3 * 86400 + 3600), "3d01h"),
        (lambda: fmt.age(-1.0), "0.0s"),
        (lambda: fmt.age(None, "never"), "never"),
        (lambda: fmt.window(60), "1m"),
        (lambda: fmt.window(900), "15m"),
        (lambda: fmt.window(45), "45s"),
    ],
)
def test_formats_with_units(call: object, expected: str) -> None:
    assert call() == expected  # type: ignore[operator]


def test_nan_is_never_printed_for_known_values() -> None:
    texts = [fmt.rate(0.0), fmt.millis(0.0), fmt.percent(0.0), fmt.size(0.0)]
    assert not any("nan" in text.lower() for text in texts)


@pytest.mark.parametrize(
    ("ratio", "width", "expected"),
    [
        (0.0, 4, "░░░░"),
        (0.5, 4, "██░░"),
        (1.0, 4, "████"),
        (1.7, 4, "████"),
        (None, 4, "····"),
        (0.5, 0, ""),
    ],
)
def test_bar_fill(ratio: float | None, width: int, expected: str) -> None:
    assert fmt.bar(ratio, width) == expected


def test_sparkline_gap_and_zero() -> None:
    """A missing sample is a blank cell; a zero is the lowest bar."""
    assert fmt.sparkline((0.0, None, 8.0), 3) == ["▁ █"]


def test_sparkline_keeps_newest_values_right_aligned() -> None:
    assert fmt.sparkline((1.0, 2.0, 3.0, 4.0), 2) == ["▁█"]
    assert fmt.sparkline((1.0, 4.0), 3) == [" ▁█"]


def test_sparkline_scales_to_drawn_range() -> None:
    """Without a ceiling, changes of a series stay visible at any level."""
    assert fmt.sparkline((1000.0, 3000.0, 2000.0), 3) == ["▁█▄"]


def test_sparkline_small_changes_stay_small() -> None:
    """A 4% wobble is drawn near the top, not from the bottom to the top."""
    assert fmt.sparkline((100.0, 104.0, 102.0), 3) == ["▆█▇"]


def test_sparkline_flat_series() -> None:
    assert fmt.sparkline((4.0, 4.0), 2) == ["██"]
    assert fmt.sparkline((0.0, 0.0), 2) == ["▁▁"]


def test_sparkline_scales_to_ceiling() -> None:
    assert fmt.sparkline((50.0, 100.0), 2, ceiling=100.0) == ["▄█"]
    assert fmt.sparkline((0.0, 0.2), 2, ceiling=1.0) == ["▁▂"]


def test_sparkline_two_rows() -> None:
    assert fmt.sparkline((1.0, 2.0, None), 3, height=2) == [" █ ", "▁█ "]


def test_spark_range_skips_gaps() -> None:
    assert fmt.spark_range((None, 3.0, 1.0)) == (1.0, 3.0)
    assert fmt.spark_range((None,)) is None


def test_sparkline_all_unknown_is_blank() -> None:
    assert fmt.sparkline((None, None), 2) == ["  "]


@pytest.mark.parametrize(
    ("swap_total", "swap_line"),
    [(0.0, None), (None, "swap 0 B"), (2 * 2**30, "swap 0 B / 2.00 GiB")],
)
def test_system_swap_line_only_with_swap(
    swap_total: float | None, swap_line: str | None
) -> None:
    system = SystemStats(swap_used_bytes=0.0, swap_total_bytes=swap_total)
    lines = system_lines(system).plain.split("\n")
    swap_lines = [line for line in lines if line.startswith("swap")]
    assert swap_lines == ([swap_line] if swap_line else [])
    assert lines[-1].startswith("net")
