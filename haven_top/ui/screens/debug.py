"""Remote debug logging from the dashboard: the confirmation modal, the
controller that sends the requests in workers, and the read-only footer.

The controller never keeps the token as text: it keeps the `Secret` inside an
`AdminClient`, and every message it shows comes from `DebugResult.message`,
which the client builds without the token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.validation import Integer
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet
from textual.widgets._footer import FooterLabel

from haven_top.core.sanitize import visible
from haven_top.core.token import MISSING_TOKEN_MESSAGE
from haven_top.core.urls import redact_url
from haven_top.sources.admin import (
    MAX_DURATION,
    AdminClient,
    AdminOptions,
    DebugResult,
)

logger = logging.getLogger(__name__)

DEFAULT_DURATION = 300
VERIFY_SECONDS = 5.0
"""How long to wait for the first DEBUG record after turning debug on."""
VERIFY_POLL_SECONDS = 0.25
WORKER_GROUP = "admin-debug"
DEBUG_LEVEL = 10
"""Rank of DEBUG in the log store's level column, as in the logging module."""
LIVE_STATES = ("connected", "following")
"""Log source states in which records can arrive."""
NO_LOG_SOURCE_MESSAGE = (
    "debug logging is on, but no log source is connected, so its DEBUG records "
    "cannot be seen: start haven-top with a log source"
)


@dataclass(frozen=True)
class DebugRequest:
    """Request the operator confirmed in the modal."""

    duration: int
    """Seconds debug logging stays on."""
    targets: tuple[str, ...]


class DebugModal(ModalScreen[DebugRequest | None]):
    """Confirmation of turning debug on: the duration and the targets."""

    DEFAULT_CSS = """
    DebugModal {
        align: center middle;
    }
    DebugModal > #debug-dialog {
        width: 72;
        max-width: 100%;
        height: auto;
        padding: 0 1;
        border: thick $warning;
        background: $surface;
    }
    DebugModal #debug-title {
        text-style: bold;
        color: $warning;
    }
    DebugModal #debug-help {
        width: 100%;
        color: $text-muted;
    }
    DebugModal #debug-duration-row {
        height: auto;
    }
    DebugModal #debug-duration-label {
        padding: 1 1 0 0;
    }
    DebugModal #debug-duration {
        width: 16;
    }
    DebugModal #debug-targets {
        width: 100%;
    }
    DebugModal #debug-error {
        color: $error;
        height: auto;
    }
    DebugModal #debug-buttons {
        height: auto;
        align-horizontal: right;
    }
    DebugModal Button {
        margin-left: 1;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="debug-cancel"),
    ]

    def __init__(
        self,
        targets: Sequence[str],
        selected: str | None = None,
        duration: int = DEFAULT_DURATION,
    ) -> None:
        """`targets` are all the monitored targets; `selected` is the one the
        panes are narrowed to, offered as the alternative to all of them.

        `selected` may come as snapshots show it, with its URL's password
        replaced by `***`; it is matched to the real target URL here.
        """
        super().__init__()
        self.targets = tuple(targets)
        self.selected = real_target(selected, self.targets)
        self.duration = duration

    def compose(self) -> ComposeResult:
        count = len(self.targets)
        noun = "target" if count == 1 else "targets"
        with Vertical(id="debug-dialog"):
            yield Label("Turn on debug logging", id="debug-title")
            yield Label(
                "Sends POST /admin/debug. The service switches debug off by "
                "itself when the duration ends; press d again to end it sooner.",
                id="debug-help",
            )
            with Horizontal(id="debug-duration-row"):
                yield Label("Duration in seconds:", id="debug-duration-label")
                yield Input(
                    str(self.duration),
                    type="integer",
                    validators=[Integer(minimum=1, maximum=MAX_DURATION)],
                    id="debug-duration",
                )
            with RadioSet(id="debug-targets"):
                yield RadioButton(f"all {count} {noun}", value=True, id="debug-all")
                label = "selected"
                if self.selected:
                    label = f"selected: {shown_target(self.selected)}"
                yield RadioButton(
                    Content(label), id="debug-selected", disabled=self.selected is None
                )
            yield Label("", id="debug-error")
            with Horizontal(id="debug-buttons"):
                yield Button("Turn on", variant="warning", id="debug-confirm")
                yield Button("Cancel", id="debug-cancel")

    def on_mount(self) -> None:
        self.query_one("#debug-duration", Input).focus()

    @on(Input.Submitted, "#debug-duration")
    @on(Button.Pressed, "#debug-confirm")
    def confirm(self) -> None:
        request = self.build_request()
        if request is not None:
            self.dismiss(request)

    @on(Button.Pressed, "#debug-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def build_request(self) -> DebugRequest | None:
        """Return the confirmed request, or show why the input is invalid."""
        text = self.query_one("#debug-duration", Input).value.strip()
        try:
            duration = int(text)
        except ValueError:
            duration = 0
        if not 1 <= duration <= MAX_DURATION:
            message = (
                f"Invalid duration {text!r}: enter whole seconds from 1 to "
                f"{MAX_DURATION}."
            )
            self.query_one("#debug-error", Label).update(Content(message))
            return None
        chosen = self.query_one("#debug-selected", RadioButton).value
        targets = (self.selected,) if chosen and self.selected else self.targets
        return DebugRequest(duration, targets)


def real_target(selected: str | None, targets: Sequence[str]) -> str | None:
    """Find the target that `selected` names, itself or with its password hidden."""
    if selected is None or selected in targets:
        return selected
    by_shown = {redact_url(target): target for target in targets}
    return by_shown.get(selected)


def shown_target(target: str) -> str:
    """Return a target URL as the screen may show it: no password, no controls."""
    return visible(redact_url(target))


class AdminFooter(Footer):
    """The key footer, with a READ-ONLY mark on its right in read-only mode."""

    DEFAULT_CSS = """
    AdminFooter FooterLabel.-read-only {
        dock: right;
        margin: 0;
        padding: 0 1;
        text-style: bold;
        color: $background;
        background: $warning;
    }
    """

    def __init__(self, *, read_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        yield from super().compose()
        if self.read_only:
            yield FooterLabel("READ-ONLY", classes="-read-only")


DebugSetter = Callable[[str, "float | None"], None]
"""Stores a target's debug expiry (Unix time, or None) for the header."""


