"""Log sources over real streams: the demo's WebSocket, files, pipes, commands."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from haven_top.core.logstore import LogStore
from haven_top.sources.log_files import (
    CommandLogSource,
    FileLogSource,
    PipeLogSource,
    command_argv,
)
from haven_top.sources.log_websocket import Backoff, WebSocketLogSource, stream_url
from haven_top.sources.logstreams import LineSplitter, LogHub, LogSource


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `check` until it holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def running(
    sources: list[LogSource], body: Callable[[LogHub], Awaitable[None]]
) -> LogHub:
    hub = LogHub(LogStore(10_000), flush_interval=0.02)
    hub.start(sources)
    try:
        await body(hub)
    finally:
        await hub.stop()
    return hub


def state(hub: LogHub, name: str) -> str:
    status = hub.statuses.get(name)
    return status.state if status else ""


def messages(hub: LogHub) -> list[str]:
    return [record.message for record in hub.store.records()]


def test_line_splitter_keeps_partial_lines() -> None:
    splitter = LineSplitter(max_line=10)
    assert splitter.feed(b"one\r\ntw") == [b"one"]
    assert splitter.feed(b"o\n\nthree") == [b"two"]
    assert splitter.feed(b"-and-more-than-ten") == [b"three-and-", b"more-than-"]
    assert splitter.flush() == [b"ten"]


def test_backoff_doubles_and_caps() -> None:
    rng = random.Random(1)
    backoff = Backoff(base=0.5, maximum=30)
    delays = [backoff.delay(attempt, rng) for attempt in range(1, 12)]
    assert 0.25 <= delays[0] <= 0.5
    assert 1.0 <= delays[2] <= 2.0
    assert all(15 <= delay <= 30 for delay in delays[8:])


def test_stream_url_forms() -> None:
    assert stream_url("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/logs/stream"
    assert (
        stream_url("https://h/base/", level="WARNING")
        == "wss://h/base/logs/stream?level=WARNING"
    )


async def test_websocket_reads_demo_records(demo) -> None:  # noqa: ANN001
    source = WebSocketLogSource(demo.url, token=demo.token)

    async def body(hub: LogHub) -> None:
        await until(lambda: hub.store.received >= 5)

    hub = await running([source], body)
    records = list(hub.store.records())
    assert records[0].instance == source.instance
    assert any(record.request_id for record in records)
    assert any(record.level_name == "INFO" for record in records)


async def test_websocket_bad_token_rejected_then_retried(start_demo) -> None:  # noqa: ANN001
    service = start_demo(extra_args=["--require-log-token"])
    bad = WebSocketLogSource(service.url, token="wrong", backoff=Backoff(0.05, 0.2))
    good = WebSocketLogSource(service.url, token=service.token)
    good.name = "good"

    async def body(hub: LogHub) -> None:
        await until(lambda: bad.attempts >= 3)
        await until(lambda: hub.store.received > 0)
        assert state(hub, bad.name) in ("rejected", "connecting")
        status = hub.statuses[bad.name]
        assert "1008" in status.detail or status.state == "connecting"

    hub = await running([bad, good], body)
    assert state(hub, "good") == "connected"


async def test_websocket_reconnects_after_restart(start_demo) -> None:  # noqa: ANN001
    first = start_demo()
    port = first.url.rsplit(":", 1)[1]
    source = WebSocketLogSource(first.url, backoff=Backoff(0.05, 0.3))

    async def body(hub: LogHub) -> None:
        await until(lambda: state(hub, source.name) == "connected")
        await until(lambda: hub.store.received > 0)
        first.stop()
        await until(lambda: state(hub, source.name) in ("retrying", "connecting"))
        kept = hub.store.received
        await until(lambda: source.attempts >= 2)
        start_demo(port=int(port))
        await until(lambda: hub.store.received > kept, timeout=20)
        assert kept > 0

    hub = await running([source], body)
    assert state(hub, source.name) == "connected"


async def test_websocket_stalled_handshake_retries() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    source = WebSocketLogSource(
        f"http://127.0.0.1:{port}", open_timeout=0.2, backoff=Backoff(0.05, 0.1)
    )

    async def body(hub: LogHub) -> None:
        await until(lambda: source.attempts >= 2)
        assert "no handshake within 0.2 s" in hub.statuses[source.name].detail

    try:
        await running([source], body)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_websocket_refused_port_retries() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    source = WebSocketLogSource(f"http://127.0.0.1:{port}", backoff=Backoff(0.05, 0.1))

    async def body(hub: LogHub) -> None:
        await until(lambda: source.attempts >= 2)
        assert "connection refused" in hub.statuses[source.name].detail
        assert state(hub, source.name) in ("retrying", "connecting")

    await running([source], body)


async def test_file_follows_rotation_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("".join(f"old {i}\n" for i in range(50)))
    source = FileLogSource(path, start_lines=3, poll_interval=0.02)

    async def body(hub: LogHub) -> None:
        await until(lambda: messages(hub) == ["old 47", "old 48", "old 49"])
        with path.open("a") as out:
            out.write("appended\npart")
        await until(lambda: messages(hub)[-1:] == ["appended"])
        with path.open("a") as out:
            out.write("ial\n")
        await until(lambda: messages(hub)[-1:] == ["partial"])
        with path.open("a") as out:
            out.write("last before rotation\n")
        path.rename(tmp_path / "app.log.1")
        path.write_text("new file 1\n")
        await until(lambda: messages(hub)[-1:] == ["new file 1"])
        assert "last before rotation" in messages(hub)
        path.write_text("")
        await until(lambda: "truncation" in hub.statuses[source.name].detail)
        with path.open("a") as out:
            out.write("after truncation\n")
        await until(lambda: messages(hub)[-1:] == ["after truncation"])

    await running([source], body)


async def test_file_missing_then_created(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    source = FileLogSource(path, poll_interval=0.02)

    async def body(hub: LogHub) -> None:
        await until(lambda: state(hub, source.name) == "waiting")
        path.write_text('{"level": "ERROR", "message": "born"}\n')
        await until(lambda: messages(hub) == ["born"])

    await running([source], body)


async def test_pipe_reads_until_end() -> None:
    read_fd, write_fd = os.pipe()
    source = PipeLogSource(read_fd)

    async def body(hub: LogHub) -> None:
        os.write(write_fd, b'{"level": "INFO", "message": "piped"}\nraw line\n')
        await until(lambda: messages(hub) == ["piped", "raw line"])
        os.write(write_fd, b"no newline at end")
        os.close(write_fd)
        await until(lambda: state(hub, "stdin") == "exited")

    try:
        hub = await running([source], body)
    finally:
        os.close(read_fd)
    assert messages(hub)[-1] == "no newline at end"


async def test_command_output_and_exit_status() -> None:
    script = "import sys; print('hello'); print('oops', file=sys.stderr); sys.exit(3)"
    source = CommandLogSource(f'{sys.executable} -c "{script}"')

    async def body(hub: LogHub) -> None:
        await until(lambda: state(hub, source.name) == "exited")

    hub = await running([source], body)
    assert sorted(messages(hub)) == ["hello", "oops"]
    assert hub.statuses[source.name].detail == "exited with status 3"


async def test_command_stopped_with_hub() -> None:
    source = CommandLogSource(
        f"{sys.executable} -c \"import time; print('up', flush=True); time.sleep(60)\""
    )
    pid: list[int] = []

    async def body(hub: LogHub) -> None:
        await until(lambda: messages(hub) == ["up"])
        pid.append(int(hub.statuses[source.name].detail.split()[1]))

    await running([source], body)
    with pytest.raises(ProcessLookupError):
        os.kill(pid[0], 0)


async def test_command_not_found_reported() -> None:
    source = CommandLogSource("no-such-command-for-haven-top --flag")

    async def body(hub: LogHub) -> None:
        await until(lambda: state(hub, source.name) == "failed")
        assert "no-such-command-for-haven-top" in hub.statuses[source.name].detail

    await running([source], body)


def test_command_argv_uses_shell_only_when_needed() -> None:
    assert command_argv("journalctl -fu haven -o cat") == [
        "journalctl",
        "-fu",
        "haven",
        "-o",
        "cat",
    ]
    assert command_argv("kubectl logs -f x | grep api")[:2] == ["/bin/sh", "-c"]


async def test_hub_drops_overflow_and_counts() -> None:
    hub = LogHub(LogStore(100))
    for _ in range(5):
        hub.add_lines("a", [b"x"] * 100)
    hub.flush()
    assert hub.received == 500
    assert len(hub.store) == 100
    assert hub.evicted == 400
