"""The `haven-top` command line: usage errors, `--once` and `--demo`, run as real
processes against the demo service and local servers on 127.0.0.1."""

from __future__ import annotations

import os
import pty
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import prometheus_client
import psutil
import pytest
from test_scraper import ScriptedServer, free_port, metrics_body

from haven_top import __version__
from haven_top.cli import main
from haven_top.demo.launcher import DemoProcess

ONCE_TIMEOUT = 60
"""Seconds a `--once` run may take before the test fails; it needs about 2."""
READY_TIMEOUT = 120
"""Seconds to wait for a child's readiness line, generous for a loaded machine."""
HOSTILE = "\x1b[2J\x1b]0;TITLE\x07\x00\x9b"
"""Clear screen, set the window title, NUL and a one-byte CSI."""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Environment of a child haven-top with an empty config folder."""
    child_env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    child_env.pop("HAVEN_TOP_CONFIG", None)
    child_env.pop("NO_COLOR", None)
    return child_env


@pytest.fixture(autouse=True)
def isolated_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("HAVEN_TOP_CONFIG", raising=False)


@pytest.fixture
def not_ready_server() -> Iterator[ScriptedServer]:
    """A service that is live and exports metrics but whose database is down."""
    server = ScriptedServer()
    server.routes["/metrics"] = (
        200,
        prometheus_client.CONTENT_TYPE_LATEST,
        metrics_body(),
        0,
    )
    server.routes["/health/live"] = (200, "application/json", b'{"status":"alive"}', 0)
    server.routes["/health/ready"] = (
        503,
        "application/json",
        b'{"status": "not ready", "error": "database unreachable"}',
        0,
    )
    yield server
    server.close()


def run_haven_top(
    *args: str, env: dict[str, str], timeout: float = ONCE_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "haven_top", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"haven-top {__version__}"


def test_help_lists_commands_and_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "demo-server" in out
    assert "--once" in out
    assert "--connect-timeout" in out
    assert "config.toml" in out


def test_no_target_suggests_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("usage: haven-top")
    assert err[-1].startswith("haven-top: error: no target given;")
    assert "haven-top --demo" in err[-1]


def test_bad_url_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["127.0.0.1:8000"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "haven-top: error: invalid URL '127.0.0.1:8000': not an http(s) URL; "
        "write http://127.0.0.1:8000\n"
    )


def test_bad_flag_value(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--timeout", "zero", "http://127.0.0.1:8000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("haven-top: error: invalid --timeout: 'zero'; ")


def test_unknown_flag_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--colour", "http://127.0.0.1:8000"]) == 2
    assert "unrecognized arguments: --colour" in capsys.readouterr().err


def test_config_error_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "haven.toml"
    config.write_text('window = "10m"\n', encoding="utf-8")
    assert main(["--config", str(config), "http://127.0.0.1:8000"]) == 2
    assert capsys.readouterr().err == (
        f"haven-top: error: invalid window in {config}: '10m'; use one of 1m, 5m, 15m\n"
    )


def test_config_targets_are_enough(
    tmp_path: Path, env: dict[str, str], demo: DemoProcess
) -> None:
    config = tmp_path / "haven.toml"
    config.write_text(f'targets = ["{demo.url}"]\n', encoding="utf-8")
    result = run_haven_top("--once", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    assert demo.url in result.stdout


def test_demo_server_subcommand_forwards(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-server", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: haven-top demo-server")
    assert "--scenario" in out


def test_once_json_against_demo(env: dict[str, str], demo: DemoProcess) -> None:
    result = run_haven_top("--once", "--format", "json", demo.url, env=env)
    assert result.returncode == 0, result.stderr
    document = orjson.loads(result.stdout)
    assert document["window_seconds"] == 60

    [target] = document["targets"]
    assert set(target) >= {"url", "up", "live", "ready", "dependencies"}
    assert target["url"] == demo.url
    assert target["up"] is True
    assert target["live"] is True
    assert target["ready"] is True
    assert target["dependencies"]["database"] == "healthy"

    traffic = document["traffic"]
    assert set(traffic) >= {
        "requests_per_second",
        "errors_per_second",
        "error_ratio",
        "by_status_class",
    }
    assert traffic["requests_per_second"] > 0
    assert set(document["latency_seconds"]) == {"p50", "p95", "p99"}
    assert document["latency_seconds"]["p95"] > 0

    assert document["endpoints"]
    endpoint_keys = {
        "method",
        "endpoint",
        "requests_per_second",
        "error_ratio",
        "p50",
        "p95",
        "p99",
    }
    for endpoint in document["endpoints"]:
        assert set(endpoint) >= endpoint_keys
    assert set(document["db_pool"]) >= {"active", "size", "usage"}
    assert document["db_pool"]["size"] == 10
    assert document["process"]["resident_memory_bytes"] > 0
    assert document["system"]["memory_total_bytes"] > 0


def test_once_text_against_demo(env: dict[str, str], demo: DemoProcess) -> None:
    result = run_haven_top("--once", "--window", "5m", demo.url, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"haven-top {__version__}")
    assert "window 5m" in lines[0]
    assert lines[1].startswith(f"target    {demo.url}  up live ready")
    assert "database=healthy" in lines[1]
    assert any(line.startswith("traffic   ") and "req/s" in line for line in lines)
    assert any(line.startswith("latency   p50 ") for line in lines)
    assert "\x1b[" not in result.stdout


def test_once_down_target_exits_1(env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = run_haven_top("--once", "--format", "json", url, env=env)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    [target] = orjson.loads(result.stdout)["targets"]
    assert target["up"] is False
    assert target["live"] is False
    assert "connection refused" in target["error"]
    assert orjson.loads(result.stdout)["traffic"]["requests_per_second"] is None
    assert elapsed < 15


def test_once_not_ready_exits_1(
    env: dict[str, str], not_ready_server: ScriptedServer
) -> None:
    result = run_haven_top("--once", not_ready_server.url, env=env)
    assert result.returncode == 1, result.stderr
    assert "NOT READY" in result.stdout
    assert "not ready: database unreachable" in result.stdout


def test_once_mixed_targets_exit_1(env: dict[str, str], demo: DemoProcess) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    result = run_haven_top("--once", "--format", "json", demo.url, down, env=env)
    assert result.returncode == 1
    targets = {t["url"]: t for t in orjson.loads(result.stdout)["targets"]}
    assert targets[demo.url]["ready"] is True
    assert targets[down]["up"] is False


def test_once_progress_on_stderr(env: dict[str, str], demo: DemoProcess) -> None:
    result = run_haven_top("--once", demo.url, env=env)
    assert result.returncode == 0
    assert "haven-top: connecting to 1 target: 0 answered..." in result.stderr


def test_once_demo_stops_child(env: dict[str, str]) -> None:
    result = run_haven_top("--once", "--demo", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    pid = demo_pid(result.stderr)
    assert wait_until_gone(pid)
    [target] = orjson.loads(result.stdout)["targets"]
    assert target["url"].startswith("http://127.0.0.1:")
    assert target["ready"] is True


def test_interrupted_demo_stops_child(env: dict[str, str]) -> None:
    """Ctrl-C right after the demo started exits 130 and stops the demo.

    Run as `python -m`, CPython 3.11 turns a caught KeyboardInterrupt that
    passed through exec()'d code into death by SIGINT (-2) at exit.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "haven_top", "--once", "--demo", "--interval", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        stderr_lines = read_until(process, "started the demo service")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=ONCE_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert wait_until_gone(demo_pid("".join(stderr_lines)), timeout=ONCE_TIMEOUT)