class LogStoreLike(Protocol):
    next_seq: int
    first_seq: int

    def level_at(self, seq: int) -> int: ...

    def instance_at(self, seq: int) -> str | None: ...


class StreamStatusLike(Protocol):
    state: str


class LogHubLike(Protocol):
    """The parts of `haven_top.sources.logstreams.LogHub` read here."""

    store: LogStoreLike
    statuses: Mapping[str, StreamStatusLike]


class DebugRecordCounter:
    """Counts the DEBUG records each target sent to the log hub's store.

    WebSocket sources tag records with the target's host:port, which is how a
    record is matched to a target. A record from any other source (a file, a
    pipe, a command) counts for every target, because its target is unknown.
    """

    def __init__(self, hub: LogHubLike, targets: Sequence[str]) -> None:
        self.hub = hub
        self._keys = {_instance_key(target): target for target in targets}

    def mark(self) -> int:
        return self.hub.store.next_seq

    def unwatched(self, targets: Sequence[str]) -> list[str]:
        """Targets whose DEBUG records no connected log source could carry."""
        statuses = self.hub.statuses
        others_live = any(
            status.state in LIVE_STATES
            for name, status in statuses.items()
            if _instance_key(name) not in self._keys
        )
        missing = []
        for target in targets:
            own = statuses.get(_instance_key(target))
            live = own is not None and own.state in LIVE_STATES
            if not (live or others_live):
                missing.append(target)
        return missing

    def count_since(self, mark: int) -> dict[str, int]:
        """DEBUG records per target from seq `mark` on."""
        store = self.hub.store
        counts = dict.fromkeys(self._keys.values(), 0)
        for seq in range(max(mark, store.first_seq), store.next_seq):
            if store.level_at(seq) != DEBUG_LEVEL:
                continue
            target = self._keys.get(_instance_key(store.instance_at(seq) or ""))
            if target is not None:
                counts[target] += 1
                continue
            for name in counts:
                counts[name] += 1
        return counts


def _instance_key(url: str) -> str:
    """Return the lower-case host:port of a URL, or of a bare host:port.

    The password is replaced with `***` first, as in the log sources'
    instance names, so that a target with a password matches its records.
    """
    text = redact_url(url.strip()).lower()
    if "://" in text:
        return urlsplit(text).netloc
    return text.split("/", 1)[0]


