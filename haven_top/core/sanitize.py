"""Make log text safe to put on a terminal.

Log lines come from services haven-top does not control. Any byte of them may
be an escape sequence that moves the cursor, sets the window title (OSC) or
writes to the clipboard, or a bracket that Rich or Textual would read as
markup. The functions here turn such text into plain, visible characters: a
caller then builds `rich.text.Text` from the result (never a markup string),
so brackets print as brackets.
"""

from __future__ import annotations

DISPLAY_LIMIT = 2_000
"""Characters of one line shown on screen; the store keeps the whole line."""


def _build_table(*, keep_newlines: bool) -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        # Caret notation, as `cat -v` and less show control characters: ESC is ^[.
        table[code] = "^" + chr(code + 0x40)
    table[0x7F] = "^?"
    for code in range(0x80, 0xA0):
        # C1 controls: 0x9B is a one-byte CSI and 0x9D a one-byte OSC.
        table[code] = f"\\x{code:02x}"
    # Bidirectional overrides and isolates can reorder what the operator reads.
    for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[code] = f"<U+{code:04X}>"
    table[0x09] = "    " if keep_newlines else " "
    if keep_newlines:
        del table[0x0A]
    else:
        table[0x0A] = "⏎"
    return table


_ONE_LINE = _build_table(keep_newlines=False)
_MULTI_LINE = _build_table(keep_newlines=True)


def decode(raw: bytes) -> str:
    """Decode log bytes as UTF-8, replacing invalid sequences with U+FFFD."""
    return raw.decode("utf-8", "replace")


def visible(text: str, *, multiline: bool = False) -> str:
    """Replace every control character in `text` with a visible form.

    ESC becomes `^[`, NUL `^@`, C1 controls `\\x9b`, and bidirectional
    overrides `<U+202E>`. Tabs become spaces. Newlines become `⏎` unless
    `multiline` is set, in which case they are kept.
    """
    return text.translate(_MULTI_LINE if multiline else _ONE_LINE)


def cut(text: str, limit: int = DISPLAY_LIMIT) -> str:
    """Shorten `text` to `limit` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit} chars)"


def display_line(raw: bytes | str, limit: int = DISPLAY_LIMIT) -> str:
    """Turn a raw log line into one safe line of about `limit` characters.

    The line is cut before anything else is done, so a 1 MB line costs no
    more than a short one.
    """
    if isinstance(raw, bytes):
        if len(raw) > limit * 4:
            head = decode(raw[:limit])
            return visible(head) + f"… ({len(raw)} bytes in all)"
        raw = decode(raw)
    return visible(cut(raw, limit))
