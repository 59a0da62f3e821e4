"""Cheap updates of text widgets that are re-rendered on every refresh."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


def set_text(static: Static, content: Content | str) -> None:
    """Show `content` in `static`, skipping the repaint when nothing changed.

    A new layout pass over the screen is requested only when a line changed
    length, since most refreshes only swap digits within the same width.
    """
    new = content if isinstance(content, Content) else Content(content)
    old = static.content
    if isinstance(old, Content):
        if old.is_same(new):
            return
        static.update(new, layout=_line_widths(old) != _line_widths(new))
        return
    static.update(new)


def _line_widths(content: Content) -> list[int]:
    return [len(line) for line in content.plain.split("\n")]
