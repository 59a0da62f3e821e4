"""The bordered box every dashboard pane is drawn in."""

from __future__ import annotations

from textual.containers import Vertical

from haven_top.core.snapshot import Snapshot
from haven_top.ui.widgets import format as fmt

STALE_AFTER_SECONDS = 5.0
"""Default age after which a pane's data is marked stale in its border."""


class Pane(Vertical):
    """A titled box that renders one part of a `Snapshot`.

    Subclasses compose their content and implement `show`; the screen calls
    `show` on every pane with each new snapshot.
    """

    TITLE = ""

    stale_after = STALE_AFTER_SECONDS
    """Seconds after which the data is marked stale; the screen sets it from the
    refresh interval."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = self.TITLE

    def show(self, snapshot: Snapshot) -> None:
        """Render the parts of `snapshot` this pane is about."""
        raise NotImplementedError

    def show_age(self, seconds: float | None) -> None:
        """Put the age of the pane's data in its bottom border; mark it when stale."""
        stale = seconds is None or seconds > self.stale_after
        self.set_class(stale, "-stale")
        if seconds is None:
            subtitle = fmt.NO_DATA
        elif stale:
            subtitle = f"STALE {fmt.whole_age(seconds)} ago"
        else:
            subtitle = f"{fmt.whole_age(seconds)} ago"
        # Assigning a border text repaints the pane even when it is unchanged.
        if subtitle != self.border_subtitle:
            self.border_subtitle = subtitle

    def missing_reason(self, age: float | None, default: str) -> str:
        """Say why a value of this pane is missing, given its data's `age`."""
        if age is None:
            return "no metrics yet"
        if age > self.stale_after:
            return "metrics stale"
        return default

    def show_title(self, title: str) -> None:
        """Set the border title, repainting only when it changed."""
        if title != self.border_title:
            self.border_title = title