class DebugControl:
    """Turns debug logging on and off in workers and reports each outcome.

    The key toggles: while any target has debug on, it sends
    `{"enabled": false}` to those; otherwise it opens `DebugModal`.
    """

    def __init__(
        self,
        options: AdminOptions,
        targets: Sequence[str],
        *,
        set_debug_until: DebugSetter | None = None,
        records: DebugRecordCounter | None = None,
    ) -> None:
        self.options = options
        self.targets = tuple(targets)
        self.set_debug_until = set_debug_until
        self.records = records
        self.until: dict[str, float] = {}
        """Local Unix time when debug ends, per target that haven-top turned on."""
        self.busy = False

    def show_warnings(self, app: App[object]) -> None:
        """Show the warnings found while loading the token, such as its file mode."""
        for warning in self.options.warnings:
            app.notify(warning, title="Admin token", severity="warning", markup=False)

    def active_targets(self, now: float | None = None) -> list[str]:
        """Targets where debug logging is on and not yet expired."""
        moment = time.time() if now is None else now
        return [target for target, end in self.until.items() if end > moment]

    def toggle(self, screen: Screen[object], selected: str | None = None) -> None:
        """Handle the key: turn debug off where it is on, else ask to turn it on."""
        app = screen.app
        if self.options.token is None:
            message = self.options.token_error or MISSING_TOKEN_MESSAGE
            app.notify(message, title="Debug logging", severity="error", markup=False)
            return
        if self.busy:
            app.notify("A debug request is still running: wait for its result.")
            return
        active = self.active_targets()
        if active:
            self._start(screen, active, enabled=False, duration=None)
            return
        modal = DebugModal(self.targets, selected)
        app.push_screen(
            modal, callback=lambda request: self._confirmed(screen, request)
        )

    def _confirmed(self, screen: Screen[object], request: DebugRequest | None) -> None:
        if request is not None:
            self._start(screen, request.targets, True, request.duration)

    def _start(
        self,
        screen: Screen[object],
        targets: Sequence[str],
        enabled: bool,
        duration: int | None,
    ) -> None:
        self.busy = True
        screen.run_worker(
            self._send_and_report(screen, tuple(targets), enabled, duration),
            name="debug on" if enabled else "debug off",
            group=WORKER_GROUP,
            exit_on_error=False,
        )

    async def _send_and_report(
        self,
        screen: Screen[object],
        targets: tuple[str, ...],
        enabled: bool,
        duration: int | None,
    ) -> None:
        try:
            await self._send(screen, targets, enabled, duration)
        except Exception as exc:  # noqa: BLE001 - the dashboard must keep running
            logger.exception("Debug request failed")
            message = f"debug request failed: {type(exc).__name__}: {exc}"
            message = visible(redact_url(message))
            screen.app.notify(
                message, title="Debug logging", severity="error", markup=False
            )
        finally:
            self.busy = False

    async def _send(
        self,
        screen: Screen[object],
        targets: tuple[str, ...],
        enabled: bool,
        duration: int | None,
    ) -> None:
        token = self.options.token
        assert token is not None
        client = AdminClient(
            token.secret,
            timeout=self.options.timeout,
            allow_insecure=self.options.allow_insecure,
        )
        mark = self._log_mark()
        results = await client.set_debug_many(targets, enabled, duration)
        self.busy = False
        for result in results:
            self._apply(screen, result)
        turned_on = [result.target for result in results if result.ok and enabled]
        if turned_on:
            await self._verify(screen, turned_on, mark)

    def _apply(self, screen: Screen[object], result: DebugResult) -> None:
        if result.ok:
            if result.until is not None:
                self.until[result.target] = result.until
            else:
                self.until.pop(result.target, None)
            if self.set_debug_until is not None:
                self.set_debug_until(result.target, result.until)
            logger.info("%s", result.message)
        else:
            logger.warning("%s", result.message)
        severity = "information" if result.ok else "error"
        screen.app.notify(
            result.message, title="Debug logging", severity=severity, markup=False
        )

    def _log_mark(self) -> int | None:
        return None if self.records is None else self.records.mark()

    async def _verify(
        self, screen: Screen[object], targets: list[str], mark: int | None
    ) -> None:
        """Report, per target, whether DEBUG records arrive in the log stream."""
        if mark is None or self.records is None:
            self._warn(screen, NO_LOG_SOURCE_MESSAGE)
            return
        for target in self.records.unwatched(targets):
            self._warn(
                screen,
                f"debug logging is on for {shown_target(target)}, but no log "
                "source for it is connected, so its DEBUG records cannot be seen",
            )
            targets.remove(target)
        waiting = set(targets)
        deadline = time.monotonic() + VERIFY_SECONDS
        while waiting and time.monotonic() < deadline:
            await asyncio.sleep(VERIFY_POLL_SECONDS)
            # Debug may have been turned off again meanwhile: stop waiting there.
            waiting &= set(self.active_targets())
            counts = self.records.count_since(mark)
            arrived = {target for target in waiting if counts.get(target, 0) > 0}
            for target in sorted(arrived):
                screen.app.notify(
                    f"DEBUG records are arriving from {shown_target(target)}",
                    title="Debug logging",
                    markup=False,
                )
            waiting -= arrived
        for target in sorted(waiting):
            self._warn(
                screen,
                f"no DEBUG records from {shown_target(target)} in "
                f"{VERIFY_SECONDS:g} s: the service accepted the call, but its "
                "log stream does not show them",
            )

    def _warn(self, screen: Screen[object], message: str) -> None:
        logger.warning("%s", message)
        screen.app.notify(
            message, title="Debug logging", severity="warning", markup=False
        )


def build_debug_control(
    options: AdminOptions, provider: object, log_hub: LogHubLike | None = None
) -> DebugControl:
    """Wire a `DebugControl` to the app's provider and log hub.

    The provider's `targets` and `state.set_debug_until` are used when it has
    them (the `Collector` does), so the header can count down.
    """
    targets = tuple(getattr(provider, "targets", ()))
    state = getattr(provider, "state", None)
    setter = getattr(state, "set_debug_until", None)
    records = None if log_hub is None else DebugRecordCounter(log_hub, targets)
    return DebugControl(options, targets, set_debug_until=setter, records=records)
