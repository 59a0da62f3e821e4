"""The haven-top Textual application and the data provider it reads from."""

from __future__ import annotations

from typing import Protocol

from textual.app import App
from textual.binding import Binding

from haven_top.core.snapshot import Snapshot


class SnapshotProvider(Protocol):
    """Source of snapshots that the app polls; the `Collector` is the real one."""

    async def start(self) -> None:
        """Begin collecting in background tasks of the running event loop."""

    async def stop(self) -> None:
        """Cancel the background tasks and close connections."""

    def snapshot(
        self,
        *,
        window_seconds: float,
        selected_target: str | None = None,
        endpoint_sort: str = "rate",
        endpoint_limit: int | None = None,
    ) -> Snapshot:
        """Build a snapshot of the latest data; must return quickly and not block."""
        ...

    @property
    def progress(self) -> str:
        """One line describing the connection while no data flows yet, else ""."""
        ...


class HavenTopApp(App[None]):
    """Live dashboard of one or more Haven instances."""

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self, provider: SnapshotProvider, *, interval: float = 1.0) -> None:
        super().__init__()
        self.provider = provider
        self.interval = interval


def make_app(provider: SnapshotProvider, *, interval: float = 1.0) -> HavenTopApp:
    """Build the app; the CLI and the tests share this constructor."""
    return HavenTopApp(provider, interval=interval)
