"""Settings from the TOML config file and the command line, in one typed object.

The file is `config.toml` in the user's config folder (on Linux
`~/.config/haven-top/config.toml`), or the path given by `--config` or the
`HAVEN_TOP_CONFIG` environment variable. Command-line flags override the file,
and the file overrides the defaults. Every invalid key or value raises
`ConfigError` with a one-line message naming the key, the value and the fix.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from platformdirs import user_config_path

from haven_top.core.alerts import AlertConfigError, rules_from_config
from haven_top.core.token import Secret
from haven_top.core.urls import redact_url

if TYPE_CHECKING:
    from haven_top.sources.prometheus_api import PrometheusSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

APP_NAME = "haven-top"
CONFIG_ENV = "HAVEN_TOP_CONFIG"
"""Environment variable naming a config file, used when `--config` is not given."""

WINDOWS = {"1m": 60.0, "5m": 300.0, "15m": 900.0}
"""Sliding windows for rates and quantiles, by name, in seconds."""

DEFAULT_THEME = "haven-dark"
TIMEOUT_SHARE = 0.8
"""Default request timeout as a share of the interval, so a poll ends in time."""
MIN_INTERVAL = 0.1

KEYMAP_BINDING_IDS = (
    "debug",
    "debug-cancel",
    "fleet",
    "help",
    "help-close",
    "help-close-alt",
    "instances",
    "interrupt",
    "logs.clear_filter",
    "logs.down",
    "logs.export",
    "logs.filter",
    "logs.follow",
    "logs.hold",
    "logs.next_error",
    "logs.oldest",
    "logs.open_request",
    "logs.page_down",
    "logs.page_up",
    "logs.previous_error",
    "logs.quit",
    "logs.up",
    "pause",
    "picker.back",
    "quit",
    "request.back",
    "request.copy_id",
    "request.reload",
    "sort",
    "window",
)
"""The `id` of every `Binding` in `haven_top.ui`, which `[keymap]` may remap.

The list is kept here because checking the config must not import Textual.
A test compares it with the bindings that the UI declares.
"""


class ConfigError(ValueError):
    """An invalid config file, key or value; the message is one line with the fix."""


@dataclass(frozen=True)
class Settings:
    """Everything haven-top runs with, after the file and the flags are merged."""

    targets: tuple[str, ...] = ()
    """Base URLs of the monitored instances, without a trailing slash."""
    interval: float = 1.0
    """Seconds between two polls of the same target."""
    timeout: float = TIMEOUT_SHARE
    """Deadline of one whole request in seconds."""
    connect_timeout: float = TIMEOUT_SHARE
    """Deadline of opening a connection in seconds, at most `timeout`."""
    window: str = "1m"
    """Name of the sliding window, a key of `WINDOWS`."""
    theme: str = DEFAULT_THEME
    pool_size: int | None = None
    """Database pool capacity for targets that export no `haven_db_pool_size`."""
    read_only: bool = False
    """When true, haven-top never changes a target (no `/admin/debug` calls)."""
    admin_token_file: Path | None = None
    log_buffer: int = 100_000
    """Log records kept in memory."""
    alerts: Mapping[str, Any] = field(default_factory=dict)
    """The `[alerts]` table, checked by `haven_top.core.alerts.rules_from_config`."""
    keymap: Mapping[str, str] = field(default_factory=dict)
    """Binding id to keys, such as `quit = "q,ctrl+c"`, for Textual's keymap."""
    demo: bool = False
    demo_scenario: str = "steady"
    demo_token: Secret | None = None
    """Admin token of the service that `--demo` started."""
    once: bool = False
    output_format: str = "text"
    """Format of the `--once` output: "text" or "json"."""
    config_path: Path | None = None
    """The config file that was read, or None when there was none."""
    prometheus: PrometheusSettings | None = None
    """The Prometheus server to read the fleet from (`--prometheus`), or None."""

    @property
    def window_seconds(self) -> float:
        return WINDOWS[self.window]


def default_config_path() -> Path:
    """Return the config file used when neither `--config` nor the variable is set."""
    return user_config_path(APP_NAME) / "config.toml"


