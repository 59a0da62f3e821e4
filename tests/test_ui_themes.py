"""Theme files: the bundled ones, user ones, bad ones, and the colourless mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_ui_fakes import FakeProvider
from textual.filter import Monochrome, NoColor

from haven_top.ui import themes
from haven_top.ui.app import make_app


def test_bundled_themes_cover_dark_light_and_terminal() -> None:
    loaded = {theme.name: theme for theme in themes.bundled_themes()}
    assert set(loaded) >= {"haven-dark", "haven-light", "haven-terminal"}
    assert loaded["haven-dark"].dark
    assert not loaded["haven-light"].dark
    assert loaded["haven-terminal"].ansi
    assert loaded["haven-terminal"].background == "ansi_default"


def test_theme_file_fields_and_variables(tmp_path: Path) -> None:
    path = tmp_path / "night.toml"
    path.write_text(
        'name = "night"\nprimary = "#112233"\ndark = true\n'
        'luminosity_spread = 0.2\n[variables]\nborder = "#445566"\n'
    )
    theme = themes.load_theme(path)
    assert theme.name == "night"
    assert theme.primary == "#112233"
    assert theme.luminosity_spread == 0.2
    assert theme.variables == {"border": "#445566"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('primary = "#112233"', "missing key 'name'"),
        ('name = "x"', "missing key 'primary'"),
        ('name = "x"\nprimary = "not-a-colour"', "invalid colour 'not-a-colour'"),
        ('name = "x"\nprimary = "#fff"\nshade = "#000"', "unknown key 'shade'"),
        ('name = "x"\nprimary = "#fff"\ndark = "yes"', "'dark' must be true or false"),
        ("name = ", "could not be read"),
    ],
)
def test_bad_theme_file_says_what_and_where(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(themes.ThemeError) as raised:
        themes.load_theme(path)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)


def test_user_themes_skip_bad_files(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text('name = "good"\nprimary = "#abcdef"\n')
    (tmp_path / "bad.toml").write_text('name = "bad"\n')
    (tmp_path / "notes.txt").write_text("not a theme")
    loaded, errors = themes.user_themes(tmp_path)
    assert [theme.name for theme in loaded] == ["good"]
    assert len(errors) == 1
    assert "bad.toml" in errors[0]


def test_missing_user_folder_is_no_error(tmp_path: Path) -> None:
    assert themes.user_themes(tmp_path / "absent") == ([], [])


async def test_app_registers_user_theme(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('name = "mine"\nprimary = "#abcdef"\n')
    app = make_app(FakeProvider(), theme="mine", themes_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "mine"
        assert app.current_theme.primary == "#abcdef"


async def test_app_warns_about_bad_user_theme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken.toml").write_text("name = ")
    app = make_app(FakeProvider(), themes_dir=tmp_path)
    notified: list[str] = []
    monkeypatch.setattr(app, "notify", lambda message, **_: notified.append(message))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == themes.DEFAULT_THEME
        assert any("broken.toml" in message for message in notified)


@pytest.mark.parametrize("name", ["haven-dark", "haven-light", "haven-terminal"])
async def test_each_bundled_theme_renders(name: str, tmp_path: Path) -> None:
    app = make_app(FakeProvider(), theme=name, themes_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == name
        assert app.screen.query_one("#traffic").region.height > 0


def test_unknown_theme_is_rejected_with_choices(tmp_path: Path) -> None:
    with pytest.raises(themes.ThemeError) as raised:
        make_app(FakeProvider(), theme="neon", themes_dir=tmp_path)
    assert "'neon'" in str(raised.value)
    assert "haven-light" in str(raised.value)


def test_no_color_uses_terminal_theme_without_colour(tmp_path: Path) -> None:
    app = make_app(FakeProvider(), no_color=True, themes_dir=tmp_path)
    assert app.theme == themes.TERMINAL_THEME
    filters = app.get_line_filters()
    assert any(isinstance(line_filter, NoColor) for line_filter in filters)
    assert app.has_class("-no-color")


def test_no_color_env_turns_colour_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(FakeProvider(), themes_dir=tmp_path)
    filters = app.get_line_filters()
    assert any(isinstance(line_filter, NoColor) for line_filter in filters)
    assert not any(isinstance(line_filter, Monochrome) for line_filter in filters)


def test_empty_no_color_env_keeps_colour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """no-color.org: an empty NO_COLOR does not count; Textual alone would grey."""
    monkeypatch.setenv("NO_COLOR", "")
    app = make_app(FakeProvider(), themes_dir=tmp_path)
    filters = app.get_line_filters()
    assert not any(isinstance(f, NoColor | Monochrome) for f in filters)
    assert app.theme == themes.DEFAULT_THEME
