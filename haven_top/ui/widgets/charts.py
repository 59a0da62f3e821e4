"""Small charts drawn in text: history sparklines and usage bars."""

from __future__ import annotations

from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Label

from haven_top.ui.widgets import format as fmt


class Spark(Widget):
    """The newest values of a series, one cell per refresh, newest on the right.

    Textual's `Sparkline` resamples the whole series to the widget width and has
    no notion of a missing sample, so a gap would be drawn as a zero.
    """

    def __init__(
        self,
        *,
        ceiling: float | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.ceiling = ceiling
        self.values: tuple[float | None, ...] = ()

    def show(self, values: tuple[float | None, ...]) -> None:
        """Draw `values` (oldest first) from the next repaint."""
        if values != self.values:
            self.values = values
            self.refresh()

    def render(self) -> RenderResult:
        width, height = self.size
        return "\n".join(fmt.sparkline(self.values, width, self.ceiling, height))


class LabelledSpark(Horizontal):
    """A `Spark` with a short name in front, such as "p95"."""

    def __init__(
        self,
        label: str,
        *,
        ceiling: float | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.label = label
        self.ceiling = ceiling

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="spark-label")
        yield Spark(ceiling=self.ceiling)

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
