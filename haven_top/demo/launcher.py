"""Start the demo service as a child process and wait until it listens.

The child stops when this process goes away, even after SIGKILL. Its
standard input is a pipe from this process, and it exits when the pipe reaches
end of file. It also polls its parent pid, and on Linux it requests a
parent-death signal.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import IO, Any


class DemoStartError(RuntimeError):
    """The demo service exited or stayed silent before it was ready."""


class DemoProcess:
    """A running demo service: its `url`, admin `token` and child `pid`."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        stderr: IO[bytes],
        ready: dict[str, Any],
        early_output: bytes = b"",
    ) -> None:
        self.process = process
        self.url: str = ready["url"]
        self.token: str = ready["token"]
        self.pid: int = ready["pid"]
        self._stderr = stderr
        self._final_stderr = ""
        self.output: deque[str] = deque(maxlen=200)
        *complete, self._partial = early_output.split(b"\n")
        self.output.extend(line.decode(errors="replace") for line in complete)
        self._drain = threading.Thread(
            target=self._drain_stdout, daemon=True, name="demo-stdout"
        )
        self._drain.start()

    def __repr__(self) -> str:
        return f"DemoProcess(url={self.url!r}, pid={self.pid})"

    @property
    def running(self) -> bool:
        """Whether the child process has not exited yet."""
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> int:
        """Stop the child: SIGTERM, wait up to `timeout` s, then SIGKILL."""
        if self.process.poll() is None:
            _close_quietly(self.process.stdin)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        _close_quietly(self.process.stdin)
        if not self._stderr.closed:
            self._final_stderr = _read_tail(self._stderr, 4000)
            self._stderr.close()
        return self.process.returncode

    def stderr_tail(self, max_chars: int = 4000) -> str:
        """Return the end of the child's standard error, for diagnostics."""
        if self._stderr.closed:
            return self._final_stderr[-max_chars:]
        return _read_tail(self._stderr, max_chars)

    def __enter__(self) -> DemoProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _drain_stdout(self) -> None:
        # Reading keeps the pipe from filling up and blocking the child.
        assert self.process.stdout is not None
        for line in self.process.stdout:
            line, self._partial = self._partial + line, b""
            self.output.append(line.decode(errors="replace").rstrip("\n"))


def start_demo(
    *,
    scenario: str = "steady",
    seed: int | None = None,
    port: int = 0,
    phase_seconds: float | None = None,
    rate: float | None = None,
    extra_args: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 20.0,
) -> DemoProcess:
    """Start `python -m haven_top.demo` and return once it accepts connections.

    `env` entries are added to this process's environment. Raises
    `DemoStartError` when the child exits or prints no ready line in `timeout`.
    """
    command = [sys.executable, "-m", "haven_top.demo", "--ready-json"]
    command += ["--scenario", scenario, "--port", str(port)]
    if seed is not None:
        command += ["--seed", str(seed)]
    if phase_seconds is not None:
        command += ["--phase-seconds", str(phase_seconds)]
    if rate is not None:
        command += ["--rate", str(rate)]
    command += ["--exit-on-stdin-eof", "--parent-pid", str(os.getpid())]
    if threading.current_thread() is threading.main_thread():
        command.append("--parent-death-signal")
    command += list(extra_args)
    child_env = {**os.environ, **(env or {})}
    # An unnamed file disappears with this process, however it ends.
    stderr = tempfile.TemporaryFile(prefix="haven-demo-")
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=child_env,
    )
    try:
        ready, rest = _read_ready_line(process, timeout)
    except DemoStartError as exc:
        _kill(process)
        detail = _tail(stderr)
        stderr.close()
        raise DemoStartError(f"{exc}{detail}") from None
    return DemoProcess(process, stderr, ready, rest)


def _read_ready_line(
    process: subprocess.Popen[bytes], timeout: float
) -> tuple[dict[str, Any], bytes]:
    """Return the parsed JSON ready line and any output read after it."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DemoStartError(
                    f"demo service printed no ready line within {timeout:g} s."
                    " Raise the timeout or check the output below"
                )
            if not selector.select(remaining):
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                code = process.wait()
                raise DemoStartError(
                    f"demo service exited with status {code} before it was ready."
                    " Check its arguments and the output below"
                )
            buffer += chunk
    line, rest = buffer.split(b"\n", 1)
    try:
        return json.loads(line), rest
    except ValueError:
        raise DemoStartError(
            f"demo service printed {line[:200]!r} instead of its JSON ready line"
        ) from None


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()
    _close_quietly(process.stdin)
    _close_quietly(process.stdout)


def _tail(stderr: IO[bytes], max_chars: int = 2000) -> str:
    text = _read_tail(stderr, max_chars).strip()
    return f"\n--- demo stderr ---\n{text}" if text else ""


def _read_tail(stderr: IO[bytes], max_chars: int) -> str:
    # pread leaves the file offset alone, and the child shares that offset.
    size = os.fstat(stderr.fileno()).st_size
    start = max(0, size - max_chars)
    return os.pread(stderr.fileno(), size - start, start).decode(errors="replace")


def _close_quietly(stream: IO[bytes] | None) -> None:
    if stream is not None:
        try:
            stream.close()
        except OSError:
            pass
