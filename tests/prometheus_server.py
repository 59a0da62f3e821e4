"""Start a real Prometheus server on 127.0.0.1 for the fleet tests.

The server runs from `/usr/bin/prometheus` (Debian's package; `.ci/run` installs
it) with a temporary storage folder and a generated scrape config, and is
stopped by its PID. When the binary is missing, `start_prometheus` raises, so a
test that needs it fails loudly instead of skipping.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROMETHEUS_BINARY = os.environ.get("HAVEN_TOP_PROMETHEUS", "/usr/bin/prometheus")

TEST_USER = "haven"
TEST_PASSWORD = "haven-test-password"
TEST_PASSWORD_BCRYPT = "$2b$04$D6XUAgkG7tLgXeW9A14HE.DqVKBLf/KPhlsO0TYydyxCjctiu3MnO"
"""bcrypt hash (cost 4) of `TEST_PASSWORD`, as Prometheus's web config expects."""


@dataclass
class PrometheusServer:
    """A running Prometheus child process and where to reach it."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path
    rules: list[dict] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        """Return the end of the server's own log, for failure messages."""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """Stop the server by its PID and delete its storage."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape_config(
    targets: Sequence[str],
    *,
    job: str = "haven",
    scrape_interval: str = "1s",
    rule_file: str | None = None,
    extra_jobs: dict[str, list[str]] | None = None,
) -> dict:
    """Build a Prometheus config that scrapes `targets` ("host:port") as `job`,
    and the targets of each of `extra_jobs` under that job name."""
    config: dict = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": scrape_interval,
        },
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": list(addresses)}]}
            for name, addresses in {job: list(targets), **(extra_jobs or {})}.items()
        ],
    }
    if rule_file:
        config["rule_files"] = [rule_file]
    return config


def start_prometheus(
    targets: Sequence[str],
    *,
    job: str = "haven",
    scrape_interval: str = "1s",
    rules: Sequence[dict] = (),
    extra_jobs: dict[str, list[str]] | None = None,
    web_config: dict | None = None,
    scheme: str = "http",
    ca_file: str | None = None,
    timeout: float = 30.0,
) -> PrometheusServer:
    """Start Prometheus scraping `targets` and wait until it responds to `/-/ready`.

    `rules` are alerting rules (dicts as in a rule file) in one group evaluated
    every `scrape_interval`. `web_config` is written to a `--web.config.file`
    (basic auth users, TLS); set `scheme` and `ca_file` to match it.
    """
    if not os.access(PROMETHEUS_BINARY, os.X_OK):
        raise RuntimeError(
            f"prometheus not found at {PROMETHEUS_BINARY}; install Debian's "
            "package (apt-get install prometheus) or set HAVEN_TOP_PROMETHEUS"
        )
    workdir = Path(tempfile.mkdtemp(prefix="haven-top-prometheus-"))
    rule_file = None
    if rules:
        rule_file = str(workdir / "rules.yml")
        group = {"name": "haven-test", "interval": scrape_interval, "rules": rules}
        _write_json(rule_file, {"groups": [group]})
    config = scrape_config(
        targets,
        job=job,
        scrape_interval=scrape_interval,
        rule_file=rule_file,
        extra_jobs=extra_jobs,
    )
    # JSON is valid YAML, so the config files need no YAML writer.
    _write_json(workdir / "prometheus.yml", config)
    port = free_port()
    args = [
        PROMETHEUS_BINARY,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    if web_config is not None:
        _write_json(workdir / "web.yml", web_config)
        args.append(f"--web.config.file={workdir / 'web.yml'}")
    log_path = workdir / "prometheus.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = PrometheusServer(
        url=f"{scheme}://127.0.0.1:{port}",
        port=port,
        process=process,
        workdir=workdir,
        log_path=log_path,
        rules=list(rules),
    )
    try:
        _wait_ready(server, timeout, ca_file, web_config is not None)
    except BaseException:
        server.stop()
        raise
    return server


def _write_json(path: str | Path, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=2))


def _wait_ready(
    server: PrometheusServer, timeout: float, ca_file: str | None, auth: bool
) -> None:
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    request = urllib.request.Request(f"{server.url}/-/ready")
    if auth:
        token = base64.b64encode(f"{TEST_USER}:{TEST_PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"prometheus exited with code {server.process.returncode}:\n"
                + server.log_tail()
            )
        try:
            with urllib.request.urlopen(request, timeout=1, context=context) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise TimeoutError(
        f"prometheus on port {server.port} was not ready after {timeout:g} s:\n"
        + server.log_tail()
    )


def wait_for(
    condition: object, *, timeout: float, interval: float = 0.2, what: str = ""
) -> object:
    """Call `condition()` until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = condition()  # type: ignore[operator]
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}: {last!r}")


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """Create a CA and a server certificate for 127.0.0.1 with the openssl CLI.

    Returns the CA certificate, the server certificate and the server key.
    """
    ca_key, ca_cert = folder / "ca.key", folder / "ca.pem"
    key, request, cert = (
        folder / "server.key",
        folder / "server.csr",
        folder / "server.pem",
    )
    extensions = folder / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    commands = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", ca_key, "-out", ca_cert, "-subj", "/CN=haven-top test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request]
        + ["-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", request, "-CA", ca_cert, "-CAkey", ca_key]
        + ["-CAcreateserial", "-days", "2", "-out", cert, "-extfile", extensions],
    ]
    for command in commands:
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True)
    return ca_cert, cert, key


class BearerProxy:
    """An HTTP proxy on 127.0.0.1 that requires `Authorization: Bearer TOKEN`.

    Prometheus itself has no bearer-token check, so this stands in for the
    reverse proxy that usually adds one. GET requests with the right token are
    forwarded to `upstream`; any other request gets 401.
    """

    def __init__(self, upstream: str, token: str) -> None:
        import http.server
        import threading

        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
                proxy.forward(self)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.upstream = upstream.rstrip("/")
        self.token = token
        self.seen_authorization: list[str | None] = []
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def forward(self, handler: Any) -> None:
        """Answer one request: 401 without the token, else the upstream reply."""
        authorization = handler.headers.get("Authorization")
        self.seen_authorization.append(authorization)
        if authorization != f"Bearer {self.token}":
            handler.send_response(401)
            handler.end_headers()
            handler.wfile.write(b"missing or invalid bearer token")
            return
        try:
            with urllib.request.urlopen(
                self.upstream + handler.path, timeout=5
            ) as reply:
                status, body = reply.status, reply.read()
                content_type = reply.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as exc:
            status, body, content_type = exc.code, exc.read(), "application/json"
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
