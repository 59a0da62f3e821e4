"""The admin token: where it is read from, where it may be sent, and a wrapper
that never prints it.

The token comes from `--admin-token-file PATH`, then `HAVEN_ADMIN_TOKEN`, then the
config file's `admin_token_file`, in that order. It is never taken as a
command-line value, because `ps` and shell history show those to other users.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

TOKEN_ENV = "HAVEN_ADMIN_TOKEN"
MISSING_TOKEN_MESSAGE = "no admin token: set HAVEN_ADMIN_TOKEN or --admin-token-file"
TOKEN_ARGUMENT_MESSAGE = (
    "the admin token is not accepted on the command line, where ps shows it: "
    "set HAVEN_ADMIN_TOKEN or pass --admin-token-file PATH"
)
MAX_TOKEN_FILE_BYTES = 4096
"""A token file larger than this is more likely the wrong file than a token."""

INSECURE_OPTION = "--allow-insecure-admin"

_LOOPBACK_NAMES = {"localhost", "localhost."}
_TOKEN_FILE_OPTION = "--admin-token-file"
_TOKEN_VALUE_OPTIONS = ("--admin-token", "--token", "--bearer", "--admin-secret")


class Secret:
    """A string that `repr`, `str`, format specs, pickling and JSON never reveal.

    Rich (and so Textual's crash report, which shows each frame's locals) prints
    objects through `repr`, so a local variable holding a `Secret` shows as
    `Secret('********')`. Only `reveal()` returns the text.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __format__(self, format_spec: str) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return self._value == other._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")


class TokenError(Exception):
    """The admin token could not be loaded; the message is one line without it."""


@dataclass(frozen=True)
class AdminToken:
    secret: Secret
    source: str
    """Origin of the token for messages: `HAVEN_ADMIN_TOKEN` or a file path."""
    warnings: tuple[str, ...] = ()
    """One-line warnings found while loading, such as a world-readable file."""


def load_admin_token(
    *,
    token_file: str | os.PathLike[str] | None = None,
    config_token_file: str | os.PathLike[str] | None = None,
) -> AdminToken | None:
    """Load the token from the flag's file, `HAVEN_ADMIN_TOKEN` or the config's file.

    Returns None when none of the three is set. Raises `TokenError` when the chosen
    source is set but unusable (missing, unreadable, empty or not one word).
    """
    if token_file is not None:
        return read_token_file(token_file)
    if TOKEN_ENV in os.environ:
        return _without_frames(_env_token)
    if config_token_file is not None:
        return read_token_file(config_token_file)
    return None


def read_token_file(path: str | os.PathLike[str]) -> AdminToken:
    """Read a token file, warning when group or others may read it."""
    return _without_frames(lambda: _read_token_file(Path(path).expanduser()))


def _without_frames(load: Callable[[], AdminToken]) -> AdminToken:
    """Call `load`, raising its `TokenError` again without the inner frames.

    The frames of the loaders hold the token's text in local variables, and
    crash reports that print locals (Rich, and so Textual) would show it.
    """
    try:
        return load()
    except TokenError as exc:
        message = str(exc)
    raise TokenError(message)


def _env_token() -> AdminToken:
    secret = Secret(os.environ[TOKEN_ENV].strip())
    return AdminToken(_check_token(secret, TOKEN_ENV), TOKEN_ENV)


def _read_token_file(file: Path) -> AdminToken:
    try:
        with open(file, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                _fail(f"admin token file {file} is not a regular file: point to one")
            data = handle.read(MAX_TOKEN_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        _fail(f"cannot read admin token file {file}: {reason}; check the path")
    if len(data) > MAX_TOKEN_FILE_BYTES:
        _fail(
            f"admin token file {file} is larger than {MAX_TOKEN_FILE_BYTES} bytes: "
            "it must contain only the token"
        )
    try:
        secret = Secret(data.decode("utf-8").strip())
    except UnicodeDecodeError:
        _fail(f"admin token file {file} is not valid UTF-8: it must contain the token")
    secret = _check_token(secret, f"admin token file {file}")
    return AdminToken(secret, str(file), _mode_warnings(file, info.st_mode))


def token_argument_error(argv: Sequence[str]) -> str | None:
    """Return a one-line error when `argv` tries to pass a token by value.

    Catches `--admin-token VALUE`, `--admin-token=VALUE` and the like, which
    argparse would otherwise take as an abbreviation of `--admin-token-file` and
    then echo the token back as a file name in its error.
    """
    for arg in argv:
        if arg == "--":
            break
        name = arg.split("=", 1)[0]
        if name == _TOKEN_FILE_OPTION:
            continue
        if name.startswith(_TOKEN_VALUE_OPTIONS):
            return TOKEN_ARGUMENT_MESSAGE
    return None


def is_loopback_host(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8, ::1 and IPv4-mapped loopback."""
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def check_target(target: str, *, allow_insecure: bool = False) -> str | None:
    """Return why the token must not be sent to `target`, or None when it may."""
    try:
        parts = urlsplit(target)
        host = parts.hostname
    except ValueError:
        return f"invalid target URL {target}: use http(s)://host[:port]"
    if parts.scheme not in ("http", "https") or not host:
        return f"invalid target URL {target}: use http(s)://host[:port]"
    if parts.scheme == "https" or allow_insecure or is_loopback_host(host):
        return None
    return (
        f"refusing to send the admin token to {target} over plain http: "
        f"use https, or pass {INSECURE_OPTION} to allow it"
    )


def _check_token(secret: Secret, source: str) -> Secret:
    value = secret.reveal()
    if not value:
        _fail(f"{source} is empty: it must contain the admin token")
    if not all(33 <= ord(char) <= 126 for char in value):
        _fail(
            f"{source} contains spaces, control or non-ASCII characters: "
            "a bearer token is one word of printable ASCII"
        )
    return secret


def _mode_warnings(file: Path, mode: int) -> tuple[str, ...]:
    if os.name != "posix" or not mode & (stat.S_IRGRP | stat.S_IROTH):
        return ()
    permissions = stat.S_IMODE(mode)
    return (
        f"admin token file {file} is readable by group or others "
        f"(mode {permissions:04o}): run chmod 600 {file}",
    )


def _fail(message: str) -> NoReturn:
    # `from None` suppresses the OSError context, so a traceback shows no chained error.
    raise TokenError(message) from None
