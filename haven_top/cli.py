"""The `haven-top` command: the live dashboard, `--once`, and the subcommands.

`haven-top [URL ...] [options]` is the default form. A first argument that
names a subcommand (`haven-top demo-server ...`) runs that subcommand instead;
each one parses its own arguments. To add one, write a `run_<name>(argv)`
function and list it in `SUBCOMMANDS`.

Exit status: 0 on success, 1 when a target is not up, live or ready or a log
source failed (`--once`) or the run failed, 2 on a usage or config error, 130
after Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import stat
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from haven_top import __version__
from haven_top.config import (
    FILE_KEYS,
    WINDOWS,
    ConfigError,
    Settings,
    build_settings,
    default_config_path,
    read_config_file,
)
from haven_top.core.token import TokenError, token_argument_error
from haven_top.sources.log_setup import (
    STDIN,
    LogOptionError,
    LogOptions,
    add_log_arguments,
    log_options,
)

if TYPE_CHECKING:
    from haven_top.sources.admin import AdminOptions

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEMO_SCENARIOS = ("steady", "incident", "none")
FAILED_LOG_STATES = ("failed", "rejected")
"""Log source states that make `--once` exit 1: gave up, or refused by the server."""


@dataclass(frozen=True)
class Subcommand:
    """A `haven-top NAME ...` command that parses the arguments after its name."""

    name: str
    summary: str
    run: Callable[[list[str]], int]


def run_demo_server(argv: list[str]) -> int:
    """Run the bundled demo Haven service in the foreground."""
    from haven_top.demo import server

    return server.main(argv)


def run_debug(argv: list[str]) -> int:
    """Turn debug logging on or off in targets through POST /admin/debug."""
    from haven_top import debug_cli

    return debug_cli.main(argv)


SUBCOMMANDS: dict[str, Subcommand] = {
    "demo-server": Subcommand(
        "demo-server",
        "run the bundled demo Haven service until interrupted",
        run_demo_server,
    ),
    "debug": Subcommand(
        "debug",
        "turn debug logging on or off: debug on|off [--duration N] URL ...",
        run_debug,
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run haven-top with `argv` (default: the process arguments); return the status.

    Ctrl-C at any point after this starts returns 130.
    """
    try:
        status = run_command(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    if status == EXIT_INTERRUPTED and argv is None:
        hold_sigint_until_exit()
    return status


def hold_sigint_until_exit() -> None:
    """Block SIGINT in a process that is about to exit with status 130.

    Run as `python -m`, CPython 3.11 kills itself with SIGINT at exit (status
    -2) when a KeyboardInterrupt passed through code run by `exec()` of a
    string, even if the program caught it later. The methods that
    `dataclasses` generates run that way. A blocked SIGINT stays pending, so
    the process exits with the 130 returned.
    """
    on_main_thread = threading.current_thread() is threading.main_thread()
    if on_main_thread and hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def run_command(arguments: list[str]) -> int:
    """Run a subcommand, or the monitor with its flags; return the exit status."""
    if arguments and arguments[0] in SUBCOMMANDS:
        return SUBCOMMANDS[arguments[0]].run(arguments[1:])
    token_problem = token_argument_error(arguments)
    if token_problem is not None:
        return usage_error(token_problem)
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.format is not None and not args.once:
        return usage_error(
            f"--format {args.format} applies only to --once; add --once, as in "
            f"haven-top --once --format {args.format} URL"
        )
    try:
        settings = settings_from_args(args)
        settings = with_prometheus(args, settings)
        admin = admin_options(args, settings)
        logs = log_options(args)
        check_log_files(logs.files, once=settings.once)
    except (ConfigError, TokenError, LogOptionError) as exc:
        return usage_error(str(exc))
    if not has_data_source(settings) and not logs.has_local_source():
        return usage_error(
            "no target given; pass a base URL such as http://127.0.0.1:8000, "
            "or try `haven-top --demo` to watch the bundled demo service",
            parser,
        )
    return run_monitor(settings, admin, logs)


def build_parser() -> argparse.ArgumentParser:
    """Describe the default form: `haven-top [URL ...] [options]`."""
    from haven_top import debug_cli
    from haven_top.prometheus_cli import add_prometheus_arguments

    commands = "\n".join(
        f"  {command.name:<14}{command.summary}" for command in SUBCOMMANDS.values()
    )
    parser = argparse.ArgumentParser(
        prog="haven-top",
        description="Live terminal monitor for Haven web services.",
        epilog=(
            f"commands (haven-top COMMAND --help):\n{commands}\n\n"
            f"config file: {default_config_path()} (flags override it)\n"
            "examples:\n"
            "  haven-top --demo\n"
            "  haven-top http://127.0.0.1:8000 http://127.0.0.1:8001\n"
            "  haven-top --once --format json http://127.0.0.1:8000\n"
            "  haven-top --prometheus http://127.0.0.1:9090 --selector 'job=\"haven\"'"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="URL",
        help="base URL of a Haven instance, such as http://127.0.0.1:8000",
    )
    parser.add_argument(
        "--version", action="version", version=f"haven-top {__version__}"
    )
    add_source_arguments(parser.add_argument_group("sources"))
    add_prometheus_arguments(parser.add_argument_group("a fleet through Prometheus"))
    add_polling_arguments(parser.add_argument_group("polling"))
    add_display_arguments(parser.add_argument_group("display"))
    add_output_arguments(parser.add_argument_group("one snapshot"))
    debug_cli.add_admin_arguments(parser.add_argument_group("debug key"))
    add_log_arguments(parser.add_argument_group("logs"))
    return parser


def add_source_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--demo",
        action="store_true",
        help="start the bundled demo service, monitor it, and stop it on exit",
    )
    group.add_argument(
        "--demo-scenario",
        choices=DEMO_SCENARIOS,
        default="steady",
        help="traffic of the --demo service (default steady)",
    )
    group.add_argument(
        "--config",
        metavar="PATH",
        help="TOML config file (default: the file named below)",
    )


def add_polling_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--interval",
        metavar="S",
        help="seconds between two polls of a target (default 1)",
    )
    group.add_argument(
        "--timeout",
        metavar="S",
        help="seconds one request may take (default 0.8 x the interval); "
        "raise it on slow links",
    )
    group.add_argument(
        "--connect-timeout",
        metavar="S",
        help="seconds to open a connection (default: the --timeout value)",
    )
    group.add_argument(
        "--pool-size",
        metavar="N",
        help="database pool capacity for targets without haven_db_pool_size",
    )
    group.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="never change a target (no debug-mode calls)",
    )