def read_config_file(path: Path | None) -> tuple[dict[str, Any], Path | None]:
    """Read the TOML config at `path`, or at the default place when None.

    A missing default file is no error; a missing explicit one is. Returns the
    raw table and the path read (None when no file was read).
    """
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    if path is None:
        path = Path(os.environ.get(CONFIG_ENV) or default_config_path())
    path = path.expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(
                f"config file {path} not found; check the path given to --config "
                f"or {CONFIG_ENV}"
            ) from None
        return {}, None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path} is not UTF-8 text: invalid byte "
            f"0x{exc.object[exc.start]:02x} on line {line}; save it as UTF-8"
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"config file {path} could not be read: {reason}; check the path "
            f"given to --config or {CONFIG_ENV}"
        ) from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}; fix the file") from None
    for key in table:
        if key not in FILE_KEYS:
            raise ConfigError(_unknown_key_message(key, path))
    return table, path


def _unknown_key_message(key: str, path: Path) -> str:
    close = difflib.get_close_matches(key, FILE_KEYS, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "remove it"
    expected = ", ".join(FILE_KEYS)
    return f"unknown key {key!r} in {path}: {hint} (known keys: {expected})"


def build_settings(
    file_values: Mapping[str, Any],
    flag_values: Mapping[str, Any],
    *,
    config_path: Path | None = None,
    **run_options: Any,
) -> Settings:
    """Merge the file's table and the flags given (not None) into `Settings`.

    `run_options` are fields that only the command line sets, such as `once`.
    Raises `ConfigError` naming the first invalid key or value.
    """
    values: dict[str, Any] = {}
    for key, value in file_values.items():
        origin = f"{key} in {config_path}" if config_path else key
        values[key] = FILE_KEYS[key](value, origin)
    for key, value in flag_values.items():
        if value is not None:
            values[key] = FILE_KEYS[key](value, _flag_origin(key))
    _fill_timeouts(values)
    return Settings(config_path=config_path, **values, **run_options)


def _flag_origin(key: str) -> str:
    return "URL" if key == "targets" else "--" + key.replace("_", "-")


def _fill_timeouts(values: dict[str, Any]) -> None:
    interval = values.get("interval", Settings.interval)
    values.setdefault("timeout", round(interval * TIMEOUT_SHARE, 3))
    values.setdefault("connect_timeout", values["timeout"])
    if values["connect_timeout"] > values["timeout"]:
        raise ConfigError(
            f"connect timeout {values['connect_timeout']:g} s is longer than the "
            f"request timeout {values['timeout']:g} s; raise --timeout to at "
            "least the connect timeout"
        )


def parse_target(url: object, origin: str = "URL") -> str:
    """Check one target base URL and return it without a trailing slash.

    Messages show the URL with its password hidden.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(
            f"invalid {origin}: {url!r}; give a base URL such as http://127.0.0.1:8000"
        )
    text = url.strip()
    shown = redact_url(text if "://" in text else f"http://{text}")
    shown = shown if "://" in text else shown.removeprefix("http://")
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ConfigError(
            f"invalid {origin} {shown!r}: malformed host; write it as in "
            "http://127.0.0.1:8000 or http://[::1]:8000"
        ) from None
    if parts.scheme not in ("http", "https"):
        fix = (
            f"write http://{shown}"
            if "://" not in text
            else "use http:// or https://, as in http://127.0.0.1:8000"
        )
        raise ConfigError(f"invalid {origin} {shown!r}: not an http(s) URL; {fix}")
    if not parts.hostname:
        raise ConfigError(
            f"invalid {origin} {shown!r}: the host is missing; write it after "
            f"{parts.scheme}://, as in {parts.scheme}://127.0.0.1:8000"
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"invalid {origin} {shown!r}: has a query or fragment; give the "
            "service's base URL, as in http://127.0.0.1:8000"
        )
    try:
        parts.port  # noqa: B018 (reading it raises ValueError on a bad port)
    except ValueError:
        raise ConfigError(
            f"invalid {origin} {shown!r}: invalid port; use a number from 1 to 65535"
        ) from None
    return text.rstrip("/")


def _targets(value: object, origin: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(
            f"invalid {origin}: {value!r}; use a list of URLs, "
            'as in targets = ["http://127.0.0.1:8000"]'
        )
    url_origin = origin if origin == "URL" else f"URL in {origin}"
    unique: dict[str, None] = {}
    for url in value:
        unique[parse_target(url, url_origin)] = None
    return tuple(unique)


def _seconds(value: object, origin: str, *, minimum: float = 0.0) -> float:
    number = _number(value)
    if number is None or number <= minimum:
        floor = f"more than {minimum:g}" if minimum else "positive"
        raise ConfigError(
            f"invalid {origin}: {value!r}; use a {floor} number of seconds, "
            "such as 2 or 0.5"
        )
    return number


def _interval(value: object, origin: str) -> float:
    number = _number(value)
    if number is None or number < MIN_INTERVAL:
        raise ConfigError(
            f"invalid {origin}: {value!r}; use a number of seconds of at least "
            f"{MIN_INTERVAL:g}, such as 1 or 2.5"
        )
    return number


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _positive_int(value: object, origin: str) -> int:
    number = _number(value)
    if number is None or number < 1 or number != int(number):
        raise ConfigError(
            f"invalid {origin}: {value!r}; use a whole number of at least 1"
        )
    return int(number)


def _boolean(value: object, origin: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"invalid {origin}: {value!r}; use true or false")


def _window(value: object, origin: str) -> str:
    if value in WINDOWS:
        return str(value)
    names = ", ".join(WINDOWS)
    raise ConfigError(f"invalid {origin}: {value!r}; use one of {names}")


def _path(value: object, origin: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"invalid {origin}: {value!r}; use a file path as a string")
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"invalid {origin}: file {str(path)!r} not found; check the path"
        )
    return path


def _theme(value: object, origin: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"invalid {origin}: {value!r}; use a theme name")
    known, errors = _loadable_themes()
    if value in known or _is_textual_theme(value):
        return value
    listed = ", ".join(sorted(known))
    message = f"unknown theme {value!r} in {origin}; use one of {listed}"
    if errors:
        message += f" ({len(errors)} theme file(s) failed to load: {errors[0]})"
    raise ConfigError(message)


def theme_names(user_dir: Path | None = None) -> set[str]:
    """Return the names of the bundled themes and of the user's theme files.

    A name is the `name` key inside a file that loads as a theme, the same
    test the dashboard applies when it registers them.
    """
    return _loadable_themes(user_dir)[0]


def _loadable_themes(user_dir: Path | None = None) -> tuple[set[str], list[str]]:
    # Imported here, so that `--once` and the tests of this module load
    # Textual only when a theme is named.
    from haven_top.ui.themes import haven_themes

    loaded, errors = haven_themes(user_dir)
    return {theme.name for theme in loaded}, errors


def _is_textual_theme(name: str) -> bool:
    from textual.theme import BUILTIN_THEMES

    return name in BUILTIN_THEMES


def _alerts(value: object, origin: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"invalid {origin}: expected an [alerts] table")
    try:
        rules_from_config(value)
    except AlertConfigError as exc:
        raise ConfigError(f"{_where(origin)}{exc}") from None
    return value


def _keymap(value: object, origin: str) -> Mapping[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"invalid {origin}: expected a [keymap] table")
    for binding_id, keys in value.items():
        if binding_id not in KEYMAP_BINDING_IDS:
            close = difflib.get_close_matches(binding_id, KEYMAP_BINDING_IDS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{_where(origin)}unknown binding id {binding_id!r} in [keymap]; "
                f"{hint}use one of {', '.join(KEYMAP_BINDING_IDS)}"
            )
        if not isinstance(keys, str) or not keys.strip():
            raise ConfigError(
                f"{_where(origin)}invalid keymap.{binding_id}: {keys!r}; use a "
                'string of keys separated by commas, such as "q,ctrl+c"'
            )
    return value


def _where(origin: str) -> str:
    """Return "FILE: " for an `origin` such as "keymap in FILE", else ""."""
    _, found, path = origin.partition(" in ")
    return f"{path}: " if found else ""


FILE_KEYS: dict[str, Callable[[object, str], Any]] = {
    "targets": _targets,
    "interval": _interval,
    "timeout": _seconds,
    "connect_timeout": _seconds,
    "window": _window,
    "theme": _theme,
    "pool_size": _positive_int,
    "read_only": _boolean,
    "admin_token_file": _path,
    "log_buffer": _positive_int,
    "alerts": _alerts,
    "keymap": _keymap,
}
"""Keys of the config file, each with the function that checks and converts it.

A flag whose argparse `dest` is one of these keys overrides the file's value.
"""
