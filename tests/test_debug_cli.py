"""`haven-top debug on|off` run as a real process against demo services."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path

import httpx
import pytest
from test_scraper import free_port

from haven_top import cli, debug_cli
from haven_top.core.token import AdminToken, Secret
from haven_top.debug_cli import with_demo_token
from haven_top.demo import launcher
from haven_top.demo.launcher import DemoProcess
from haven_top.sources.admin import AdminOptions

COMMAND = [sys.executable, "-m", "haven_top", "debug"]
WRONG_TOKEN = "wrong-6c0d1b9e2a7f4e35"


@pytest.fixture(scope="module")
def private_demo() -> Iterator[DemoProcess]:
    """A demo of this module's own, because these tests switch its debug mode."""
    with launcher.start_demo(scenario="steady", seed=11, rate=5) as process:
        yield process


@pytest.fixture(scope="module")
def outputs() -> list[str]:
    """Every stdout and stderr of this module's runs, checked for the token."""
    return []


def run_debug(
    args: list[str],
    outputs: list[str],
    token: str | None = None,
    config: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HAVEN_ADMIN_TOKEN"}
    if token is not None:
        env["HAVEN_ADMIN_TOKEN"] = token
    # An empty config by default, so the user's own config never affects a run.
    env["HAVEN_TOP_CONFIG"] = str(config) if config is not None else os.devnull
    result = subprocess.run(
        [*COMMAND, *args], env=env, capture_output=True, text=True, timeout=60
    )
    outputs += [result.stdout, result.stderr]
    return result


def debug_enabled(demo: DemoProcess) -> bool:
    headers = {"Authorization": f"Bearer {demo.token}"}
    response = httpx.get(f"{demo.url}/admin/debug", headers=headers, timeout=5)
    return bool(response.json()["enabled"])


def test_cli_on_then_off(private_demo: DemoProcess, outputs: list[str]) -> None:
    url = private_demo.url
    on = run_debug(["on", "--duration", "30", url], outputs, private_demo.token)
    assert on.returncode == 0, on.stderr
    assert on.stdout.startswith(f"debug logging on for 30 s on {url}")
    assert on.stdout.count("\n") == 1
    assert on.stderr == ""
    assert debug_enabled(private_demo)

    off = run_debug(["off", url], outputs, private_demo.token)
    assert off.returncode == 0, off.stderr
    assert off.stdout == f"debug logging off on {url}\n"
    assert not debug_enabled(private_demo)


def test_cli_wrong_token_fails(private_demo: DemoProcess, outputs: list[str]) -> None:
    result = run_debug(["on", private_demo.url], outputs, WRONG_TOKEN)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"admin token rejected by {private_demo.url}")
    assert not debug_enabled(private_demo)


def test_cli_one_line_per_target(private_demo: DemoProcess, outputs: list[str]) -> None:
    insecure = "http://haven.example.invalid:8080"
    args = ["on", "--duration", "2", private_demo.url, insecure]
    result = run_debug(args, outputs, private_demo.token)
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1
    assert private_demo.url in result.stdout
    assert result.stderr.count("\n") == 1
    assert "--allow-insecure-admin" in result.stderr
    run_debug(["off", private_demo.url], outputs, private_demo.token)


def test_cli_no_endpoint(
    start_demo: Callable[..., DemoProcess], outputs: list[str]
) -> None:
    bare = start_demo(extra_args=["--no-debug-endpoint"])
    result = run_debug(["on", bare.url], outputs, bare.token)
    assert result.returncode == 1
    assert result.stderr.startswith(f"{bare.url} has no debug endpoint")
    assert bare.token not in result.stdout + result.stderr


