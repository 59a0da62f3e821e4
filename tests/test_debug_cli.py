"""`haven-top debug on|off` run as a real process against demo services."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from haven_top.demo import launcher
from haven_top.demo.launcher import DemoProcess

COMMAND = [sys.executable, "-m", "haven_top.debug_cli"]
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
