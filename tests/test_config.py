"""The config file, its checks, and how flags override it."""

from __future__ import annotations

from pathlib import Path

import pytest

from haven_top.config import (
    CONFIG_ENV,
    KEYMAP_BINDING_IDS,
    ConfigError,
    Settings,
    build_settings,
    parse_target,
    read_config_file,
    theme_names,
)

FULL_CONFIG = """
targets = ["http://127.0.0.1:8000/", "http://127.0.0.1:8001"]
interval = 2
timeout = 1.5
connect_timeout = 0.5
window = "5m"
theme = "haven-light"
pool_size = 20
read_only = true
log_buffer = 500

[alerts.high_error_rate]
threshold = 0.1
for = "2m"

[keymap]
quit = "q,ctrl+c"
"""


@pytest.fixture(autouse=True)
def isolated_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the default config folder at an empty temporary one."""
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    return home


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, **flags: object) -> Settings:
    table, read_path = read_config_file(path)
    return build_settings(table, flags, config_path=read_path)


def test_full_config_is_typed(tmp_path: Path) -> None:
    path = write_config(tmp_path, FULL_CONFIG)
    settings = load(path)
    assert settings.targets == ("http://127.0.0.1:8000", "http://127.0.0.1:8001")
    assert settings.interval == 2.0
    assert settings.timeout == 1.5
    assert settings.connect_timeout == 0.5
    assert settings.window == "5m"
    assert settings.window_seconds == 300.0
    assert settings.theme == "haven-light"
    assert settings.pool_size == 20
    assert settings.read_only is True
    assert settings.log_buffer == 500
    assert settings.alerts == {"high_error_rate": {"threshold": 0.1, "for": "2m"}}
    assert settings.keymap == {"quit": "q,ctrl+c"}
    assert settings.config_path == path


def test_settings_are_frozen() -> None:
    settings = build_settings({}, {})
    with pytest.raises(AttributeError):
        settings.interval = 5  # type: ignore[misc]  # the assignment must fail


def test_defaults_without_file() -> None:
    table, path = read_config_file(None)
    settings = build_settings(table, {}, config_path=path)
    assert path is None
    assert settings.targets == ()
    assert settings.interval == 1.0
    assert settings.timeout == 0.8
    assert settings.connect_timeout == 0.8
    assert settings.window_seconds == 60.0
    assert settings.theme == "haven-dark"
    assert settings.read_only is False


def test_default_path_is_read(isolated_config_home: Path) -> None:
    folder = isolated_config_home / "haven-top"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text("interval = 3\n", encoding="utf-8")
    table, path = read_config_file(None)
    assert table == {"interval": 3}
    assert path == folder / "config.toml"


def test_environment_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, 'window = "15m"\n')
    monkeypatch.setenv(CONFIG_ENV, str(path))
    table, read_path = read_config_file(None)
    assert table == {"window": "15m"}
    assert read_path == path


def test_flags_override_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, FULL_CONFIG)
    settings = load(
        path,
        targets=["http://127.0.0.1:9000"],
        interval="0.5",
        timeout="0.6",
        connect_timeout=None,
        window="1m",
        read_only=None,
    )
    assert settings.targets == ("http://127.0.0.1:9000",)
    assert settings.interval == 0.5
    assert settings.timeout == 0.6
    assert settings.connect_timeout == 0.5
    assert settings.window == "1m"
    assert settings.read_only is True


def test_timeout_defaults_follow_interval() -> None:
    settings = build_settings({"interval": 5}, {})
    assert settings.timeout == 4.0
    assert settings.connect_timeout == 4.0


def test_duplicate_targets_kept_once() -> None:
    settings = build_settings(
        {"targets": ["http://127.0.0.1:8000", "http://127.0.0.1:8000/"]}, {}
    )
    assert settings.targets == ("http://127.0.0.1:8000",)


def test_missing_explicit_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        read_config_file(missing)
    assert str(info.value) == (
        f"config file {missing} not found; check the path given to --config "
        f"or {CONFIG_ENV}"
    )


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, "interval = \n")
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    message = str(info.value)
    assert message.startswith(f"invalid TOML in {path}: ")
    assert "line 1" in message
    assert "\n" not in message


def test_unknown_key_suggests_close_match(tmp_path: Path) -> None:
    path = write_config(tmp_path, "intervall = 2\n")
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    message = str(info.value)
    assert message.startswith(f"unknown key 'intervall' in {path}: ")
    assert "did you mean 'interval'?" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'interval = "fast"',
            "invalid interval in {path}: 'fast'; use a number of seconds of at "
            "least 0.1, such as 1 or 2.5",
        ),
        (
            "interval = 0.01",
            "invalid interval in {path}: 0.01; use a number of seconds of at "
            "least 0.1, such as 1 or 2.5",
        ),
        (
            "timeout = -1",
            "invalid timeout in {path}: -1; use a positive number of seconds, "
            "such as 2 or 0.5",
        ),
        (
            "timeout = true",
            "invalid timeout in {path}: True; use a positive number of seconds, "
            "such as 2 or 0.5",
        ),
        ('window = "2m"', "invalid window in {path}: '2m'; use one of 1m, 5m, 15m"),
        (
            "pool_size = 0",
            "invalid pool_size in {path}: 0; use a whole number of at least 1",
        ),
        (
            "log_buffer = 2.5",
            "invalid log_buffer in {path}: 2.5; use a whole number of at least 1",
        ),
        ('read_only = "yes"', "invalid read_only in {path}: 'yes'; use true or false"),
        (
            'targets = "http://127.0.0.1:8000"',
            "invalid targets in {path}: 'http://127.0.0.1:8000'; use a list of "
            'URLs, as in targets = ["http://127.0.0.1:8000"]',
        ),
        (
            'targets = ["127.0.0.1:8000"]',
            "invalid URL in targets in {path} '127.0.0.1:8000': not an http(s) "
            "URL; write http://127.0.0.1:8000",
        ),
        (
            'theme = "neon"',
            "unknown theme 'neon' in theme in {path}; use one of haven-dark, "
            "haven-light, haven-terminal",
        ),
        (
            'admin_token_file = "/nonexistent/token"',
            "invalid admin_token_file in {path}: file '/nonexistent/token' not "
            "found; check the path",
        ),
        (
            "keymap = { quit = 1 }",
            "{path}: invalid keymap.quit: 1; use a string of keys separated by "
            'commas, such as "q,ctrl+c"',
        ),
        ("keymap = 3", "invalid keymap in {path}: expected a [keymap] table"),
        (
            "[alerts.unknown_rule]\nthreshold = 1",
            "{path}: unknown key alerts.unknown_rule; expected one of "
            "alerts.high_error_rate, alerts.slow_response",
        ),
        (
            "[alerts]\nfoo = 1",
            "{path}: unknown key alerts.foo; expected one of "
            "alerts.high_error_rate, alerts.slow_response",
        ),
    ],
)
def test_bad_value_message(tmp_path: Path, text: str, expected: str) -> None:
    path = write_config(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value) == expected.format(path=path)


def test_connect_timeout_above_timeout() -> None:
    with pytest.raises(ConfigError) as info:
        build_settings({}, {"timeout": "1", "connect_timeout": "2"})
    assert str(info.value) == (
        "connect timeout 2 s is longer than the request timeout 1 s; raise "
        "--timeout to at least the connect timeout"
    )


def test_flag_error_names_flag() -> None:
    with pytest.raises(ConfigError) as info:
        build_settings({}, {"connect_timeout": "soon"})
    assert str(info.value).startswith("invalid --connect-timeout: 'soon'; ")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://haven.example.org/", "https://haven.example.org"),
        ("http://127.0.0.1:8000/prefix/", "http://127.0.0.1:8000/prefix"),
        (" http://[::1]:8000 ", "http://[::1]:8000"),
    ],
)
def test_good_target_normalised(url: str, expected: str) -> None:
    assert parse_target(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "localhost:8000",
            "invalid URL 'localhost:8000': not an http(s) URL; "
            "write http://localhost:8000",
        ),
        (
            "ftp://127.0.0.1",
            "invalid URL 'ftp://127.0.0.1': not an http(s) URL; use http:// or "
            "https://, as in http://127.0.0.1:8000",
        ),
        (
            "http://127.0.0.1:99999",
            "invalid URL 'http://127.0.0.1:99999': invalid port; use a number from 1 "
            "to 65535",
        ),
        (
            "http://127.0.0.1:8000/?x=1",
            "invalid URL 'http://127.0.0.1:8000/?x=1': has a query or fragment; "
            "give the service's base URL, as in http://127.0.0.1:8000",
        ),
        ("", "invalid URL: ''; give a base URL such as http://127.0.0.1:8000"),
        (
            "http://",
            "invalid URL 'http://': the host is missing; write it after http://, "
            "as in http://127.0.0.1:8000",
        ),
        (
            "https://:8443",
            "invalid URL 'https://:8443': the host is missing; write it after "
            "https://, as in https://127.0.0.1:8000",
        ),
        (
            "http://user:SECRETPW@127.0.0.1:99999",
            "invalid URL 'http://user:***@127.0.0.1:99999': invalid port; use a "
            "number from 1 to 65535",
        ),
        (
            "user:SECRETPW@127.0.0.1:9",
            "invalid URL 'user:***@127.0.0.1:9': not an http(s) URL; "
            "write http://user:***@127.0.0.1:9",
        ),
        (
            "http://[::1",
            "invalid URL 'http://[::1': malformed host; write it as in "
            "http://127.0.0.1:8000 or http://[::1]:8000",
        ),
    ],
)
def test_bad_target_message(url: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_target(url)
    assert str(info.value) == expected


def test_user_theme_name_is_accepted(isolated_config_home: Path) -> None:
    folder = isolated_config_home / "haven-top" / "themes"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text(
        'name = "ocean"\nprimary = "#0af"\n', encoding="utf-8"
    )
    assert "ocean" in theme_names()
    assert build_settings({"theme": "ocean"}, {}).theme == "ocean"


def test_textual_theme_name_is_accepted() -> None:
    assert build_settings({}, {"theme": "nord"}).theme == "nord"


def test_unknown_binding_id_lists_ids(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[keymap]\nnosuch = "x"\n')
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: unknown binding id 'nosuch' in [keymap]; ")
    assert message.endswith("use one of " + ", ".join(KEYMAP_BINDING_IDS))


def test_close_binding_id_is_suggested(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[keymap]\nqiut = "x"\n')
    with pytest.raises(ConfigError) as info:
        load(path)
    assert "did you mean 'quit'? use one of " in str(info.value)


def test_binding_ids_match_the_ui() -> None:
    """The config's list of ids must follow every Binding id the UI declares."""
    import importlib
    import inspect
    import pkgutil

    from textual.binding import Binding

    import haven_top.ui

    declared = set()
    for module_info in pkgutil.walk_packages(haven_top.ui.__path__, "haven_top.ui."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == module.__name__:
                bindings = getattr(value, "BINDINGS", None) or []
                declared |= {b.id for b in bindings if isinstance(b, Binding) and b.id}
    assert declared == set(KEYMAP_BINDING_IDS)


def test_non_utf8_file_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"interval = 1\n# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    assert str(info.value) == (
        f"config file {path} is not UTF-8 text: invalid byte 0xe9 on line 2; "
        "save it as UTF-8"
    )


def test_directory_as_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read_config_file(tmp_path)
    assert str(info.value) == (
        f"config file {tmp_path} could not be read: Is a directory; check the "
        f"path given to --config or {CONFIG_ENV}"
    )
