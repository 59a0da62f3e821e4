"""Everything haven-top has learned about its targets, and the snapshots built from it.

INTERFACE STUB: the signatures below are the contract between the sources
(which call the `record_*` methods) and the UI and `--once` (which call
`snapshot`). The metrics core fills in the bodies.
"""

from __future__ import annotations

from collections.abc import Sequence

from haven_top.core.snapshot import SelfStats, Snapshot, SystemStats

ENDPOINT_SORT_KEYS = ("rate", "errors", "p95")


class MonitorState:
    """Per-target sample history plus health, system and debug state.

    Not thread-safe: call it from one event loop or thread.
    """

    def __init__(self, targets: Sequence[str], *, pool_size: float | None = None) -> None:
        """Track `targets` (base URLs); `pool_size` is used when a target has no
        `haven_db_pool_size` gauge."""
        raise NotImplementedError

    @property
    def targets(self) -> tuple[str, ...]:
        raise NotImplementedError

    def record_scrape(
        self, target: str, body: bytes, content_type: str | None, at: float
    ) -> list[str]:
        """Parse one `/metrics` body and store its samples at Unix time `at`.

        Returns one-line warnings, one per malformed line that was skipped.
        Raises `ExpositionError` when the body holds no usable exposition at all.
        """
        raise NotImplementedError

    def record_scrape_failure(self, target: str, message: str, at: float) -> None:
        """Mark `target` down with a one-line reason (refused, timed out, garbage)."""
        raise NotImplementedError

    def record_health(
        self,
        target: str,
        at: float,
        *,
        live: bool | None,
        ready: bool | None,
        dependencies: dict[str, str] | None = None,
        ready_error: str | None = None,
        error: str | None = None,
    ) -> None:
        """Store the outcome of one poll of `/health/live` and `/health/ready`."""
        raise NotImplementedError

    def record_system(self, stats: SystemStats, at: float) -> None:
        raise NotImplementedError

    def record_self(self, stats: SelfStats) -> None:
        raise NotImplementedError

    def set_debug_until(self, target: str, until: float | None) -> None:
        """Remember when remote debug logging on `target` expires (None: off)."""
        raise NotImplementedError

    def has_rates(self) -> bool:
        """True once every reachable target has two scrapes to compute rates from."""
        raise NotImplementedError

    def snapshot(
        self,
        now: float,
        window_seconds: float,
        *,
        selected_target: str | None = None,
        endpoint_sort: str = "rate",
        endpoint_limit: int | None = None,
    ) -> Snapshot:
        """Build the snapshot for the window ending at `now`.

        `endpoint_limit` keeps the top rows by `endpoint_sort` and sums the rest
        into one row with `is_rest=True`.
        """
        raise NotImplementedError
