"""A traffic generator that calls the demo's records API over real HTTP.

`RequestPlanner` decides what to send and depends only on its seed, so a
seeded run sends the same sequence of requests. `TrafficGenerator` sends
that sequence at a fixed rate with a cap on requests in flight.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger("haven.traffic")

RECORDS = "/api/v1/records"
RECORD = "/api/v1/records/{id}"
# (method, route template, weight) for the request mix.
REQUEST_MIX = (
    ("GET", RECORDS, 30),
    ("GET", RECORD, 40),
    ("POST", RECORDS, 12),
    ("PUT", RECORD, 12),
    ("DELETE", RECORD, 6),
)
WORDS = ("alpha", "beacon", "cedar", "delta", "ember", "fjord", "glacier", "harbor")


@dataclass(frozen=True)
class PlannedRequest:
    """One request the generator will send."""

    method: str
    endpoint: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, str] | None = None


class RequestPlanner:
    """Produce a request sequence that depends only on the seed."""

    def __init__(self, seed: int | None, *, known_records: int = 25) -> None:
        self.rng = random.Random(seed)
        self.highest_id = max(known_records, 1)
        self._choices = [(method, endpoint) for method, endpoint, _ in REQUEST_MIX]
        self._weights = [weight for _, _, weight in REQUEST_MIX]

    def next(self) -> PlannedRequest:
        """Return the next request in the sequence."""
        method, endpoint = self.rng.choices(self._choices, self._weights)[0]
        if endpoint == RECORDS and method == "GET":
            params = {"limit": str(self.rng.choice((5, 10, 20, 50)))}
            return PlannedRequest(method, endpoint, RECORDS, params=params)
        if endpoint == RECORDS:
            self.highest_id += 1
            return PlannedRequest(method, endpoint, RECORDS, body=self._body())
        # A few ids past the newest one give realistic 404s.
        record_id = self.rng.randint(1, self.highest_id + 3)
        path = RECORD.format(id=record_id)
        body = self._body() if method == "PUT" else None
        return PlannedRequest(method, endpoint, path, body=body)

    def _body(self) -> dict[str, Any]:
        name = f"{self.rng.choice(WORDS)}-{self.rng.randint(1, 9999)}"
        return {"name": name, "value": round(self.rng.uniform(0, 1000), 2)}


def plan_requests(seed: int | None, count: int) -> list[PlannedRequest]:
    """Return the first `count` requests that a generator with `seed` sends."""
    planner = RequestPlanner(seed)
    return [planner.next() for _ in range(count)]


class TrafficGenerator:
    """Send planned requests to `base_url` at `rate` per second until cancelled."""

    def __init__(
        self,
        base_url: str,
        *,
        rate: float = 20.0,
        seed: int | None = None,
        max_in_flight: int = 64,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"traffic rate must be positive, got {rate}")
        self.base_url = base_url
        self.rate = rate
        self.max_in_flight = max_in_flight
        self.planner = RequestPlanner(seed)
        self.sent = 0
        self.skipped = 0
        self.failed = 0

    async def run(self) -> None:
        """Send requests until the task is cancelled."""
        limits = httpx.Limits(max_connections=self.max_in_flight)
        timeout = httpx.Timeout(10.0)
        in_flight: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(
            base_url=self.base_url, limits=limits, timeout=timeout, trust_env=False
        ) as client:
            try:
                await self._pace(client, in_flight)
            finally:
                for task in in_flight:
                    task.cancel()
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _pace(
        self, client: httpx.AsyncClient, in_flight: set[asyncio.Task[None]]
    ) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rate
        next_at = loop.time()
        while True:
            planned = self.planner.next()
            if len(in_flight) < self.max_in_flight:
                task = asyncio.create_task(self._send(client, planned))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            else:
                self.skipped += 1
            next_at += interval
            now = loop.time()
            if next_at < now - 1.0:
                # After a stall, resume the pace instead of bursting to catch up.
                next_at = now
            await asyncio.sleep(max(0.0, next_at - now))

    async def _send(self, client: httpx.AsyncClient, planned: PlannedRequest) -> None:
        try:
            await client.request(
                planned.method, planned.path, json=planned.body, params=planned.params
            )
            self.sent += 1
        except httpx.HTTPError as exc:
            self.failed += 1
            if self.failed == 1 or self.failed % 100 == 0:
                log.warning(
                    "Traffic request failed: %s %s: %r",
                    planned.method,
                    planned.path,
                    exc,
                    extra={"fields": {"failed_total": self.failed}},
                )
