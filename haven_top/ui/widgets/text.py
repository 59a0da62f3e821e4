"""Cheap updates of text widgets that are re-rendered on every refresh."""

from __future__ import annotations

from rich.cells import cell_len
from textual.content import Content
from textual.widgets import Static


def set_text(static: Static, content: Content | str) -> None:
    """Show `content` in `static`, skipping the repaint when nothing changed.

    A layout pass over the whole screen costs far more than a repaint. It is
    requested only when the new text can change the widget's size, which
    takes a new line count, a line that may wrap, or an auto width.
    """
    new = content if isinstance(content, Content) else Content(content)
    old = static.content
    if isinstance(old, Content):
        if old.is_same(new):
            return
        static.update(new, layout=needs_layout(static, old, new))
        return
    static.update(new)


def needs_layout(static: Static, old: Content, new: Content) -> bool:
    """Tell whether replacing `old` by `new` can change the size of `static`."""
    width = static.styles.width
    if width is not None and width.is_auto:
        return True
    old_lines = old.plain.split("\n")
    new_lines = new.plain.split("\n")
    if len(old_lines) != len(new_lines):
        return True
    room = static.content_region.width
    if room <= 0:
        # Hidden (its region is empty): showing it again lays the screen out.
        return False
    # A line as wide as the content area may wrap, adding rows to the height.
    widest = max(cell_len(line) for line in old_lines + new_lines)
    return widest >= room
