"""The `--prometheus` flags: read the fleet from a Prometheus server.

Secrets never come from the command line, where `ps` shows them to other users:
the bearer token comes from `--prometheus-bearer-token-file` or
`HAVEN_TOP_PROMETHEUS_TOKEN`, and the basic-auth password from
`--prometheus-password-file` or `HAVEN_TOP_PROMETHEUS_PASSWORD`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from haven_top.config import ConfigError, Settings
from haven_top.core.token import Secret
from haven_top.sources.promql import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from haven_top.sources.prometheus_api import PrometheusSettings

TOKEN_ENV = "HAVEN_TOP_PROMETHEUS_TOKEN"
PASSWORD_ENV = "HAVEN_TOP_PROMETHEUS_PASSWORD"
MAX_SECRET_FILE_BYTES = 4096
"""A secret file larger than this is more likely the wrong file than a secret."""

_DEPENDENT_FLAGS = {
    "selector": "--selector",
    "prometheus_bearer_token_file": "--prometheus-bearer-token-file",
    "prometheus_user": "--prometheus-user",
    "prometheus_password_file": "--prometheus-password-file",
    "prometheus_ca_file": "--prometheus-ca-file",
    "prometheus_timeout": "--prometheus-timeout",
}


def add_prometheus_arguments(group: argparse._ArgumentGroup) -> None:
    """Add the `--prometheus` flags to the parser group."""
    group.add_argument(
        "--prometheus",
        metavar="URL",
        help="read the fleet from this Prometheus server (or another server with "
        "its HTTP query API) instead of scraping URLs",
    )
    group.add_argument(
        "--selector",
        metavar="MATCHERS",
        help="label matchers that pick the Haven series, such as 'job=\"haven\"' "
        "(default: none, every series with the Haven names); the server's alerts "
        "are listed unless one of their labels contradicts a matcher",
    )
    group.add_argument(
        "--prometheus-bearer-token-file",
        metavar="PATH",
        help=f"file holding a bearer token for Prometheus (or set {TOKEN_ENV})",
    )
    group.add_argument(
        "--prometheus-user",
        metavar="NAME",
        help="user name for HTTP basic auth; the password comes from "
        f"{PASSWORD_ENV} or --prometheus-password-file",
    )
    group.add_argument(
        "--prometheus-password-file",
        metavar="PATH",
        help="file holding the basic-auth password for --prometheus-user",
    )
    group.add_argument(
        "--prometheus-ca-file",
        metavar="PATH",
        help="PEM file of the CA that signed the Prometheus server's certificate",
    )
    group.add_argument(
        "--prometheus-timeout",
        metavar="S",
        help=f"seconds one Prometheus request may take (default {DEFAULT_TIMEOUT:g})",
    )


def prometheus_settings(
    args: argparse.Namespace, settings: Settings
) -> PrometheusSettings | None:
    """Build the Prometheus settings from the flags, or None without `--prometheus`.

    Raises `ConfigError` with a one-line message on a flag that cannot be used.
    """
    if args.prometheus is None:
        for attribute, flag in _DEPENDENT_FLAGS.items():
            if getattr(args, attribute, None) is not None:
                raise ConfigError(f"{flag} needs --prometheus URL")
        return None
    if settings.targets or settings.demo:
        raise ConfigError(
            "--prometheus reads every instance from Prometheus; drop the target "
            "URLs and --demo, or drop --prometheus to scrape them directly"
        )
    # Imported here: it loads requests, which direct mode never needs.
    from haven_top.sources.prometheus_api import PrometheusSettings

    try:
        return PrometheusSettings(
            url=args.prometheus,
            selector=args.selector or "",
            bearer_token=_bearer_token(args),
            username=args.prometheus_user,
            password=_password(args),
            ca_file=_ca_file(args.prometheus_ca_file),
            timeout=_timeout(args.prometheus_timeout),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _bearer_token(args: argparse.Namespace) -> Secret | None:
    if args.prometheus_bearer_token_file is not None:
        return read_secret_file(args.prometheus_bearer_token_file, "bearer token")
    value = os.environ.get(TOKEN_ENV, "").strip()
    return Secret(value) if value else None


def _password(args: argparse.Namespace) -> Secret | None:
    if args.prometheus_password_file is not None:
        if args.prometheus_user is None:
            raise ConfigError("--prometheus-password-file needs --prometheus-user")
        return read_secret_file(args.prometheus_password_file, "password")
    if args.prometheus_user is None:
        return None
    if PASSWORD_ENV not in os.environ:
        raise ConfigError(
            f"no password for --prometheus-user {args.prometheus_user}: set "
            f"{PASSWORD_ENV} or pass --prometheus-password-file PATH"
        )
    return Secret(os.environ[PASSWORD_ENV])


def read_secret_file(path: str, what: str) -> Secret:
    """Read a one-line secret from `path`; raise `ConfigError` naming the file."""
    file = Path(path).expanduser()
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"cannot read the Prometheus {what} file {file}: {reason}; check the path"
        ) from None
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise ConfigError(
            f"the Prometheus {what} file {file} is larger than "
            f"{MAX_SECRET_FILE_BYTES} bytes; it must contain only the {what}"
        )
    text = data.decode("utf-8", errors="replace").strip()
    if not text:
        raise ConfigError(
            f"the Prometheus {what} file {file} is empty; write the {what} into it"
        )
    return Secret(text)


def _ca_file(path: str | None) -> str | None:
    if path is None:
        return None
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(
            f"--prometheus-ca-file {path}: file not found; give the CA's PEM file"
        )
    return str(file)


def _timeout(value: str | None) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(
            f"invalid --prometheus-timeout {value!r}; use seconds above 0, such as 5"
        )
    return seconds