def test_no_color_disables_colour(
    env: dict[str, str], not_ready_server: ScriptedServer
) -> None:
    coloured = run_in_pty(["--once", not_ready_server.url], env)
    plain = run_in_pty(["--once", not_ready_server.url], {**env, "NO_COLOR": "1"})
    assert "\x1b[31mNOT READY" in coloured
    assert "NOT READY" in plain
    assert "\x1b[31m" not in plain
    assert "\x1b[32m" not in plain


def test_format_without_once_is_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--format", "json", "http://127.0.0.1:8000"]) == 2
    assert capsys.readouterr().err == (
        "haven-top: error: --format json applies only to --once; add --once, "
        "as in haven-top --once --format json URL\n"
    )


def test_url_without_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["http://"]) == 2
    assert capsys.readouterr().err == (
        "haven-top: error: invalid URL 'http://': the host is missing; write it "
        "after http://, as in http://127.0.0.1:8000\n"
    )


def test_logs_directory_is_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "app.log").write_text("x\n", encoding="utf-8")
    for flags in (["--once"], []):
        assert main([*flags, "--logs", str(tmp_path)]) == 2
        assert capsys.readouterr().err == (
            f"haven-top: error: --logs {tmp_path} is a directory; give a log file "
            f"in it, such as {tmp_path / 'app.log'}\n"
        )


