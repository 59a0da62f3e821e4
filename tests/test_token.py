"""Loading the admin token, and the `Secret` wrapper that never prints it."""

from __future__ import annotations

import copy
import io
import json
import pickle
from pathlib import Path

import pytest
from rich.console import Console
from rich.traceback import Traceback

from haven_top.core.token import (
    MISSING_TOKEN_MESSAGE,
    TOKEN_ENV,
    Secret,
    TokenError,
    load_admin_token,
    read_token_file,
    token_argument_error,
)
from haven_top.sources.log_setup import LogOptions, build_log_sources

TOKEN = "tok-7f3a9c1e55d04b8e"


def write_token(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_secret_repr_and_str_hide_value() -> None:
    secret = Secret(TOKEN)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>40}"]
    shown.append("%s %r" % (secret, secret))  # noqa: UP031 - logging uses %
    for text in shown:
        assert TOKEN not in text
    assert secret.reveal() == TOKEN


def test_secret_in_containers_hides_value() -> None:
    secret = Secret(TOKEN)
    assert TOKEN not in repr({"token": secret})
    assert TOKEN not in repr([secret, (secret,)])


def test_secret_refuses_pickle_and_json() -> None:
    secret = Secret(TOKEN)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        json.dumps({"token": secret})


def test_secret_copies_are_same_object() -> None:
    secret = Secret(TOKEN)
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"s": secret})["s"] is secret
    assert Secret(TOKEN) == secret
    assert Secret("other") != secret


def rich_traceback_text(error: BaseException) -> str:
    """Render `error` as Textual's crash report does: Rich, with every local."""
    console = Console(record=True, width=200, file=io.StringIO())
    trace = Traceback.from_exception(
        type(error), error, error.__traceback__, show_locals=True
    )
    console.print(trace)
    return console.export_text()


def test_secret_hidden_in_rich_traceback_locals() -> None:
    """Textual's crash report is a Rich traceback that prints every local."""

    def fail(secret: Secret) -> None:
        wrapped = {"token": secret, "nested": [secret]}
        raise RuntimeError(f"failed with {wrapped}")

    try:
        fail(Secret(TOKEN))
    except RuntimeError as exc:
        text = rich_traceback_text(exc)
    assert "Secret('********')" in text
    assert TOKEN not in text


def test_load_prefers_flag_file_over_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_token(tmp_path / "token", "from-file\n")
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    loaded = load_admin_token(token_file=path, config_token_file=path)
    assert loaded is not None
    assert loaded.secret.reveal() == "from-file"
    assert loaded.source == str(path)


def test_load_prefers_env_over_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_token(tmp_path / "token", "from-config")
    monkeypatch.setenv(TOKEN_ENV, " env\n")
    loaded = load_admin_token(config_token_file=path)
    assert loaded is not None
    assert loaded.secret.reveal() == "env"
    assert loaded.source == TOKEN_ENV
    assert loaded.warnings == ()


def test_load_uses_config_file_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_token(tmp_path / "token", "from-config")
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    loaded = load_admin_token(config_token_file=path)
    assert loaded is not None
    assert loaded.secret.reveal() == "from-config"


def test_load_without_any_source_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert load_admin_token() is None
    assert "HAVEN_ADMIN_TOKEN" in MISSING_TOKEN_MESSAGE
    assert "--admin-token-file" in MISSING_TOKEN_MESSAGE


def test_token_file_mode_warning(tmp_path: Path) -> None:
    for mode, warned in [(0o600, False), (0o400, False), (0o640, True), (0o604, True)]:
        path = write_token(tmp_path / f"token-{mode:o}", TOKEN, mode)
        loaded = read_token_file(path)
        assert bool(loaded.warnings) is warned, oct(mode)
        for warning in loaded.warnings:
            assert f"chmod 600 {path}" in warning
            assert f"{mode:04o}" in warning
            assert TOKEN not in warning


def test_token_file_errors_name_path_only(tmp_path: Path) -> None:
    cases = {
        "empty": b"\n  \n",
        "two-words": f"{TOKEN} {TOKEN}".encode(),
        "two-lines": f"{TOKEN}\n{TOKEN}\n".encode(),
        "control": f"{TOKEN}\x1b[31m".encode(),
        "not-utf8": b"\xff\xfe" + TOKEN.encode(),
        "huge": TOKEN.encode() * 1000,
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        path.chmod(0o600)
        with pytest.raises(TokenError) as caught:
            read_token_file(path)
        message = str(caught.value)
        assert str(path) in message, name
        assert TOKEN not in message, name
        assert "\n" not in message, name


def test_token_file_missing_or_directory(tmp_path: Path) -> None:
    with pytest.raises(TokenError, match="cannot read admin token file .*missing"):
        read_token_file(tmp_path / "missing")
    with pytest.raises(TokenError, match="not a regular file|cannot read"):
        read_token_file(tmp_path)


def test_env_token_with_space_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, f"{TOKEN} extra")
    with pytest.raises(TokenError) as caught:
        load_admin_token()
    assert "HAVEN_ADMIN_TOKEN" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_token_argument_detected() -> None:
    rejected = [
        ["--admin-token", TOKEN],
        [f"--admin-token={TOKEN}"],
        ["on", "--token", TOKEN],
        ["--admin-token-fil", TOKEN],
    ]
    for argv in rejected:
        message = token_argument_error(argv)
        assert message is not None, argv
        assert "HAVEN_ADMIN_TOKEN" in message
        assert "--admin-token-file" in message
        assert TOKEN not in message
    allowed = [
        ["--admin-token-file", "/tmp/t"],
        ["--admin-token-file=/tmp/t", "http://127.0.0.1:1"],
        ["on", "--", "--token"],
    ]
    for argv in allowed:
        assert token_argument_error(argv) is None, argv


def test_token_errors_hide_loader_locals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loaders hold the token's text in locals; no traceback may show them."""
    bad_file = write_token(tmp_path / "bad", f"{TOKEN} {TOKEN}")
    monkeypatch.setenv(TOKEN_ENV, f"{TOKEN}\x07")
    loads = [
        lambda: load_admin_token(),
        lambda: load_admin_token(token_file=bad_file),
        lambda: read_token_file(bad_file),
    ]
    for load in loads:
        with pytest.raises(TokenError) as caught:
            load()
        text = rich_traceback_text(caught.value)
        assert "TokenError" in text
        assert TOKEN not in text


def test_log_streams_get_token_only_where_safe() -> None:
    """The WebSocket log sources obey the same transport rule as the client."""
    targets = [
        "http://127.0.0.1:8000",
        "http://haven.example.invalid:8080",
        "https://haven.example.invalid",
    ]
    sources = build_log_sources(LogOptions(), targets, token=TOKEN)
    assert [source.token for source in sources] == [TOKEN, None, TOKEN]
    sources = build_log_sources(LogOptions(), targets, token=TOKEN, allow_insecure=True)
    assert [source.token for source in sources] == [TOKEN, TOKEN, TOKEN]
