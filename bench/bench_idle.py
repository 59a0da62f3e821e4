"""Idle CPU and memory of the haven-top dashboard next to btop, same refresh.

Every program runs on a pseudo-terminal of the same size for the same time.
haven-top runs as an operator starts it, `haven-top --interval 1 --demo`: it
starts the bundled demo service (steady traffic) as a child process and shows
the dashboard with the demo's log stream in the log pane. A second row adds
`--no-log-stream`, which leaves the log pane out, to split the drawing cost.
Only the haven-top process is counted, not its demo child. A third row runs
haven-top's collector without the screen against a demo this script starts,
to show how much of the CPU goes to collecting. btop runs with
`update_ms = 1000` from a config file in a temporary `XDG_CONFIG_HOME`.

CPU is the change of utime + stime in `/proc/PID/stat` between the end of a
warm-up and the end of the run. Memory is the resident set size (VmRSS in
`/proc/PID/status`) at the end. The pty output is read and thrown away by
this script, whose own CPU is not counted.

Run: `python bench/bench_idle.py [--seconds 30] [--warmup 5]
[--sizes 80x24,160x50]` (Linux only).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from haven_top.demo.launcher import start_demo

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

COLLECTOR_ONLY = """
import asyncio, sys
from haven_top.sources.collector import Collector

async def main():
    collector = Collector([sys.argv[1]], interval=1.0)
    await collector.start()
    while True:
        collector.snapshot(window_seconds=60.0, endpoint_limit=20)
        await asyncio.sleep(1.0)

asyncio.run(main())
"""
"""The collector and one snapshot a second without the screen, as the app runs
them, to split haven-top's CPU between collecting and drawing."""

HAVEN_TOP = [sys.executable, "-m", "haven_top", "--interval", "1", "--demo"]


@dataclass(frozen=True)
class Measurement:
    name: str
    cpu_percent: float
    """Share of one core over the measured seconds, in percent."""
    rss_bytes: int
    output_bytes_per_second: float
    """Terminal output written per second: how much each refresh redraws."""


@dataclass(frozen=True)
class Timing:
    columns: int
    rows: int
    warmup: float
    seconds: float


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds measured")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds before measuring"
    )
    parser.add_argument("--btop", default=shutil.which("btop") or "/usr/bin/btop")
    parser.add_argument(
        "--sizes",
        default="80x24,160x50",
        help="pty sizes as COLUMNSxROWS, separated by commas",
    )
    args = parser.parse_args(argv)
    for size in args.sizes.split(","):
        columns, rows = (int(part) for part in size.split("x"))
        timing = Timing(columns, rows, args.warmup, args.seconds)
        print(f"idle at a 1 s refresh, {size} pty, {args.seconds:g} s measured")
        print_report(measure_all(timing, args.btop))
        print()
    return 0


def measure_all(timing: Timing, btop: str) -> list[Measurement]:
    """Measure haven-top with and without logs, the collector, then btop."""
    rows = [
        measure("haven-top", HAVEN_TOP, {}, timing),
        measure("no logs", [*HAVEN_TOP, "--no-log-stream"], {}, timing),
    ]
    with start_demo(scenario="steady", seed=7) as demo:
        collector = [sys.executable, "-c", COLLECTOR_ONLY, demo.url]
        rows.append(measure("collector", collector, {}, timing))
    with tempfile.TemporaryDirectory(prefix="bench-btop-") as home:
        rows.append(measure("btop", [btop], write_btop_config(Path(home)), timing))
    return rows


def write_btop_config(home: Path) -> dict[str, str]:
    """Write a btop config with a 1 s refresh; return the environment to use it."""
    config_dir = home / "btop"
    config_dir.mkdir(parents=True)
    (config_dir / "btop.conf").write_text("update_ms = 1000\n", encoding="utf-8")
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home)}


def measure(
    name: str, command: list[str], env: dict[str, str], timing: Timing
) -> Measurement:
    """Run `command` on a pty, wait the warm-up, then measure it."""
    main_fd, child_fd = os.openpty()
    window = struct.pack("HHHH", timing.rows, timing.columns, 0, 0)
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, window)
    child_env = {**os.environ, "TERM": "xterm-256color", **env}
    child_env.pop("NO_COLOR", None)

    process = subprocess.Popen(
        command,
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        env=child_env,
        start_new_session=True,
    )
    os.close(child_fd)

    written = [0]
    drain = threading.Thread(
        target=discard_output, args=(main_fd, written), daemon=True
    )
    drain.start()

    try:
        time.sleep(timing.warmup)
        cpu_before, bytes_before = cpu_seconds(process.pid), written[0]
        started = time.monotonic()
        time.sleep(timing.seconds)
        cpu_after, bytes_after = cpu_seconds(process.pid), written[0]
        elapsed = time.monotonic() - started
        rss = rss_bytes(process.pid)
    finally:
        stop(process)
        os.close(main_fd)

    cpu_percent = 100.0 * (cpu_after - cpu_before) / elapsed
    output_rate = (bytes_after - bytes_before) / elapsed
    return Measurement(name, cpu_percent, rss, output_rate)


def discard_output(fd: int, written: list[int]) -> None:
    """Read and drop the pty's output, counting bytes into `written[0]`."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        written[0] += len(chunk)


def cpu_seconds(pid: int) -> float:
    """Return utime + stime of `pid` in seconds, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name in brackets may contain spaces, so split after it.
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def print_report(rows: list[Measurement]) -> None:
    """Print one line per program, then each haven-top row's ratios to btop."""
    print(f"{'program':<10} {'CPU % of a core':>16} {'RSS MiB':>9} {'out KiB/s':>10}")
    for row in rows:
        cpu = f"{row.cpu_percent:>16.2f}"
        rss = f"{row.rss_bytes / 2**20:>9.1f}"
        print(f"{row.name:<10} {cpu} {rss} {row.output_bytes_per_second / 1024:>10.1f}")
    btop = rows[-1]
    for row in rows[:2]:
        print(
            f"{row.name} / btop: CPU {ratio(row, btop, lambda m: m.cpu_percent)}, "
            f"RSS {ratio(row, btop, lambda m: m.rss_bytes)}"
        )


def ratio(
    ours: Measurement, theirs: Measurement, value: Callable[[Measurement], float]
) -> str:
    """Format ours / theirs as "12.3x", or "n/a" when theirs measured 0."""
    if value(theirs) <= 0:
        return "n/a"
    return f"{value(ours) / value(theirs):.1f}x"


if __name__ == "__main__":
    raise SystemExit(main())
