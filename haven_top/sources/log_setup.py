"""Command-line options for logs, and the sources they describe.

The CLI calls `add_log_arguments` on its parser, `log_options` on the parsed
arguments, `take_stdin_pipe` before the app starts (for `--logs -`), then
`build_log_sources` with its targets.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson

from haven_top.config import FILE_KEYS, Settings, read_config_file
from haven_top.core.logfilter import FilterError, parse_filter
from haven_top.core.logrecord import level_rank
from haven_top.core.logselection import LogSelection, logs_report
from haven_top.core.logstore import DEFAULT_CAPACITY, LogStore
from haven_top.core.sanitize import display_line
from haven_top.core.token import check_target
from haven_top.core.urls import redact_url
from haven_top.sources.log_files import CommandLogSource, FileLogSource, PipeLogSource
from haven_top.sources.log_websocket import WebSocketLogSource
from haven_top.sources.logstreams import LogHub, LogSource

STDIN = "-"
LOGS_ONLY_WAIT = 2.0
"""Seconds `--once` reads logs when there is no target to wait for."""
T = TypeVar("T")


class LogOptionError(ValueError):
    """An invalid log option; the message names the value and the fix."""


@dataclass(frozen=True)
class LogOptions:
    files: tuple[str, ...] = ()
    """Paths given with `--logs`; `-` is standard input."""
    commands: tuple[str, ...] = ()
    buffer: int = DEFAULT_CAPACITY
    request_id: str | None = None
    filter: str | None = None
    limit: int = 100
    stream: bool = True
    """Read each target's `/logs/stream`."""
    stream_level: str | None = None

    @property
    def filter_text(self) -> str:
        """The starting filter: `--request-id` and `--filter` together."""
        parts = []
        if self.request_id:
            parts.append(f"request_id={shlex.quote(self.request_id)}")
        if self.filter:
            parts.append(self.filter)
        return " ".join(parts)

    @property
    def reads_stdin(self) -> bool:
        return STDIN in self.files

    def has_local_source(self) -> bool:
        """True when logs come from a file, a pipe or a command."""
        return bool(self.files or self.commands)


def add_log_arguments(group: argparse._ArgumentGroup) -> None:
    """Add the log flags to a parser or an argument group."""
    add = group.add_argument
    add(
        "--logs",
        action="append",
        metavar="FILE",
        help="follow a JSON log file like tail -F (repeatable); - reads a pipe",
    )
    add(
        "--logs-command",
        action="append",
        metavar="CMD",
        help='read the output of a command, e.g. "journalctl -fu haven -o cat"',
    )
    add(
        "--log-buffer",
        metavar="N",
        help="log records kept in memory (default: log_buffer in the config "
        f"file, else {Settings.log_buffer})",
    )
    add("--request-id", metavar="ID", help="start with the logs of this request")
    add(
        "--filter",
        metavar="EXPR",
        help='start with this log filter, e.g. "level>=WARNING status>=500"',
    )
    add(
        "--limit",
        metavar="N",
        help="with --once: log records printed at most (default 100)",
    )
    add(
        "--no-log-stream",
        action="store_true",
        help="do not read the targets' /logs/stream WebSocket",
    )
    add(
        "--log-level",
        metavar="LEVEL",
        help="lowest level asked of /logs/stream (default: all)",
    )


