"""The demo service's state: metrics registry, database pool, faults and logging."""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from haven_top.demo.logs import DebugMode, LogHub, configure_logging
from haven_top.demo.pool import ConnectionPool, RecordStore
from haven_top.demo.scenarios import Faults, ScenarioRunner


@dataclass
class ServiceOptions:
    """Settings fixed at start-up."""

    admin_token: str
    debug_endpoint: bool = True
    require_log_token: bool = False
    pool_capacity: int = 10
    checkout_timeout: float = 1.0
    seed: int | None = None
    seed_records: int = 25
    log_file: str | None = None
    raw_tracebacks: bool = False
    stream_queue_size: int = 1000


class Metrics:
    """The Haven series, on a registry of their own with the process collectors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "haven_requests_total",
            "Total requests",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "haven_request_duration_seconds",
            "Request duration",
            ["method", "endpoint"],
            registry=self.registry,
        )
        self.db_connections = Gauge(
            "haven_db_connections",
            "Active database connections",
            registry=self.registry,
        )
        self.db_pool_size = Gauge(
            "haven_db_pool_size",
            "Capacity of the database connection pool",
            registry=self.registry,
        )
        self.stream_dropped = Counter(
            "haven_log_stream_dropped_records_total",
            "Log records dropped because a stream client read too slowly",
            registry=self.registry,
        )


@dataclass
class DemoService:
    """Everything the routes share; build it with `DemoService.create`."""

    options: ServiceOptions
    metrics: Metrics
    pool: ConnectionPool
    store: RecordStore
    faults: Faults
    hub: LogHub
    debug: DebugMode
    logger: logging.Logger
    rng: random.Random
    data_dir: Path
    scenario: ScenarioRunner | None = None

    @classmethod
    def create(cls, options: ServiceOptions) -> DemoService:
        """Open a fresh database in a temporary folder and wire the metrics."""
        hub = LogHub()
        logger = configure_logging(
            hub, options.log_file, raw_tracebacks=options.raw_tracebacks
        )
        data_dir = Path(tempfile.mkdtemp(prefix="haven-demo-"))
        pool = ConnectionPool(data_dir / "records.db", capacity=options.pool_capacity)
        faults = Faults()
        store = RecordStore(pool, faults, checkout_timeout=options.checkout_timeout)
        store.seed(options.seed_records)
        metrics = Metrics()
        metrics.db_connections.set_function(lambda: pool.in_use)
        metrics.db_pool_size.set(pool.capacity)
        return cls(
            options=options,
            metrics=metrics,
            pool=pool,
            store=store,
            faults=faults,
            hub=hub,
            debug=DebugMode(logger),
            logger=logger,
            rng=random.Random(options.seed),
            data_dir=data_dir,
        )

    def close(self) -> None:
        """Close the pool and remove the temporary database folder."""
        self.debug.disable(reason="service stopping")
        self.pool.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        for handler in list(self.logger.handlers):
            self.logger.removeHandler(handler)
            handler.close()
