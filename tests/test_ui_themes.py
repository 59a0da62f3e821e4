"""Theme files: the bundled ones, user ones, bad ones, and the colourless mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_ui_fakes import FakeProvider
from textual.filter import Monochrome, NoColor

from haven_top.config import ConfigError, build_settings, theme_names
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


def run_python(args: list[str], config_home: Path) -> subprocess.CompletedProcess[str]:
    """Run `python ARGS` with an empty config folder."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_unknown_theme_flag_exits_2(tmp_path: Path) -> None:
    args = ["-m", "haven_top", "--theme", "neon", "http://127.0.0.1:9"]
    result = run_python(args, tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert "unknown theme 'neon'" in last_line
    assert "haven-dark, haven-light, haven-terminal" in last_line


def test_settings_reject_theme_that_fails_to_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose `name` parses but whose colours do not is no theme to pick."""
    folder = tmp_path / "haven-top" / "themes"
    folder.mkdir(parents=True)
    (folder / "broken.toml").write_text('name = "broken"\nprimary = "nope"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with pytest.raises(ConfigError) as raised:
        build_settings({}, {"theme": "broken"})
    assert "unknown theme 'broken' in --theme" in str(raised.value)
    assert "broken.toml" in str(raised.value)
    assert "broken" not in theme_names()


def test_dashboard_theme_error_exits_2(tmp_path: Path) -> None:
    """A theme the settings check did not see (the file changed since) exits 2."""
    code = (
        "from haven_top.cli import run_dashboard\n"
        "from haven_top.config import Settings\n"
        "settings = Settings(targets=('http://127.0.0.1:9',), theme='neon')\n"
        "raise SystemExit(run_dashboard(settings))\n"
    )
    result = run_python(["-c", code], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "haven-top: error: unknown theme 'neon'; use one of haven-dark, "
        "haven-light, haven-terminal, or a Textual theme"
    ]


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
