"""The admin client against the demo service, checked through its log stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import websockets

from haven_top.core.token import Secret
from haven_top.demo import launcher
from haven_top.demo.launcher import DemoProcess
from haven_top.sources.admin import AdminClient, Outcome


@pytest.fixture(scope="module")
def private_demo() -> Iterator[DemoProcess]:
    """A demo of this module's own, because these tests switch its debug mode."""
    with launcher.start_demo(scenario="steady", seed=7, rate=40) as process:
        yield process


def debug_state(demo: DemoProcess) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {demo.token}"}
    response = httpx.get(f"{demo.url}/admin/debug", headers=headers, timeout=5)
    response.raise_for_status()
    return response.json()


async def count_debug_records(demo: DemoProcess, seconds: float) -> int:
    """Count DEBUG records on the demo's log stream during `seconds`."""
    url = demo.url.replace("http://", "ws://") + "/logs/stream"
    count = 0
    deadline = time.monotonic() + seconds
    async with websockets.connect(url) as stream:
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(stream.recv(), left)
            except asyncio.TimeoutError:
                break
            for line in str(message).splitlines():
                if json.loads(line).get("level") == "DEBUG":
                    count += 1
    return count


async def test_enable_then_disable_on_demo(private_demo: DemoProcess) -> None:
    admin = AdminClient(Secret(private_demo.token))

    on = await admin.set_debug(private_demo.url, True, 60)
    assert on.ok, on.message
    assert on.status == 200
    assert on.until is not None
    assert 55 < on.until - time.time() <= 60
    assert debug_state(private_demo)["enabled"] is True
    assert await count_debug_records(private_demo, 1.5) > 0

    off = await admin.set_debug(private_demo.url, False)
    assert off.ok, off.message
    assert debug_state(private_demo)["enabled"] is False
    await asyncio.sleep(0.2)  # records already queued in the stream may still arrive
    assert await count_debug_records(private_demo, 1.5) == 0


async def test_short_duration_expires(private_demo: DemoProcess) -> None:
    admin = AdminClient(Secret(private_demo.token))
    result = await admin.set_debug(private_demo.url, True, 1)
    assert result.ok, result.message
    assert result.until is not None
    assert result.until - time.time() <= 1
    deadline = time.monotonic() + 5
    while debug_state(private_demo)["enabled"] and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert debug_state(private_demo)["enabled"] is False
    assert await count_debug_records(private_demo, 1.0) == 0


async def test_wrong_token_rejected_by_demo(private_demo: DemoProcess) -> None:
    wrong = "not-" + private_demo.token
    result = await AdminClient(Secret(wrong)).set_debug(private_demo.url, True, 30)
    assert result.outcome is Outcome.REJECTED
    assert result.message.startswith(f"admin token rejected by {private_demo.url}")
    assert wrong not in result.message
    assert private_demo.token not in result.message
    assert debug_state(private_demo)["enabled"] is False


async def test_demo_without_endpoint(
    start_demo: Callable[..., DemoProcess],
) -> None:
    bare = start_demo(extra_args=["--no-debug-endpoint"])
    result = await AdminClient(Secret(bare.token)).set_debug(bare.url, True, 30)
    assert result.outcome is Outcome.NO_ENDPOINT
    assert result.message.startswith(f"{bare.url} has no debug endpoint")
    assert result.attempts == 1
