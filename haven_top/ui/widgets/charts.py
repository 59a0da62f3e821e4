"""Small charts drawn in text: history sparklines and usage bars."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Label

from haven_top.ui.widgets import format as fmt

RANGE_WIDTH = 12
"""Cells kept right of a self-scaled spark for its "low–high" range."""


class Spark(Widget):
    """The newest values of a series, one cell per refresh, newest on the right.

    Textual's `Sparkline` resamples the whole series to the widget width and has
    no notion of a missing sample, so a gap would be drawn as a zero. Without a
    `ceiling`, bars scale to the values drawn and the range is written after
    them with `scale_format`, so that a flat-looking chart is read correctly.
    """

    def __init__(
        self,
        *,
        ceiling: float | None = None,
        scale_format: Callable[[float], str] = fmt.number,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.ceiling = ceiling
        self.scale_format = scale_format
        self.values: tuple[float | None, ...] = ()

    def show(self, values: tuple[float | None, ...]) -> None:
        """Draw `values` (oldest first) from the next repaint."""
        if values != self.values:
            self.values = values
            self.refresh()

    def render(self) -> RenderResult:
        width, height = self.size
        if self.ceiling is not None:
            return "\n".join(fmt.sparkline(self.values, width, self.ceiling, height))
        bars_width = max(width - RANGE_WIDTH, 0)
        rows = fmt.sparkline(self.values, bars_width, None, height)
        label = self.range_label(self.values[-bars_width:] if bars_width else ())
        rows[-1] += label.rjust(width - bars_width)
        return "\n".join(rows)

    def range_label(self, values: tuple[float | None, ...]) -> str:
        """Return "low–high" of `values`, or "" when none is known."""
        bounds = fmt.spark_range(values)
        if bounds is None:
            return ""
        low, high = bounds
        return f"{self.scale_format(low)}–{self.scale_format(high)}"


class LabelledSpark(Horizontal):
    """A `Spark` with a short name in front, such as "p95"."""

    def __init__(
        self,
        label: str,
        *,
        ceiling: float | None = None,
        scale_format: Callable[[float], str] = fmt.number,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.label = label
        self.ceiling = ceiling
        self.scale_format = scale_format

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="spark-label")
        yield Spark(ceiling=self.ceiling, scale_format=self.scale_format)

    def show(self, values: tuple[float | None, ...]) -> None:
        """Draw `values` (oldest first) from the next repaint."""
        self.query_one(Spark).show(values)


class UsageBar(Widget):
    """A horizontal bar filled to a fraction, followed by that fraction in percent."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.ratio: float | None = None
        self.style_name = ""

    def show(self, ratio: float | None, style: str = "") -> None:
        """Fill the bar to `ratio` (0.0 to 1.0) in `style`, from the next repaint."""
        if (ratio, style) != (self.ratio, self.style_name):
            self.ratio = ratio
            self.style_name = style
            self.refresh()

    def render(self) -> RenderResult:
        label = " " + fmt.percent(self.ratio, fmt.DASH)
        bar = fmt.bar(self.ratio, self.size.width - len(label))
        return Content.assemble((bar, self.style_name), label)
