"""The bundled demo Haven service, tested over real HTTP and WebSocket connections."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from haven_top.demo import launcher
from haven_top.demo.launcher import DemoProcess
from haven_top.demo.logs import Subscriber
from haven_top.demo.pool import ConnectionPool, PoolTimeout
from haven_top.demo.traffic import RECORD, RECORDS, plan_requests

LOG_FIELDS = {"request_id", "method", "path", "status_code", "duration_ms"}
PROCESS_SERIES = {
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
    "python_info",
    "python_gc_collections_total",
}


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, trust_env=False, timeout=10, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, trust_env=False, timeout=10, **kwargs)


def samples(demo_url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Scrape /metrics and group the sample labels and values by sample name."""
    text = get(f"{demo_url}/metrics").text
    grouped: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            grouped.setdefault(sample.name, []).append((sample.labels, sample.value))
    return grouped


def wait_for(condition: Callable[[], Any], timeout: float, description: str) -> Any:
    """Poll `condition` until it returns a true value or `timeout` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {description}")


def ws_url(process: DemoProcess, query: str = "") -> str:
    base = process.url.replace("http://", "ws://") + "/logs/stream"
    return f"{base}?{query}" if query else base


def bearer(process: DemoProcess, token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or process.token}"}


async def read_records(
    websocket: websockets.ClientConnection,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 10.0,
) -> list[dict[str, Any]]:
    """Collect stream records until one satisfies `until`."""
    records: list[dict[str, Any]] = []

    async def collect() -> list[dict[str, Any]]:
        while True:
            message = await websocket.recv()
            for line in message.splitlines():
                records.append(json.loads(line))
                if until(records[-1]):
                    return records

    return await asyncio.wait_for(collect(), timeout)


def is_processed(request_id: str) -> Callable[[dict[str, Any]], bool]:
    def check(record: dict[str, Any]) -> bool:
        extra = record.get("extra", {})
        return (
            record["message"] == "Request processed"
            and extra.get("request_id") == request_id
        )

    return check


def test_metrics_expose_haven_series(demo: DemoProcess) -> None:
    wait_for(
        lambda: "haven_request_duration_seconds_bucket" in samples(demo.url),
        10,
        "generated traffic to show up in the histogram",
    )
    series = samples(demo.url)
    for labels, _ in series["haven_requests_total"]:
        assert set(labels) == {"method", "endpoint", "status"}
    endpoints = {labels["endpoint"] for labels, _ in series["haven_requests_total"]}
    assert endpoints & {RECORDS, RECORD}
    assert all("{" in e or not e[-1].isdigit() for e in endpoints)
    for name in ("_bucket", "_sum", "_count"):
        for labels, _ in series[f"haven_request_duration_seconds{name}"]:
            assert {"method", "endpoint"} <= set(labels)
    assert series["haven_db_pool_size"] == [({}, 10.0)]
    assert "haven_db_connections" in series
    assert PROCESS_SERIES <= set(series)


def test_metrics_content_types(demo: DemoProcess) -> None:
    plain = get(f"{demo.url}/metrics")
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    openmetrics = get(
        f"{demo.url}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
    )
    assert openmetrics.headers["content-type"].startswith(
        "application/openmetrics-text"
    )
    assert openmetrics.text.rstrip().endswith("# EOF")


def test_health_endpoints(demo: DemoProcess) -> None:
    live = get(f"{demo.url}/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "alive"}
    ready = get(f"{demo.url}/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "dependencies": {"database": "healthy", "cache": "healthy"},
    }


def test_request_id_echoed_or_generated(demo: DemoProcess) -> None:
    echoed = get(f"{demo.url}/health/live", headers={"X-Request-ID": "haven-top-7"})
    assert echoed.headers["x-request-id"] == "haven-top-7"
    generated = get(f"{demo.url}/api/v1/records/1").headers["x-request-id"]
    assert uuid.UUID(generated).version == 4
    missing = get(f"{demo.url}/no/such/path")
    assert missing.status_code == 404
    assert "x-request-id" in missing.headers


def test_records_api_round_trip(demo: DemoProcess) -> None:
    created = post(f"{demo.url}/api/v1/records", json={"name": "t", "value": 1.5})
    assert created.status_code == 201
    record_url = f"{demo.url}/api/v1/records/{created.json()['id']}"
    updated = httpx.put(
        record_url, json={"name": "u", "value": 2}, trust_env=False, timeout=10
    )
    assert updated.json()["name"] == "u"
    assert httpx.delete(record_url, trust_env=False).status_code == 204
    assert get(record_url).status_code == 404
    invalid = post(f"{demo.url}/api/v1/records", json={"name": "", "value": "x"})
    assert invalid.status_code == 422
    assert get(f"{demo.url}/api/v1/records", params={"limit": "0"}).status_code == 400


@pytest.fixture(scope="module")
def incident() -> Iterator[DemoProcess]:
    """A demo service cycling through a compressed incident, ~9 s per cycle."""
    with launcher.start_demo(scenario="incident", seed=7, phase_seconds=1.5) as proc:
        yield proc


def phase_of(process: DemoProcess) -> str:
    return get(f"{process.url}/demo/state").json()["phase"]


def test_incident_error_burst_counts_500s(incident: DemoProcess) -> None:
    def errors() -> float:
        series = samples(incident.url).get("haven_requests_total", [])
        return sum(value for labels, value in series if labels["status"] == "500")

    wait_for(lambda: errors() >= 3, 25, "the error burst to produce 500 responses")


def test_incident_readiness_flaps(incident: DemoProcess) -> None:
    ready = f"{incident.url}/health/ready"
    wait_for(lambda: get(ready).status_code == 503, 25, "readiness to fail")
    failing = get(ready)
    if failing.status_code == 503:
        assert failing.json()["status"] == "not ready"
        assert failing.json()["error"]
    wait_for(lambda: get(ready).status_code == 200, 25, "readiness to recover")


def test_incident_pool_gauge_fills(incident: DemoProcess) -> None:
    def in_use() -> float:
        return samples(incident.url)["haven_db_connections"][0][1]

    def saturated() -> bool:
        return phase_of(incident) == "pool_saturation" and in_use() >= 8

    # Polls across cycles, so a slow machine that misses one phase gets another.
    wait_for(saturated, 30, "the pool gauge to near capacity during saturation")
    wait_for(lambda: in_use() <= 2, 15, "the pool gauge to drain after the phase")


def test_log_file_raw_tracebacks(
    start_demo: Callable[..., DemoProcess], tmp_path: Path
) -> None:
    log_file = tmp_path / "haven.log"
    extra_args = ["--log-file", str(log_file), "--raw-tracebacks"]
    start_demo(scenario="incident", phase_seconds=1, extra_args=extra_args)
    wait_for(
        lambda: "Traceback (most recent call last):" in log_file.read_text(),
        15,
        "an injected error's traceback in the log file",
    )
    lines = log_file.read_text().splitlines()
    assert lines[0].startswith("Haven demo service starting")
    assert any(
        json.loads(line)["level"] == "ERROR"
        for line in lines[1:4000]
        if line.startswith("{")
    )
    assert any(not line.startswith("{") for line in lines[1:])


def test_pool_checkout_times_out_when_full(tmp_path: Path) -> None:
    pool = ConnectionPool(tmp_path / "pool.db", capacity=1)
    with pool.connection(timeout=1.0):
        assert pool.in_use == 1
        with pytest.raises(PoolTimeout), pool.connection(timeout=0.05):
            pass
    assert pool.in_use == 0
    pool.close()


def test_admin_debug_rejects_missing_and_bad_token(
    start_demo: Callable[..., DemoProcess],
) -> None:
    process = start_demo(scenario="none")
    url = f"{process.url}/admin/debug"
    body = {"enabled": True, "duration": 5}
    assert post(url, json=body).status_code == 401
    assert post(url, json=body, headers=bearer(process, "wrong")).status_code == 401
    assert post(url, json={"duration": 5}, headers=bearer(process)).status_code == 422


def test_admin_debug_turns_on_then_expires(
    start_demo: Callable[..., DemoProcess],
) -> None:
    process = start_demo(scenario="none")
    url = f"{process.url}/admin/debug"
    reply = post(url, json={"enabled": True, "duration": 1}, headers=bearer(process))
    assert reply.status_code == 200
    assert reply.json()["enabled"] is True
    assert reply.json()["level"] == "DEBUG"
    assert datetime.fromisoformat(reply.json()["expires_at"].replace("Z", "+00:00"))

    def debug_state() -> dict[str, Any]:
        return get(url, headers=bearer(process)).json()

    assert debug_state()["enabled"] is True
    wait_for(lambda: not debug_state()["enabled"], 5, "debug logging to expire")
    assert debug_state() == {"enabled": False, "level": "INFO", "expires_at": None}


def test_admin_debug_absent_returns_404(
    start_demo: Callable[..., DemoProcess],
) -> None:
    process = start_demo(scenario="none", extra_args=["--no-debug-endpoint"])
    reply = post(
        f"{process.url}/admin/debug", json={"enabled": True}, headers=bearer(process)
    )
    assert reply.status_code == 404


async def test_stream_sends_request_records(demo: DemoProcess) -> None:
    request_id = f"stream-{uuid.uuid4()}"
    async with websockets.connect(ws_url(demo, "level=INFO")) as websocket:
        await asyncio.to_thread(
            get, f"{demo.url}/health/live", headers={"X-Request-ID": request_id}
        )
        records = await read_records(websocket, is_processed(request_id))
    record = records[-1]
    assert record["level"] == "INFO"
    assert record["logger"] == "haven.api"
    assert record["timestamp"].endswith("Z")
    assert set(record["extra"]) == LOG_FIELDS
    assert record["extra"]["path"] == "/health/live"
    assert all(r["level"] != "DEBUG" for r in records)


async def test_stream_filters_by_request_id(demo: DemoProcess) -> None:
    request_id = f"only-{uuid.uuid4()}"
    query = f"request_id={request_id}"
    async with websockets.connect(ws_url(demo, query)) as websocket:
        await asyncio.to_thread(
            get, f"{demo.url}/api/v1/records", headers={"X-Request-ID": request_id}
        )
        records = await read_records(websocket, is_processed(request_id))
    assert {r["extra"]["request_id"] for r in records} == {request_id}


async def test_stream_filters_by_level(start_demo: Callable[..., DemoProcess]) -> None:
    process = start_demo(scenario="none")
    async with websockets.connect(ws_url(process, "level=WARNING")) as websocket:
        await asyncio.to_thread(get, f"{process.url}/health/live")
        # A rejected admin call logs a WARNING after its own INFO record.
        await asyncio.to_thread(post, f"{process.url}/admin/debug", json={})
        records = await read_records(websocket, lambda r: r["level"] == "WARNING")
    assert [r["logger"] for r in records] == ["haven.admin"]


async def test_stream_includes_debug_while_enabled(
    start_demo: Callable[..., DemoProcess],
) -> None:
    process = start_demo(scenario="none")
    request_id = f"debug-{uuid.uuid4()}"
    async with websockets.connect(ws_url(process)) as websocket:
        await asyncio.to_thread(
            post,
            f"{process.url}/admin/debug",
            json={"enabled": True, "duration": 30},
            headers=bearer(process),
        )
        await asyncio.to_thread(
            get, f"{process.url}/api/v1/records/1", headers={"X-Request-ID": request_id}
        )
        records = await read_records(websocket, is_processed(request_id))
    debug = [r for r in records if r["level"] == "DEBUG"]
    assert {r["message"] for r in debug} >= {"pool checkout", "query executed"}
    assert {r["extra"]["request_id"] for r in debug} == {request_id}


async def test_stream_token_required(start_demo: Callable[..., DemoProcess]) -> None:
    process = start_demo(scenario="none", extra_args=["--require-log-token"])
    for headers in ({}, bearer(process, "wrong")):
        async with websockets.connect(
            ws_url(process), additional_headers=headers
        ) as websocket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(websocket.recv(), 5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
    async with websockets.connect(
        ws_url(process), additional_headers=bearer(process)
    ) as websocket:
        await asyncio.to_thread(get, f"{process.url}/health/live")
        assert await asyncio.wait_for(websocket.recv(), 5)


def test_subscriber_drops_oldest_when_full() -> None:
    loop = asyncio.new_event_loop()
    try:
        subscriber = Subscriber(loop, max_queued=3)
        for index in range(5):
            subscriber.offer(str(index))
        lines, dropped = subscriber.take(10)
    finally:
        loop.close()
    assert lines == ["2", "3", "4"]
    assert dropped == 2


def test_request_plan_repeats_for_seed() -> None:
    first = plan_requests(42, 300)
    assert first == plan_requests(42, 300)
    assert first != plan_requests(43, 300)
    assert {(r.method, r.endpoint) for r in first} == {
        ("GET", RECORDS),
        ("GET", RECORD),
        ("POST", RECORDS),
        ("PUT", RECORD),
        ("DELETE", RECORD),
    }


def test_sigint_stops_cleanly(start_demo: Callable[..., DemoProcess]) -> None:
    process = start_demo(scenario="steady", rate=50)
    database = Path(get(f"{process.url}/demo/state").json()["database"])
    assert database.exists()
    process.process.send_signal(signal.SIGINT)
    assert process.process.wait(10) == 0
    assert not database.parent.exists()


def process_gone(pid: int) -> bool:
    """Whether `pid` has exited; a zombie left for init to reap counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


PARENT_SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from haven_top.demo.launcher import start_demo

    def launch():
        print(start_demo(scenario="steady").pid, flush=True)

    if sys.argv[1] == "thread":
        # No parent-death signal from a worker thread: stdin EOF must do.
        worker = threading.Thread(target=launch)
        worker.start()
        worker.join()
    else:
        launch()
    time.sleep(60)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("launch_from", ["main", "thread"])
def test_child_dies_with_killed_parent(launch_from: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, launch_from],
        stdout=subprocess.PIPE,
        text=True,
    )
    child_pid = 0
    try:
        child_pid = int(parent.stdout.readline())
        assert not process_gone(child_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        wait_for(lambda: process_gone(child_pid), 10, f"demo pid {child_pid} to exit")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child_pid and not process_gone(child_pid):
            os.kill(child_pid, signal.SIGKILL)
