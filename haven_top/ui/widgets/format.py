"""Text forms of snapshot values, with units; None becomes "no data" or a dash.

Pure functions with no Textual import, so they are tested without a terminal.
"""

from __future__ import annotations

NO_DATA = "no data"
"""Shown for an unknown value where there is room for words."""
DASH = "–"
"""Shown for an unknown value in tight places such as table cells."""

SPARK_BARS = "▁▂▃▄▅▆▇█"
MIN_SPAN_SHARE = 0.2
"""Smallest height of a self-scaled sparkline's scale, as a share of its top."""
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def number(value: float) -> str:
    """Format a number with a precision that keeps about three significant digits."""
    magnitude = abs(value)
    if magnitude >= 100 or value == 0:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.01:
        return f"{value:.2f}"
    return f"{value:.3f}"


def rate(value: float | None, unit: str = "req/s", missing: str = NO_DATA) -> str:
    """Format a per-second rate such as "12.5 req/s"."""
    if value is None:
        return missing
    return f"{number(value)} {unit}".rstrip()


def millis(seconds: float | None, missing: str = NO_DATA, unit: bool = True) -> str:
    """Format a duration given in seconds as milliseconds, or seconds from 1 s up.

    Without `unit` (table cells under an "ms" header) it is always milliseconds.
    """
    if seconds is None:
        return missing
    if unit and seconds >= 1:
        return f"{number(seconds)} s"
    text = number(seconds * 1000)
    return f"{text} ms" if unit else text


def percent(ratio: float | None, missing: str = NO_DATA, sign: bool = True) -> str:
    """Format a ratio from 0.0 to 1.0 as a percentage."""
    if ratio is None:
        return missing
    value = ratio * 100
    text = f"{value:.2f}" if 0 < abs(value) < 1 else f"{value:.1f}"
    return f"{text}%" if sign else text


def percent_value(value: float | None, missing: str = NO_DATA) -> str:
    """Format a value that is already in percent (psutil's CPU and memory)."""
    if value is None:
        return missing
    return f"{value:.0f}%" if value >= 10 else f"{value:.1f}%"


def size(value: float | None, missing: str = NO_DATA) -> str:
    """Format a byte count with binary units (KiB, MiB, GiB)."""
    if value is None:
        return missing
    amount = float(value)
    for unit in _BYTE_UNITS:
        if abs(amount) < 1024 or unit == _BYTE_UNITS[-1]:
            break
        amount /= 1024
    if unit == "B":
        return f"{amount:.0f} B"
    return f"{number(amount)} {unit}"


def byte_rate(value: float | None, missing: str = NO_DATA) -> str:
    """Format bytes per second, such as "1.2 MiB/s"."""
    if value is None:
        return missing
    return f"{size(value)}/s"


def age(seconds: float | None, missing: str = NO_DATA) -> str:
    """Format how long ago something happened: "0.8s", "42s", "3m05s", "2h10m"."""
    if seconds is None:
        return missing
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24:02d}h"


def whole_age(seconds: float | None, missing: str = NO_DATA) -> str:
    """Format an age like `age` but in whole seconds, "<1s" below one second.

    For labels redrawn on every refresh: tenths of a second would change each
    time and repaint the label for no news.
    """
    if seconds is None:
        return missing
    if seconds < 1:
        return "<1s"
    if seconds < 10:
        return f"{int(seconds)}s"
    return age(seconds)


def window(seconds: float) -> str:
    """Format a window length such as "1m" or "15m"."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"


def bar(ratio: float | None, width: int) -> str:
    """Draw a usage bar of `width` cells; an unknown ratio draws an empty frame."""
    if width <= 0:
        return ""
    if ratio is None:
        return "·" * width
    filled = round(min(max(ratio, 0.0), 1.0) * width)
    return "█" * filled + "░" * (width - filled)


def sparkline(
    values: tuple[float | None, ...],
    width: int,
    ceiling: float | None = None,
    height: int = 1,
) -> list[str]:
    """Draw the newest `width` values as bars `height` rows tall, top row first.

    None is a blank gap, not a zero. With a `ceiling` (for fractions and
    percentages) bars scale from 0 to it. Without one they scale from the
    smallest to the largest value drawn, as sparklines usually do, so a steady
    series still shows its changes, and `spark_range` gives the scale. The
    scale spans at least `MIN_SPAN_SHARE` of the largest value, so that noise
    of a few percent is not drawn as a swing from the bottom to the top.
    """
    if width <= 0 or height <= 0:
        return [""] * max(height, 0)
    visible = values[-width:]
    low, high = 0.0, ceiling
    if ceiling is None:
        low, high = spark_range(visible) or (0.0, 0.0)
        low = min(low, high - MIN_SPAN_SHARE * abs(high))
    levels = [_spark_level(value, low, high, height) for value in visible]
    padding = " " * (width - len(levels))
    rows = []
    for row in range(height):
        floor = (height - 1 - row) * len(SPARK_BARS)
        cells = [_spark_cell(level, floor) for level in levels]
        rows.append(padding + "".join(cells))
    return rows


def spark_range(values: tuple[float | None, ...]) -> tuple[float, float] | None:
    """Return the smallest and largest known value, or None when all are unknown."""
    known = [value for value in values if value is not None]
    if not known:
        return None
    return min(known), max(known)


def _spark_level(
    value: float | None, low: float, high: float, height: int
) -> int | None:
    """Eighths of a cell filled, from 1 (the lowest still shows) to 8 * `height`."""
    if value is None:
        return None
    cells = len(SPARK_BARS) * height
    if high <= low:
        # Only an all-zero series scaled to itself has no span: the lowest bar.
        return 1
    fraction = min(max((value - low) / (high - low), 0.0), 1.0)
    return max(1, round(fraction * cells))


def _spark_cell(level: int | None, floor: int) -> str:
    if level is None or level <= floor:
        return " "
    return SPARK_BARS[min(level - floor, len(SPARK_BARS)) - 1]