def add_display_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--window",
        choices=tuple(WINDOWS),
        help="window of rates and latency quantiles (default 1m)",
    )
    group.add_argument(
        "--theme",
        metavar="NAME",
        help="colour theme: haven-dark (default), haven-light, haven-terminal, "
        "a Textual theme, or the name in a theme file of yours "
        "(~/.config/haven-top/themes/*.toml)",
    )


def add_output_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--once",
        action="store_true",
        help="print one snapshot and exit: 0 when every target is up (its "
        "/metrics parses), live and ready and no alert fires; 1 when a target is "
        "DOWN, not live or not ready, an alert fires or a log source failed; "
        "2 on a usage error, such as a --logs file that does not exist",
    )
    group.add_argument(
        "--format",
        choices=("text", "json"),
        help="output of --once: text (default) or json",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Merge the config file and the flags into `Settings`."""
    config = Path(args.config) if args.config else None
    file_values, config_path = read_config_file(config)
    flags = {key: getattr(args, key, None) for key in FILE_KEYS}
    if not args.targets:
        flags["targets"] = None
    return build_settings(
        file_values,
        flags,
        config_path=config_path,
        demo=args.demo,
        demo_scenario=args.demo_scenario,
        once=args.once,
        output_format=args.format or "text",
    )


def check_log_files(paths: Sequence[str], *, once: bool) -> None:
    """Raise `LogOptionError` for a `--logs` path that cannot be read as a file.

    The dashboard waits for a file that does not exist yet, as `tail -F`
    does. `--once` reads for a moment only, so there a missing file is an
    error.
    """
    for name in paths:
        if name == STDIN:
            continue
        try:
            mode = os.stat(name).st_mode
        except FileNotFoundError:
            if once:
                raise LogOptionError(
                    f"--logs {name}: file not found; check the path "
                    "(--once reads only files that exist)"
                ) from None
            continue
        except OSError as exc:
            raise LogOptionError(
                f"--logs {name}: cannot be read: {exc.strerror}; check the path"
            ) from None
        if stat.S_ISDIR(mode):
            raise LogOptionError(f"--logs {name} is a directory; {_file_hint(name)}")
        if not os.access(name, os.R_OK):
            raise LogOptionError(
                f"--logs {name}: permission denied; make the file readable "
                "for this user"
            )


def _file_hint(folder: str) -> str:
    try:
        logs = sorted(entry for entry in os.listdir(folder) if entry.endswith(".log"))
    except OSError:
        logs = []
    if logs:
        return f"give a log file in it, such as {os.path.join(folder, logs[0])}"
    return "give the path of a log file"


def admin_options(args: argparse.Namespace, settings: Settings) -> AdminOptions:
    """Load the admin token for the debug key (none for `--once` or read-only)."""
    from haven_top.debug_cli import dashboard_admin_options
    from haven_top.sources.admin import AdminOptions

    if settings.once:
        return AdminOptions()
    return dashboard_admin_options(
        args.admin_token_file, args.allow_insecure_admin, settings
    )


def has_data_source(settings: Settings) -> bool:
    """Tell whether there is anything to monitor: a target, the demo or Prometheus."""
    return bool(settings.targets or settings.demo or settings.prometheus)


def with_prometheus(args: argparse.Namespace, settings: Settings) -> Settings:
    """Add the `--prometheus` settings; raise `ConfigError` on a bad flag."""
    from haven_top.prometheus_cli import prometheus_settings

    prometheus = prometheus_settings(args, settings)
    if prometheus is None:
        return settings
    return dataclasses.replace(settings, prometheus=prometheus)


def usage_error(message: str, parser: argparse.ArgumentParser | None = None) -> int:
    """Print a one-line usage error (after the usage line, if a parser is given)."""
    if parser is not None:
        parser.print_usage(sys.stderr)
    print(f"haven-top: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_monitor(
    settings: Settings,
    admin: AdminOptions | None = None,
    logs: LogOptions | None = None,
) -> int:
    """Start the demo when asked, run the dashboard or `--once`, stop the demo."""
    demo = None
    try:
        if settings.demo:
            demo = start_demo(settings)
            if demo is None:
                return EXIT_FAILED
            settings = with_demo(settings, demo)
        if settings.once:
            return run_once(settings, logs or LogOptions())
        return run_dashboard(settings, admin, logs or LogOptions())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        if demo is not None:
            demo.stop()


def start_demo(settings: Settings) -> Any:
    """Start the demo service.

    Returns the running demo, or None (and prints why) when it failed to start.
    """
    from haven_top.demo.launcher import DemoStartError, start_demo

    if settings.once:
        print("haven-top: starting the demo service...", file=sys.stderr)
    try:
        return start_demo(scenario=settings.demo_scenario)
    except (DemoStartError, OSError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"haven-top: error: {first_line}", file=sys.stderr)
        return None


def with_demo(settings: Settings, demo: Any) -> Settings:
    """Add the started demo service to the targets, and its token."""
    from haven_top.core.token import Secret

    # Printed only after the caller stored `demo`, so that Ctrl-C from here on
    # stops the demo service.
    if settings.once:
        print(
            f"haven-top: started the demo service at {demo.url} (pid {demo.pid})",
            file=sys.stderr,
        )
    return dataclasses.replace(
        settings,
        targets=(*settings.targets, demo.url),
        demo_token=Secret(demo.token),
    )


def make_collector(settings: Settings) -> Any:
    """Build the collector that polls `settings.targets`, or reads Prometheus."""
    from haven_top.core.alerts import rules_from_config
    from haven_top.sources.collector import Collector
    from haven_top.sources.scraper import Timeouts

    if settings.prometheus is not None:
        from haven_top.sources.prometheus import PrometheusProvider

        return PrometheusProvider(
            settings.prometheus,
            interval=settings.interval,
            window_seconds=settings.window_seconds,
        )
    return Collector(
        settings.targets,
        interval=settings.interval,
        timeouts=Timeouts(total=settings.timeout, connect=settings.connect_timeout),
        pool_size=settings.pool_size,
        alert_rules=rules_from_config(settings.alerts),
    )


def run_once(settings: Settings, logs: LogOptions | None = None) -> int:
    """Collect until rates exist, print one snapshot, return the exit status."""
    from haven_top import headless
    from haven_top.sources import log_setup

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("haven-top: %(message)s"))
    logging.getLogger("haven_top").addHandler(handler)
    logs = logs or LogOptions()
    token = log_setup.stream_token(None, settings.demo_token)
    sources = log_setup.build_log_sources(logs, settings.targets, token=token)
    hub = log_setup.make_hub(logs) if sources else None
    if hub is not None and not settings.targets:
        asyncio.run(log_setup.read_logs_briefly(hub, sources))
        document = log_setup.logs_document(hub, logs)
        write_logs_only(document, settings.output_format)
        return EXIT_FAILED if log_sources_failed(document, sources) else EXIT_OK
    progress = headless.ProgressLine(sys.stderr)
    timeout = settings.timeout
    if settings.prometheus is not None:
        timeout = settings.prometheus.timeout
    wait = headless.wait_seconds(settings.interval, timeout)
    work = headless.collect_snapshot(
        make_collector(settings),
        window_seconds=settings.window_seconds,
        wait=wait,
        progress=progress,
    )
    if hub is not None:
        work = log_setup.run_alongside(hub, sources, work)
    snapshot, complete = asyncio.run(work)
    if not complete:
        print(
            f"haven-top: warning: no rates after {wait:g} s; the snapshot shows "
            "what arrived (raise --timeout if a target is slow)",
            file=sys.stderr,
        )
    status = headless.exit_status(snapshot, health_polled=settings.prometheus is None)
    if hub is None:
        headless.write_snapshot(snapshot, settings.output_format)
        return status
    document = log_setup.logs_document(hub, logs)
    write_with_logs(snapshot, document, settings)
    return EXIT_FAILED if log_sources_failed(document, sources) else status


class OneLineFormatter(logging.Formatter):
    """Format a record as one safe line: an exception adds its type and
    message, not its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        from haven_top.core.sanitize import visible
        from haven_top.core.urls import redact_url

        record.message = record.getMessage()
        line = self.formatMessage(record)
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            line += f": {type(error).__name__}: {error}"
        return visible(redact_url(" ".join(line.split())))


def log_sources_failed(document: dict[str, Any], sources: Sequence[Any]) -> bool:
    """Tell whether a log source gave up, was refused, or ran a command that
    exited with an error status."""
    from haven_top.sources.log_files import CommandLogSource

    states = [source["state"] for source in document.get("sources", {}).values()]
    if any(state in FAILED_LOG_STATES for state in states):
        return True
    return any(
        isinstance(source, CommandLogSource) and source.returncode not in (None, 0)
        for source in sources
    )


def write_with_logs(snapshot: Any, logs: dict[str, Any], settings: Settings) -> None:
    """Print the snapshot with its `logs` object (JSON) or lines (text)."""
    import orjson

    from haven_top import headless
    from haven_top.sources.log_setup import format_logs_text

    if settings.output_format == "json":
        document = {**headless.snapshot_document(snapshot), "logs": logs}
        options = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
        sys.stdout.write(orjson.dumps(document, option=options).decode())
        return
    headless.write_snapshot(snapshot, "text")
    sys.stdout.write(format_logs_text(logs))


def write_logs_only(logs: dict[str, Any], output_format: str) -> None:
    import orjson

    from haven_top.sources.log_setup import format_logs_text

    if output_format == "json":
        options = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
        sys.stdout.write(orjson.dumps({"logs": logs}, option=options).decode())
        return
    sys.stdout.write(format_logs_text(logs))


def run_dashboard(
    settings: Settings,
    admin: AdminOptions | None = None,
    logs: LogOptions | None = None,
) -> int:
    """Run the live dashboard until the operator quits."""
    from haven_top.debug_cli import with_demo_token
    from haven_top.sources import log_setup
    from haven_top.sources.admin import AdminOptions
    from haven_top.ui.app import make_app
    from haven_top.ui.themes import ThemeError

    logs = logs or LogOptions()
    admin = with_demo_token(admin or AdminOptions(), settings.demo_token)
    stdin_fd = log_setup.take_stdin_pipe() if logs.reads_stdin else None
    sources = log_setup.build_log_sources(
        logs,
        settings.targets,
        token=log_setup.stream_token(admin, settings.demo_token),
        stdin_fd=stdin_fd,
        allow_insecure=admin.allow_insecure,
    )
    hub = log_setup.make_hub(logs) if sources else None

    # Log records must not reach the terminal that Textual draws on.
    logging.getLogger("haven_top").addHandler(logging.NullHandler())
    logging.getLogger("haven_top").propagate = False

    try:
        app = make_app(
            make_collector(settings)
            if settings.targets or settings.prometheus
            else None,
            interval=settings.interval,
            theme=settings.theme,
            window_seconds=settings.window_seconds,
            no_color=bool(os.environ.get("NO_COLOR")),
            read_only=settings.read_only,
            keymap=dict(settings.keymap),
            admin=admin,
            log_hub=hub,
            log_sources=sources,
            log_filter=logs.filter_text,
        )
    except ThemeError as error:
        # The settings check loads the same theme files, so this takes a file
        # that changed since then, or a broken bundled theme.
        return usage_error(str(error))
    app.run()
    return app.return_code or EXIT_OK
