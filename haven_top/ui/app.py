"""The haven-top Textual application and the data provider it reads from."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from textual.app import App
from textual.binding import Binding
from textual.filter import LineFilter, Monochrome, NoColor
from textual.screen import Screen

from haven_top.core.snapshot import Snapshot
from haven_top.sources.admin import AdminOptions
from haven_top.sources.logstreams import LogHub, LogSource
from haven_top.ui import themes
from haven_top.ui.screens.help import HelpScreen
from haven_top.ui.screens.main import MainScreen

logger = logging.getLogger(__name__)


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

    CSS_PATH = "app.tcss"
    TITLE = "haven-top"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding(
            "question_mark",
            "help",
            "Help",
            id="help",
            tooltip="Show the keys and what each pane means.",
        ),
        Binding("q", "quit", "Quit", id="quit", tooltip="Stop monitoring and exit."),
        # Textual binds ctrl+c to a hint that names the quit key, but operators
        # of top-like tools press ctrl+c to leave. Priority makes it quit from
        # a text field too.
        Binding(
            "ctrl+c",
            "quit",
            "Quit",
            id="interrupt",
            show=False,
            priority=True,
            tooltip="Stop monitoring and exit, also from a text field.",
        ),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-medium"), (180, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    def __init__(
        self,
        provider: SnapshotProvider | None,
        *,
        interval: float = 1.0,
        window_seconds: float = 60.0,
        theme: str | None = None,
        no_color: bool = False,
        read_only: bool = False,
        keymap: dict[str, str] | None = None,
        themes_dir: Path | None = None,
        admin: AdminOptions | None = None,
        log_hub: LogHub | None = None,
        log_sources: Sequence[LogSource] = (),
        log_filter: str = "",
    ) -> None:
        super().__init__()
        self.provider = provider
        self.log_hub = log_hub
        """Merges `log_sources` into its store; None when there are no logs."""
        self.log_sources = tuple(log_sources)
        self.log_filter = log_filter
        self.interval = interval
        self.window_seconds = window_seconds
        self.read_only = read_only
        self.admin = admin
        """Token and transport options for the debug key; unused when read-only."""
        self.colourless = no_color or no_color_requested()
        self.set_class(self.colourless, "-no-color")
        self.haven_theme_names: list[str] = []
        """Names of the bundled and user themes, without Textual's own."""
        self.theme_errors = self._register_themes(themes_dir)
        self.theme = self._pick_theme(theme)
        if keymap:
            self.set_keymap(keymap)

    def _register_themes(self, themes_dir: Path | None) -> list[str]:
        loaded, errors = themes.haven_themes(themes_dir)
        for theme in loaded:
            self.register_theme(theme)
        self.haven_theme_names = [theme.name for theme in loaded]
        return errors

    def _pick_theme(self, requested: str | None) -> str:
        if self.colourless:
            return themes.TERMINAL_THEME
        name = requested or themes.DEFAULT_THEME
        if name not in self.available_themes:
            raise themes.ThemeError(
                themes.unknown_theme_message(
                    name, self.haven_theme_names, self.theme_errors
                )
            )
        return name

    def get_default_screen(self) -> Screen:
        if self.provider is None and self.log_hub is not None:
            from haven_top.ui.screens.logs import LogsScreen

            return LogsScreen(self.log_hub, initial_filter=self.log_filter)
        return MainScreen(
            self.provider,
            interval=self.interval,
            window_seconds=self.window_seconds,
            read_only=self.read_only,
            admin=self.admin,
            log_hub=self.log_hub,
            log_filter=self.log_filter,
        )

    async def on_mount(self) -> None:
        for error in self.theme_errors:
            self.notify(error, title="Theme skipped", severity="warning", markup=False)
        if self.log_hub is not None:
            self.log_hub.start(self.log_sources)
        if self.provider is not None:
            await self.provider.start()

    async def on_unmount(self) -> None:
        if self.log_hub is not None:
            await self.log_hub.stop()
        if self.provider is not None:
            await self.provider.stop()

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Return Textual's filters, without colour when NO_COLOR or no_color is set.

        Textual 8 itself greys colours (`Monochrome`) whenever NO_COLOR is set,
        even to "". Here an empty NO_COLOR keeps colour, as no-color.org says,
        and a non-empty one drops it entirely (`NoColor`), leaving bold and
        reverse to mark state.
        """
        filters = [
            line_filter
            for line_filter in super().get_line_filters()
            if not isinstance(line_filter, Monochrome | NoColor)
        ]
        if self.colourless:
            filters.append(_NO_COLOR_FILTER)
        return filters

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.key_help()))

    def key_help(self) -> list[tuple[str, str, str]]:
        """(key, name, what it does) of each visible binding, as the keymap set it.

        The ctrl+c binding is hidden from the footer, which has no room for two
        quit keys, but listed here.
        """
        rows = []
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.show or binding.id == "interrupt":
                key = self.get_key_display(binding)
                rows.append((key, binding.description, binding.tooltip))
        return rows


_NO_COLOR_FILTER = NoColor()


def no_color_requested() -> bool:
    """True when the NO_COLOR environment variable is set and not empty."""
    return bool(os.environ.get("NO_COLOR"))


def make_app(
    provider: SnapshotProvider | None,
    *,
    interval: float = 1.0,
    theme: str | None = None,
    window_seconds: float = 60.0,
    no_color: bool = False,
    read_only: bool = False,
    keymap: dict[str, str] | None = None,
    themes_dir: Path | None = None,
    admin: AdminOptions | None = None,
    log_hub: LogHub | None = None,
    log_sources: Sequence[LogSource] = (),
    log_filter: str = "",
) -> HavenTopApp:
    """Build the app; the CLI and the tests share this constructor.

    Raises `ThemeError` for an unknown `theme`. With `provider` None and a
    `log_hub`, the app shows the logs alone. `keymap` maps binding ids
    ("pause", "window", "sort", "help", "quit", "interrupt" for ctrl+c) to keys.
    """
    return HavenTopApp(
        provider,
        interval=interval,
        window_seconds=window_seconds,
        theme=theme,
        no_color=no_color,
        read_only=read_only,
        keymap=keymap,
        themes_dir=themes_dir,
        admin=admin,
        log_hub=log_hub,
        log_sources=log_sources,
        log_filter=log_filter,
    )
