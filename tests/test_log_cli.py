"""The log flags of the command line, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from haven_top.sources.log_setup import LogOptions, add_log_arguments

LINES = (
    '{"timestamp": "2025-01-15T12:00:00Z", "level": "ERROR", "message": "boom",'
    ' "extra": {"request_id": "r1", "status_code": 500}}\n'
    "plain \x1b[31m line\n"
    '{"level": "INFO", "message": "ok", "extra": {"request_id": "r2"}}\n'
)


def haven_top(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "haven_top", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_once_json_logs_file_filtered(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text(LINES)
    result = haven_top(
        "--once", "--format", "json", "--logs", str(path), "--filter", "status>=500"
    )
    assert result.returncode == 0, result.stderr
    logs = json.loads(result.stdout)["logs"]
    assert logs["received"] == 3
    assert logs["evicted"] == 0
    assert [row["message"] for row in logs["matched"]] == ["boom"]


def test_once_request_id_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text(LINES * 3)
    result = haven_top(
        "--once",
        "--format",
        "json",
        "--logs",
        str(path),
        "--request-id",
        "r2",
        "--limit",
        "2",
        "--log-buffer",
        "5",
    )
    logs = json.loads(result.stdout)["logs"]
    assert logs["received"] == 9
    assert logs["evicted"] == 4
    assert len(logs["matched"]) == 2
    assert all(row["extra"]["request_id"] == "r2" for row in logs["matched"])


def test_once_reads_pipe_text(tmp_path: Path) -> None:
    result = haven_top("--once", "--logs", "-", stdin=LINES)
    assert result.returncode == 0, result.stderr
    assert "logs: 3 received, 0 evicted, 3 matched" in result.stdout
    assert "plain ^[[31m line" in result.stdout
    assert "\x1b" not in result.stdout


def test_once_command_source() -> None:
    command = f"{sys.executable} -c \"print('from a command')\""
    result = haven_top("--once", "--format", "json", "--logs-command", command)
    logs = json.loads(result.stdout)["logs"]
    assert logs["matched"][0]["raw"] == "from a command"
    source = next(iter(logs["sources"].values()))
    assert source["detail"] == "exited with status 0"


def test_once_with_target_has_logs(demo) -> None:  # noqa: ANN001
    result = haven_top(
        "--once",
        "--format",
        "json",
        demo.url,
        "--filter",
        "level>=INFO",
        "--limit",
        "3",
        "--interval",
        "0.5",
    )
    document = json.loads(result.stdout)
    assert document["targets"][0]["url"] == demo.url
    assert document["logs"]["received"] > 0
    assert 0 < len(document["logs"]["matched"]) <= 3


def test_bad_log_flags_are_usage_errors(tmp_path: Path) -> None:
    for flags, message in (
        (["--filter", "status>=abc"], "status>=500"),
        (["--log-buffer", "0"], "--log-buffer"),
        (["--limit", "x"], "--limit"),
        (["--log-level", "LOUD"], "--log-level 'LOUD' is invalid"),
    ):
        result = haven_top("--once", "--logs", str(tmp_path / "x.log"), *flags)
        assert result.returncode == 2
        assert message in result.stderr


def test_log_options_filter_text() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_log_arguments(parser.add_argument_group("logs"))
    args = parser.parse_args(["--request-id", "a b", "--filter", "level>=ERROR"])
    from haven_top.sources.log_setup import log_options

    options = log_options(args)
    assert options.filter_text == "request_id='a b' level>=ERROR"
    assert LogOptions().filter_text == ""


def test_log_buffer_default_is_one_value() -> None:
    from haven_top.config import Settings
    from haven_top.core.logstore import DEFAULT_CAPACITY

    assert Settings.log_buffer == DEFAULT_CAPACITY
    assert LogOptions().buffer == DEFAULT_CAPACITY


def test_config_log_buffer_applies_without_flag(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text(LINES)
    config = tmp_path / "config.toml"
    config.write_text("log_buffer = 2\n", encoding="utf-8")
    common = (
        "--once",
        "--format",
        "json",
        "--logs",
        str(path),
        "--config",
        str(config),
    )
    result = haven_top(*common)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["logs"]["evicted"] == 1
    result = haven_top(*common, "--log-buffer", "3")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["logs"]["evicted"] == 0