def test_once_logs_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.log"
    assert main(["--once", "--logs", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"haven-top: error: --logs {missing}: file not found; check the path "
        "(--once reads only files that exist)\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_once_logs_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked.log"
    locked.write_text("x\n", encoding="utf-8")
    locked.chmod(0)
    assert main(["--once", "--logs", str(locked)]) == 2
    assert "permission denied" in capsys.readouterr().err


def test_once_failed_command_exits_1(env: dict[str, str]) -> None:
    text = run_haven_top("--once", "--logs-command", "nosuchcommand_xyz", env=env)
    assert text.returncode == 1
    assert text.stdout.splitlines()[1] == (
        "  source nosuchcommand_xyz: failed "
        "(nosuchcommand_xyz: No such file or directory)"
    )

    document = run_haven_top(
        "--once", "--format", "json", "--logs-command", "nosuchcommand_xyz", env=env
    )
    assert document.returncode == 1
    sources = orjson.loads(document.stdout)["logs"]["sources"]
    assert sources["nosuchcommand_xyz"]["state"] == "failed"


def test_once_command_error_status_exits_1(env: dict[str, str]) -> None:
    command = f"{sys.executable} -c 'raise SystemExit(3)'"
    result = run_haven_top("--once", "--logs-command", command, env=env)
    assert result.returncode == 1
    assert "exited with status 3" in result.stdout


def test_once_garbage_metrics_exits_1(env: dict[str, str]) -> None:
    """Health endpoints that answer do not hide /metrics that is not metrics."""
    server = ScriptedServer()
    try:
        server.routes["/metrics"] = (200, "text/plain", b"garbage {{{ not prom\n", 0)
        server.routes["/health/live"] = (200, "application/json", b"{}", 0)
        server.routes["/health/ready"] = (200, "application/json", b"{}", 0)
        result = run_haven_top("--once", "--no-log-stream", server.url, env=env)
    finally:
        server.close()
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[1] == f"target    {server.url}  DOWN live ready"
    assert lines[2] == (
        f"          {server.url}/metrics: no samples; first bad line 1: value "
        "'{{{' is not a number: 'garbage {{{ not prom'; check that the target "
        "is the base URL of a Haven service, whose /metrics serves Prometheus text"
    )


@pytest.fixture
def hostile_server() -> Iterator[ScriptedServer]:
    """A service whose labels, dependencies and errors carry escape sequences."""
    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter(
        "haven_requests",
        "Requests.",
        ["method", "endpoint", "status"],
        registry=registry,
    )
    counter.labels("GET", f"/evil{HOSTILE}", "200").inc(3)
    server = ScriptedServer()
    server.routes["/metrics"] = (
        200,
        prometheus_client.CONTENT_TYPE_LATEST,
        prometheus_client.generate_latest(registry),
        0,
    )
    server.routes["/health/live"] = (200, "application/json", b"{}", 0)
    ready = {
        "status": "not ready",
        "error": f"db down{HOSTILE}",
        "dependencies": {f"data{HOSTILE}base": f"sick{HOSTILE}"},
    }
    server.routes["/health/ready"] = (503, "application/json", orjson.dumps(ready), 0)
    yield server
    server.close()


def test_once_text_shows_hostile_text_visibly(
    tmp_path: Path, env: dict[str, str], hostile_server: ScriptedServer
) -> None:
    log = tmp_path / "app.log"
    log.write_text(f"plain{HOSTILE}line\n", encoding="utf-8")
    url = hostile_server.url.replace("http://", "http://user:SECRETPW@")
    result = run_haven_top("--once", "--logs", str(log), url, env=env)
    assert result.returncode == 1
    for output in (result.stdout, result.stderr):
        assert "\x1b" not in output
        assert "\x00" not in output
        assert "\x07" not in output
        assert "\x9b" not in output
        assert "SECRETPW" not in output
    visible = "^[[2J^[]0;TITLE^G^@\\x9b"
    assert f"data{visible}base=sick{visible}" in result.stdout
    assert f"not ready: db down{visible}" in result.stdout
    assert f"/evil{visible}" in result.stdout
    assert f"plain{visible}line" in result.stdout
    shown = hostile_server.url.replace("http://", "http://user:***@")
    assert f"target    {shown}  up live NOT READY" in result.stdout


def test_once_json_hides_url_password(
    env: dict[str, str], hostile_server: ScriptedServer
) -> None:
    url = hostile_server.url.replace("http://", "http://user:SECRETPW@")
    down = f"http://user:SECRETPW@127.0.0.1:{free_port()}"
    result = run_haven_top("--once", "--format", "json", url, down, env=env)
    assert result.returncode == 1
    assert "SECRETPW" not in result.stdout + result.stderr
    document = orjson.loads(result.stdout)
    shown = hostile_server.url.replace("http://", "http://user:***@")
    assert document["targets"][0]["url"] == shown
    assert shown.removeprefix("http://") in document["logs"]["sources"]


def demo_pid(stderr: str) -> int:
    """Return the pid from haven-top's "started the demo service ... (pid N)"."""
    for line in stderr.splitlines():
        if "started the demo service" in line:
            return int(line.rsplit("pid ", 1)[1].rstrip(")"))
    raise AssertionError(f"no demo pid in stderr: {stderr!r}")


def wait_until_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie":
            return True
        time.sleep(0.05)
    return False


def read_until(
    process: subprocess.Popen[str], marker: str, timeout: float = READY_TIMEOUT
) -> list[str]:
    """Read stderr lines of `process` until one contains `marker`.

    A thread reads, so that a child that hangs without output cannot hold the
    test past `timeout` seconds.
    """
    assert process.stderr is not None
    stream = process.stderr
    received: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            received.put(line)
        received.put("")

    threading.Thread(target=pump, daemon=True).start()
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = received.get(timeout=left)
        except queue.Empty:
            break
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} not in stderr: {''.join(lines)!r}")


def run_in_pty(args: list[str], env: dict[str, str]) -> str:
    """Run haven-top with its output on a pseudo-terminal; return what it wrote."""
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "haven_top", *args],
        stdin=subprocess.DEVNULL,
        stdout=child_fd,
        stderr=child_fd,
        env=env,
    )
    os.close(child_fd)
    chunks = []
    deadline = time.monotonic() + ONCE_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main_fd], [], [], 0.5)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main_fd)
    process.wait(timeout=10)
    return b"".join(chunks).decode(errors="replace")
