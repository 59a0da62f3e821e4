"""Colour themes from TOML files: the ones shipped in the wheel and the user's own.

A theme file contains the fields of `textual.theme.Theme` (`name`, `primary`,
`background`, `dark` ...) at top level and any extra CSS variables in a
`[variables]` table. Colours take any form Textual parses, including the
terminal's own colours as `ansi_red` or `ansi_default`.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_config_path
from textual.color import Color, ColorParseError
from textual.theme import Theme

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_THEME = "haven-dark"
TERMINAL_THEME = "haven-terminal"
"""The theme drawn in the terminal's own ANSI colours, also used without colour."""

_FLAGS = {"dark", "ansi"}
_NUMBERS = {"luminosity_spread", "text_alpha"}
_COLOURS = {
    field.name
    for field in dataclasses.fields(Theme)
    if field.name not in _FLAGS | _NUMBERS | {"name", "variables"}
}


class ThemeError(ValueError):
    """A theme file that cannot be read or turned into a Theme."""


def user_themes_dir() -> Path:
    """Return the folder where users put their own theme files."""
    return user_config_path("haven-top") / "themes"


def bundled_themes() -> list[Theme]:
    """Load the themes shipped with haven-top; a broken one is a packaging bug."""
    folder = bundled_themes_dir()
    return [load_theme(entry) for entry in _toml_files(folder.iterdir())]


def bundled_themes_dir() -> Traversable | Path:
    """Return the folder of the shipped themes.

    An installed wheel contains them as the package `haven_top.themes`. A source
    checkout run in place (`python -m haven_top` from the repository, beside a
    non-editable install) has no such package, only the top-level `themes/`.
    """
    try:
        return files("haven_top.themes")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "themes"


def user_themes(folder: Path | None = None) -> tuple[list[Theme], list[str]]:
    """Load every `*.toml` in `folder` (default: the user's themes folder).

    Returns the themes and a one-line error for each file that failed, so one
    bad file costs only itself.
    """
    folder = user_themes_dir() if folder is None else folder
    if not folder.is_dir():
        return [], []
    themes: list[Theme] = []
    errors: list[str] = []
    for path in _toml_files(folder.iterdir()):
        try:
            themes.append(load_theme(path))
        except ThemeError as error:
            errors.append(str(error))
    return themes, errors


def haven_themes(folder: Path | None = None) -> tuple[list[Theme], list[str]]:
    """Load the bundled themes, then the user's from `folder` (default: theirs).

    The app registers these, and the config check accepts their names, so both
    go by the `name` key inside each file that loads. Returns the themes and a
    one-line error for each user file that failed.
    """
    user, errors = user_themes(folder)
    return bundled_themes() + user, errors


def unknown_theme_message(
    name: str, known: Iterable[str], errors: Iterable[str] = ()
) -> str:
    """Describe an unknown theme `name`, listing `known` and the files that failed."""
    listed = ", ".join(sorted(known))
    message = f"unknown theme {name!r}; use one of {listed}, or a Textual theme"
    failed = list(errors)
    if failed:
        message += f" ({len(failed)} theme file(s) failed to load: {failed[0]})"
    return message


def load_theme(path: Traversable | Path) -> Theme:
    """Read one theme file; raise `ThemeError` saying what is wrong and where."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ThemeError(f"Theme file {path} could not be read: {error}") from error
    try:
        return theme_from_dict(data)
    except ThemeError as error:
        raise ThemeError(f"Theme file {path}: {error}") from error


def theme_from_dict(data: dict[str, Any]) -> Theme:
    """Build a Theme from the parsed TOML of a theme file."""
    fields: dict[str, Any] = {}
    for key, value in data.items():
        fields[key] = _checked_field(key, value)
    for required in ("name", "primary"):
        if required not in fields:
            raise ThemeError(f"missing key {required!r}; add it to the file")
    return Theme(**fields)


def _checked_field(key: str, value: Any) -> Any:
    if key == "name":
        if not isinstance(value, str) or not value.strip():
            raise ThemeError("'name' must be a non-empty string")
        return value
    if key in _FLAGS:
        if not isinstance(value, bool):
            raise ThemeError(f"{key!r} must be true or false, not {value!r}")
        return value
    if key in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ThemeError(f"{key!r} must be a number, not {value!r}")
        return float(value)
    if key in _COLOURS:
        return _checked_colour(key, value)
    if key == "variables":
        if not isinstance(value, dict):
            raise ThemeError("[variables] must be a table of CSS variable names")
        return {name: str(variable) for name, variable in value.items()}
    expected = ", ".join(sorted(_COLOURS | _FLAGS | _NUMBERS | {"name", "variables"}))
    raise ThemeError(f"unknown key {key!r}; expected one of {expected}")


def _checked_colour(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ThemeError(f"colour {key!r} must be a string, not {value!r}")
    try:
        Color.parse(value)
    except ColorParseError as error:
        raise ThemeError(f"invalid colour {value!r} for {key!r}: {error}") from error
    return value


def _toml_files(entries: Iterable[Traversable | Path]) -> list[Traversable | Path]:
    found = [entry for entry in entries if entry.name.endswith(".toml")]
    return sorted(found, key=lambda entry: entry.name)