def test_cli_token_file(
    private_demo: DemoProcess, outputs: list[str], tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(private_demo.token + "\n", encoding="utf-8")
    token_file.chmod(0o644)
    args = ["off", "--admin-token-file", str(token_file), private_demo.url]
    result = run_debug(args, outputs)
    assert result.returncode == 0, result.stderr
    assert "readable by group or others (mode 0644)" in result.stderr
    assert f"chmod 600 {token_file}" in result.stderr

    token_file.chmod(0o600)
    result = run_debug(args, outputs)
    assert result.returncode == 0
    assert result.stderr == ""


def test_cli_usage_errors(private_demo: DemoProcess, outputs: list[str]) -> None:
    url = private_demo.url
    cases = {
        "no token": (["on", url], None, "no admin token: set HAVEN_ADMIN_TOKEN"),
        "token value": (
            ["on", "--admin-token", WRONG_TOKEN, url],
            None,
            "HAVEN_ADMIN_TOKEN or pass --admin-token-file",
        ),
        "token equals": (
            [f"--admin-token={WRONG_TOKEN}", "on", url],
            private_demo.token,
            "not accepted on the command line",
        ),
        "read-only": (["on", "--read-only", url], private_demo.token, "read-only"),
        "bad duration": (["on", "--duration", "0", url], private_demo.token, "0"),
        "bad state": (["maybe", url], private_demo.token, "invalid choice"),
        "no url": (["on"], private_demo.token, "URL"),
    }
    for name, (args, token, expected) in cases.items():
        result = run_debug(args, outputs, token)
        assert result.returncode == 2, name
        assert expected in result.stderr, name
        assert result.stdout == "", name
    assert not debug_enabled(private_demo)


def test_cli_reads_config_file(
    private_demo: DemoProcess, outputs: list[str], tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(private_demo.token, encoding="utf-8")
    token_file.chmod(0o600)
    config = tmp_path / "config.toml"
    config.write_text(f'admin_token_file = "{token_file}"\n', encoding="utf-8")
    result = run_debug(["off", private_demo.url], outputs, config=config)
    assert result.returncode == 0, result.stderr

    wrong = run_debug(["off", private_demo.url], outputs, WRONG_TOKEN, config)
    assert wrong.returncode == 1
    assert "admin token rejected" in wrong.stderr

    config.write_text("read_only = true\n", encoding="utf-8")
    result = run_debug(["off", private_demo.url], outputs, private_demo.token, config)
    assert result.returncode == 2
    assert "read-only" in result.stderr
    assert "read_only = false" in result.stderr

    config.write_text("read_only = 3\n", encoding="utf-8")
    result = run_debug(["off", private_demo.url], outputs, private_demo.token, config)
    assert result.returncode == 2
    assert "read_only" in result.stderr


def test_cli_output_never_shows_token(
    private_demo: DemoProcess, outputs: list[str]
) -> None:
    """Runs last in this module and checks every output collected above."""
    assert len(outputs) > 10
    secrets = [private_demo.token, WRONG_TOKEN]
    for text in outputs:
        for secret in secrets:
            assert secret not in text


@pytest.fixture
def monitor_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, object]]:
    """Stands in for the dashboard run, keeping what `main` passed to it."""
    calls: list[tuple[object, object]] = []

    def record(settings: object, admin: object = None, *others: object) -> int:
        calls.append((settings, admin))
        return 0

    monkeypatch.setattr(cli, "run_monitor", record)
    monkeypatch.setenv("HAVEN_TOP_CONFIG", os.devnull)
    monkeypatch.delenv("HAVEN_ADMIN_TOKEN", raising=False)
    return calls


def dashboard_admin(
    argv: list[str], calls: list[tuple[object, object]]
) -> AdminOptions:
    assert cli.main(argv) == 0
    admin = calls[-1][1]
    assert isinstance(admin, AdminOptions)
    return admin


def test_dashboard_token_sources(
    monitor_calls: list[tuple[object, object]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url = "http://127.0.0.1:9"
    flag_file = tmp_path / "flag-token"
    flag_file.write_text("from-flag", encoding="utf-8")
    flag_file.chmod(0o644)
    config_file = tmp_path / "config-token"
    config_file.write_text("from-config", encoding="utf-8")
    config_file.chmod(0o600)
    config = tmp_path / "config.toml"
    config.write_text(f'admin_token_file = "{config_file}"\n', encoding="utf-8")

    assert dashboard_admin([url], monitor_calls).token is None

    admin = dashboard_admin([url, "--config", str(config)], monitor_calls)
    assert admin.token is not None
    assert admin.token.secret.reveal() == "from-config"

    monkeypatch.setenv("HAVEN_ADMIN_TOKEN", "from-env")
    admin = dashboard_admin([url, "--config", str(config)], monitor_calls)
    assert admin.token is not None
    assert admin.token.secret.reveal() == "from-env"
    assert admin.allow_insecure is False

    argv = [url, "--admin-token-file", str(flag_file), "--allow-insecure-admin"]
    admin = dashboard_admin(argv, monitor_calls)
    assert admin.token is not None
    assert admin.token.secret.reveal() == "from-flag"
    assert admin.allow_insecure is True
    assert "readable by group or others" in admin.warnings[0]

    admin = dashboard_admin([url, "--read-only"], monitor_calls)
    assert admin.token is None


def test_dashboard_rejects_token_value(
    monitor_calls: list[tuple[object, object]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (["--admin-token", WRONG_TOKEN], [f"--admin-token={WRONG_TOKEN}"]):
        assert cli.main(["http://127.0.0.1:9", *argv]) == 2
        output = capsys.readouterr()
        assert "HAVEN_ADMIN_TOKEN" in output.err
        assert "--admin-token-file" in output.err
        assert WRONG_TOKEN not in output.out + output.err
    assert monitor_calls == []


def test_demo_token_used_last() -> None:
    demo = Secret("demo-token")
    options = with_demo_token(AdminOptions(), demo)
    assert options.token is not None
    assert options.token.secret is demo
    configured = AdminOptions(token=AdminToken(Secret("mine"), "test"))
    assert with_demo_token(configured, demo) is configured
    assert with_demo_token(AdminOptions(), None).token is None


def test_cli_refused_hides_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection reads as the dashboard's, with no URL password."""
    monkeypatch.setenv("HAVEN_TOP_CONFIG", os.devnull)
    monkeypatch.setenv("HAVEN_ADMIN_TOKEN", WRONG_TOKEN)
    port = free_port()
    out, err = StringIO(), StringIO()
    url = f"http://user:SECRETPW@127.0.0.1:{port}"
    status = debug_cli.main(["on", "--timeout", "2", url], stdout=out, stderr=err)
    assert status == 1
    assert out.getvalue() == ""
    assert err.getvalue() == (
        f"debug request to http://user:***@127.0.0.1:{port} failed (2 attempts): "
        "connection refused; check that the service is running and listens on "
        "that host and port\n"
    )
