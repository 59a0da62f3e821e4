"""`haven-top debug on|off [--duration N] URL [URL ...]`: remote debug logging
without the screen.

Prints one line per target (successes on stdout, failures on stderr) and exits
0 when every target succeeded, 1 when any failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from haven_top.config import (
    CONFIG_ENV,
    ConfigError,
    Settings,
    build_settings,
    read_config_file,
)
from haven_top.core.token import (
    INSECURE_OPTION,
    MISSING_TOKEN_MESSAGE,
    AdminToken,
    Secret,
    TokenError,
    load_admin_token,
    token_argument_error,
)
from haven_top.sources.admin import (
    DEFAULT_TIMEOUT,
    MAX_DURATION,
    AdminClient,
    AdminOptions,
    DebugResult,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
DEFAULT_DURATION = 300
READ_ONLY_MESSAGE = (
    "admin calls are disabled in read-only mode: drop --read-only "
    "or set read_only = false in the config file"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haven-top debug",
        description=(
            "Turn debug logging on or off in Haven services through POST "
            "/admin/debug. The admin token is read from HAVEN_ADMIN_TOKEN or "
            "from --admin-token-file, never from the command line."
        ),
        allow_abbrev=False,
    )
    parser.add_argument("state", choices=("on", "off"), help="turn debug on or off")
    parser.add_argument("urls", nargs="+", metavar="URL", help="base URL of a target")
    parser.add_argument(
        "--duration",
        type=_duration,
        default=DEFAULT_DURATION,
        metavar="N",
        help=f"seconds debug logging stays on (default {DEFAULT_DURATION})",
    )
    add_admin_arguments(parser)
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds to wait for each response (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=f"config file to read admin_token_file and read_only from "
        f"(default: {CONFIG_ENV} or the user config folder)",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="reject every admin call, as read_only = true in the config does",
    )
    return parser


def add_admin_arguments(parser: argparse._ActionsContainer) -> None:
    """Add the token file and insecure-transport options shared with the monitor."""
    parser.add_argument(
        "--admin-token-file",
        metavar="PATH",
        help="file containing the admin token (default: HAVEN_ADMIN_TOKEN)",
    )
    parser.add_argument(
        INSECURE_OPTION,
        action="store_true",
        help="allow sending the admin token over plain http to non-loopback hosts",
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the subcommand on `argv` (without the leading `debug`); return the
    exit status. The config file supplies `admin_token_file` and `read_only`."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    out = stdout or sys.stdout
    err = stderr or sys.stderr

    problem = token_argument_error(args_list)
    if problem is not None:
        print(f"haven-top debug: {problem}", file=err)
        return EXIT_USAGE
    try:
        args = build_parser().parse_args(args_list)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    try:
        settings = _config_settings(args.config)
    except ConfigError as exc:
        print(f"haven-top debug: {exc}", file=err)
        return EXIT_USAGE
    if args.read_only or settings.read_only:
        print(f"haven-top debug: {READ_ONLY_MESSAGE}", file=err)
        return EXIT_USAGE

    token = _load_token(args.admin_token_file, settings.admin_token_file, err)
    if token is None:
        return EXIT_USAGE
    client = AdminClient(
        token.secret,
        timeout=args.timeout,
        allow_insecure=args.allow_insecure_admin,
    )
    enabled = args.state == "on"
    duration = args.duration if enabled else None
    results = asyncio.run(client.set_debug_many(args.urls, enabled, duration))
    return print_results(results, out, err)


def dashboard_admin_options(
    token_file: str | None, allow_insecure: bool, settings: Settings
) -> AdminOptions:
    """Load the token for the dashboard's debug key; none in read-only mode.

    `token_file` is the `--admin-token-file` flag alone, because it ranks above
    `HAVEN_ADMIN_TOKEN` while the config file's path ranks below. Raises
    `TokenError` when the chosen source is unusable.
    """
    if settings.read_only:
        return AdminOptions()
    config_file = None if token_file else settings.admin_token_file
    token = load_admin_token(token_file=token_file, config_token_file=config_file)
    return AdminOptions(
        token=token,
        warnings=token.warnings if token else (),
        allow_insecure=allow_insecure,
        timeout=max(DEFAULT_TIMEOUT, settings.timeout),
    )


def with_demo_token(options: AdminOptions, demo_token: Secret | None) -> AdminOptions:
    """Use the started demo service's token when no other token is configured.

    NOTE: one token serves every target, so with `--demo` and other URLs the
    demo's token goes to those targets too when the operator confirms them.
    """
    if options.token is not None or demo_token is None:
        return options
    return dataclasses.replace(options, token=AdminToken(demo_token, "the demo"))


def print_results(results: Sequence[DebugResult], out: TextIO, err: TextIO) -> int:
    """Print one line per result; return 1 when any failed, else 0."""
    for result in results:
        print(result.message, file=out if result.ok else err, flush=True)
    return EXIT_OK if all(result.ok for result in results) else EXIT_FAILED


def _config_settings(path: str | None) -> Settings:
    """Read the config file (the default one when `path` is None)."""
    table, read_path = read_config_file(Path(path) if path else None)
    return build_settings(table, {}, config_path=read_path)


def _load_token(
    token_file: str | None, config_token_file: Path | None, err: TextIO
) -> AdminToken | None:
    try:
        token = load_admin_token(
            token_file=token_file, config_token_file=config_token_file
        )
    except TokenError as exc:
        print(f"haven-top debug: {exc}", file=err)
        return None
    if token is None:
        print(f"haven-top debug: {MISSING_TOKEN_MESSAGE}", file=err)
        return None
    for warning in token.warnings:
        print(f"haven-top debug: warning: {warning}", file=err)
    return token


def _duration(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_DURATION:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use whole seconds from 1 to {MAX_DURATION}"
        )
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(
            f"invalid number of seconds {text!r}: use a positive number"
        )
    return value


if __name__ == "__main__":
    sys.exit(main())