def log_options(args: argparse.Namespace) -> LogOptions:
    """Check the parsed log flags; raise `LogOptionError` on a bad value."""
    options = LogOptions(
        files=tuple(getattr(args, "logs", None) or ()),
        commands=tuple(getattr(args, "logs_command", None) or ()),
        buffer=buffer_size(args),
        request_id=getattr(args, "request_id", None) or None,
        filter=getattr(args, "filter", None) or None,
        limit=_positive("--limit", getattr(args, "limit", None), 100),
        stream=not getattr(args, "no_log_stream", False),
        stream_level=getattr(args, "log_level", None),
    )
    if options.files.count(STDIN) > 1:
        raise LogOptionError("--logs - is given twice; standard input can be read once")
    if options.stream_level and level_rank(options.stream_level) is None:
        raise LogOptionError(
            f"--log-level {options.stream_level!r} is invalid; "
            "use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    try:
        parse_filter(options.filter_text)
    except FilterError as error:
        raise LogOptionError(f"--filter: {error}") from None
    return options


def buffer_size(args: argparse.Namespace) -> int:
    """Return `--log-buffer`, else `log_buffer` from the config file, else the
    default `Settings.log_buffer`.

    Raises `ConfigError` for an unreadable config file or an invalid value.
    """
    flag = getattr(args, "log_buffer", None)
    if flag is not None:
        return _positive("--log-buffer", flag, Settings.log_buffer)
    config = getattr(args, "config", None)
    values, path = read_config_file(Path(config) if config else None)
    if "log_buffer" not in values:
        return Settings.log_buffer
    return FILE_KEYS["log_buffer"](values["log_buffer"], f"log_buffer in {path}")


def _positive(flag: str, value: object, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1:
        raise LogOptionError(f"{flag} {value!r} is invalid; give a whole number >= 1")
    return number


def take_stdin_pipe() -> int | None:
    """Keep standard input's pipe on another fd, and give fd 0 the terminal.

    `kubectl logs -f x | haven-top --logs -` pipes the logs into fd 0, but
    Textual reads keys from fd 0. This duplicates the pipe to a new fd and
    reopens /dev/tty onto fd 0. Returns the pipe's fd, or None when standard
    input is already a terminal. Without a terminal (as under CI) fd 0 is
    left as it is.
    """
    if os.isatty(0):
        return None
    pipe_fd = os.dup(0)
    try:
        tty_fd = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        return pipe_fd
    os.dup2(tty_fd, 0)
    os.close(tty_fd)
    return pipe_fd


def build_log_sources(
    options: LogOptions,
    targets: Sequence[str],
    *,
    token: str | None = None,
    stdin_fd: int | None = None,
    allow_insecure: bool = False,
) -> list[LogSource]:
    """Make one source per target stream, file, pipe and command.

    `stdin_fd` is the pipe from `take_stdin_pipe`; fd 0 is read when it is None.
    The token goes only to targets that `check_target` allows: https, or http
    to a loopback address unless `allow_insecure`.
    """
    sources: list[LogSource] = []
    if options.stream:
        for target in targets:
            stream = WebSocketLogSource(
                target,
                token=token if _may_send_token(target, allow_insecure) else None,
                level=options.stream_level,
            )
            # The instance name is shown and stored, so it must not carry
            # the password of the URL that the stream connects with.
            stream.instance = stream.name = urlsplit(redact_url(target)).netloc
            sources.append(stream)
    for path in options.files:
        if path == STDIN:
            sources.append(PipeLogSource(0 if stdin_fd is None else stdin_fd))
        else:
            sources.append(FileLogSource(path))
    sources += [CommandLogSource(command) for command in options.commands]
    return sources


def _may_send_token(target: str, allow_insecure: bool) -> bool:
    return check_target(target, allow_insecure=allow_insecure) is None


def stream_token(admin: object, demo_token: object) -> str | None:
    """Return the bearer token for `/logs/stream`: the admin token, else the demo's.

    Both arguments are duck-typed (`AdminOptions`, `Secret`) so this module
    stays free of the admin client.
    """
    token = getattr(admin, "token", None)
    secret = getattr(token, "secret", None) or demo_token
    reveal = getattr(secret, "reveal", None)
    return reveal() if callable(reveal) else None


def make_hub(options: LogOptions) -> LogHub:
    return LogHub(LogStore(options.buffer))


async def run_alongside(
    hub: LogHub, sources: Sequence[LogSource], work: Awaitable[T]
) -> T:
    """Run the log sources while `work` runs; stop them and store what came."""
    hub.start(sources)
    try:
        return await work
    finally:
        await hub.stop()


async def read_logs_briefly(
    hub: LogHub, sources: Sequence[LogSource], seconds: float = LOGS_ONLY_WAIT
) -> None:
    """For `--once` without targets: read for `seconds`, or until every pipe
    and command has ended."""
    hub.start(sources)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            states = [status.state for status in hub.statuses.values()]
            if (
                states
                and len(states) == len(sources)
                and all(state in ("exited", "failed") for state in states)
            ):
                break
            await asyncio.sleep(0.05)
    finally:
        await hub.stop()


def logs_document(hub: LogHub, options: LogOptions) -> dict[str, Any]:
    """Build the `logs` object of `--once`: received, evicted and matched records."""
    log_filter = parse_filter(options.filter_text, is_request_id=hub.store.has_request)
    report = logs_report(LogSelection(hub.store, log_filter), options.limit)
    report["received"] = hub.received
    report["evicted"] = hub.evicted
    report["sources"] = {
        name: {"state": status.state, "detail": redact_url(status.detail)}
        for name, status in hub.statuses.items()
    }
    return report


def format_logs_text(document: dict[str, Any]) -> str:
    """Format the logs for `--once --format text`, control characters made visible."""
    lines = [
        f"logs: {document['received']} received, {document['evicted']} evicted, "
        f"{document['matched_total']} matched"
        + (f" by {document['filter']!r}" if document["filter"] else "")
    ]
    for name, source in document.get("sources", {}).items():
        detail = f" ({source['detail']})" if source["detail"] else ""
        lines.append(display_line(f"  source {name}: {source['state']}{detail}"))
    for record in document["matched"]:
        text = record.get("raw") if set(record) <= {"raw", "instance"} else None
        shown = text if isinstance(text, str) else orjson.dumps(record).decode()
        lines.append("  " + display_line(shown))
    return "\n".join(lines) + "\n"
