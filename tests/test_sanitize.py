"""Log text is made safe for the terminal: no escapes, no markup, bounded width."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from haven_top.core.sanitize import cut, display_line, visible


def rendered(text: str) -> str:
    console = Console(width=400, color_system="truecolor", force_terminal=True)
    with console.capture() as capture:
        console.print(Text(text), end="")
    return capture.get()


def test_escape_codes_made_visible() -> None:
    line = "red \x1b[31mtext\x1b[0m title \x1b]0;pwned\x07 nul \x00 del \x7f"
    shown = visible(line)
    assert "\x1b" not in shown
    assert "\x07" not in shown
    assert "\x00" not in shown
    assert shown == "red ^[[31mtext^[[0m title ^[]0;pwned^G nul ^@ del ^?"


def test_c1_and_bidi_controls_made_visible() -> None:
    assert visible("a\x9b31mb") == "a\\x9b31mb"
    assert visible("a\u202eb") == "a<U+202E>b"


def test_newlines_and_tabs() -> None:
    assert visible("a\nb\tc") == "a⏎b c"
    assert visible("a\nb\tc", multiline=True) == "a\nb    c"
    assert visible("a\r\nb", multiline=True) == "a^M\nb"


def test_markup_prints_as_brackets() -> None:
    for text in ("[bold]x[/bold]", "[link=https://evil.example]y[/link]", "z [/]"):
        out = rendered(visible(text))
        assert text in out


def test_osc_8_link_never_reaches_output() -> None:
    out = rendered(visible("\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"))
    assert "\x1b]8" not in out
    assert "^[]8;;https://evil.example" in out


def test_long_line_cut_for_display() -> None:
    line = b"y" * 1_000_000
    shown = display_line(line, limit=100)
    assert shown.startswith("y" * 100)
    assert shown.endswith("(1000000 bytes in all)")
    assert len(shown) < 200


def test_cut_says_how_much() -> None:
    assert cut("abcdef", 3) == "abc… (+3 chars)"
    assert cut("abc", 3) == "abc"


def test_invalid_utf8_replaced() -> None:
    assert display_line(b"ok \xff\xfe end") == "ok \ufffd\ufffd end"
