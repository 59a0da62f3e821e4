"""Shared fixtures: the bundled demo Haven service, run as a real child process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from haven_top.demo import launcher
from haven_top.demo.launcher import DemoProcess

DEMO_SEED = 1234


@pytest.fixture(scope="session")
def demo() -> Iterator[DemoProcess]:
    """One demo service for the whole session: steady traffic, fixed seed.

    Tests must not change its state for good (leave debug mode to expire,
    send no faults); use `start_demo` for a private instance.
    """
    with launcher.start_demo(scenario="steady", seed=DEMO_SEED) as process:
        yield process


@pytest.fixture
def start_demo() -> Iterator[Callable[..., DemoProcess]]:
    """Start private demo services with `launcher.start_demo` keyword arguments.

    Every service started through the factory is stopped when the test ends.
    """
    started: list[DemoProcess] = []

    def factory(**kwargs: Any) -> DemoProcess:
        process = launcher.start_demo(**kwargs)
        started.append(process)
        return process

    yield factory
    for process in started:
        process.stop()
