"""Command line entry of the demo Haven service: `python -m haven_top.demo`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
from collections.abc import Iterator

import uvicorn

from haven_top.demo.app import build_app
from haven_top.demo.lifeline import ParentWatch
from haven_top.demo.scenarios import SCENARIO_NAMES, ScenarioRunner
from haven_top.demo.service import DemoService, ServiceOptions
from haven_top.demo.traffic import TrafficGenerator

HOST = "127.0.0.1"
TOKEN_ENV = "HAVEN_ADMIN_TOKEN"
DEFAULT_PHASE_SECONDS = 30.0
DEFAULT_RATE = 20.0


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line options."""
    parser = argparse.ArgumentParser(
        prog="haven-top demo-server",
        description="Run a demo Haven service on 127.0.0.1 with generated traffic.",
    )
    add = parser.add_argument
    add("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    add(
        "--scenario",
        choices=SCENARIO_NAMES,
        default="steady",
        help="traffic pattern: steady, incident, or none for no generated traffic",
    )
    add(
        "--seed",
        type=int,
        default=None,
        help="seed for the request sequence and injected faults",
    )
    add(
        "--phase-seconds",
        type=float,
        default=DEFAULT_PHASE_SECONDS,
        help="length of each incident phase in seconds (default 30)",
    )
    add(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help="generated requests per second (default 20)",
    )

    add("--pool-size", type=int, default=10, help="database connections (default 10)")
    add(
        "--no-debug-endpoint",
        action="store_true",
        help="serve no /admin/debug, so it returns 404",
    )
    add(
        "--require-log-token",
        action="store_true",
        help="close /logs/stream with code 1008 unless it sends the admin token",
    )

    add("--log-file", default=None, help="also append JSON log lines to this file")
    add(
        "--raw-tracebacks",
        action="store_true",
        help="in --log-file, write a plain banner and tracebacks as plain lines",
    )

    add(
        "--ready-json",
        action="store_true",
        help='first print one JSON line {"url", "token", "pid"} once listening',
    )
    add(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when standard input reaches end of file (for launchers)",
    )
    add(
        "--parent-pid",
        type=int,
        default=None,
        help="stop when this process, the launcher, goes away",
    )
    add(
        "--parent-death-signal",
        action="store_true",
        help="on Linux, also receive SIGTERM when the launching thread exits",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the demo service until interrupted and return the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    problem = _invalid_option(args)
    if problem:
        print(f"haven-top demo-server: {problem}", file=sys.stderr)
        return 2
    token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
    try:
        return asyncio.run(_run(args, token))
    except KeyboardInterrupt:
        return 0


def _invalid_option(args: argparse.Namespace) -> str | None:
    if not 0 <= args.port <= 65535:
        return f"invalid --port {args.port}: give 0-65535, or 0 for a free port"
    if args.rate <= 0:
        return f"invalid --rate {args.rate:g}: give requests per second above 0"
    if args.phase_seconds <= 0:
        return f"invalid --phase-seconds {args.phase_seconds:g}: give seconds above 0"
    if args.pool_size < 1:
        return f"invalid --pool-size {args.pool_size}: give 1 or more connections"
    return None


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    return sock


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `_serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _run(args: argparse.Namespace, token: str) -> int:
    try:
        sock = _bind(args.port)
    except OSError as exc:
        print(
            f"haven-top demo-server: cannot listen on {HOST}:{args.port}: "
            f"{exc.strerror}. Pick another --port, or 0 for a free one",
            file=sys.stderr,
        )
        return 1

    service = DemoService.create(_options(args, token))
    try:
        return await _serve(args, token, sock, service)
    finally:
        service.close()
        sock.close()


async def _serve(
    args: argparse.Namespace, token: str, sock: socket.socket, service: DemoService
) -> int:
    url = f"http://{HOST}:{sock.getsockname()[1]}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    watch = ParentWatch(loop, stop, parent_pid=args.parent_pid)
    watch.start(stdin=args.exit_on_stdin_eof, death_signal=args.parent_death_signal)

    config = uvicorn.Config(
        build_app(service), log_config=None, access_log=False, lifespan="off"
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    if not await _wait_started(server, serving):
        return 1
    _announce(args, url, token)
    background = _start_background(args, service, url)

    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    watch.arm_hard_exit()
    # Stop the traffic first, so that no new requests race the shutdown.
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    server.should_exit = True
    await serving
    return 0


def _options(args: argparse.Namespace, token: str) -> ServiceOptions:
    return ServiceOptions(
        admin_token=token,
        debug_endpoint=not args.no_debug_endpoint,
        require_log_token=args.require_log_token,
        pool_capacity=args.pool_size,
        seed=args.seed,
        log_file=args.log_file,
        raw_tracebacks=args.raw_tracebacks,
    )


async def _wait_started(server: uvicorn.Server, serving: asyncio.Task[None]) -> bool:
    while not server.started:
        if serving.done():
            print(
                "haven-top demo-server: the HTTP server failed to start",
                file=sys.stderr,
            )
            return False
        await asyncio.sleep(0.01)
    return True


def _announce(args: argparse.Namespace, url: str, token: str) -> None:
    if args.ready_json:
        ready = {"url": url, "token": token, "pid": os.getpid()}
        print(json.dumps(ready), flush=True)
    print(f"Haven demo service listening on {url}", flush=True)
    print(f"Admin token: {token}", flush=True)
    rate = "no traffic" if args.scenario == "none" else f"{args.rate:g} req/s"
    print(f"Scenario: {args.scenario} ({rate}); press Ctrl-C to stop", flush=True)


def _start_background(
    args: argparse.Namespace, service: DemoService, url: str
) -> list[asyncio.Task[None]]:
    if args.scenario == "none":
        return []
    runner = ScenarioRunner(
        args.scenario, service.faults, phase_seconds=args.phase_seconds
    )
    service.scenario = runner
    traffic = TrafficGenerator(url, rate=args.rate, seed=args.seed)
    return [asyncio.create_task(runner.run()), asyncio.create_task(traffic.run())]
