"""Idle CPU and memory of the haven-top dashboard next to btop, same refresh.

Both programs run on a pseudo-terminal of the same size for the same time,
while the bundled demo service (steady traffic) runs. haven-top watches the
demo at a 1 s interval; btop runs with `update_ms = 1000` from a config file in
a temporary `XDG_CONFIG_HOME`. CPU is the change of utime + stime in
`/proc/PID/stat` between the end of a warm-up and the end of the run. Memory is
the resident set size (VmRSS in `/proc/PID/status`) at the end. The pty output
is read and thrown away by this script, whose own CPU is not counted. A third
row runs haven-top's collector without the screen, to show how much of the CPU
goes to collecting and how much to drawing.

Run: `python bench/bench_idle.py [--seconds 30] [--warmup 5] [--size 160x50]`
(Linux only).
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


@dataclass(frozen=True)
class Measurement:
    name: str
    cpu_percent: float
    """Share of one core over the measured seconds, in percent."""
    rss_bytes: int
    output_bytes_per_second: float
    """Terminal output written per second: how much each refresh redraws."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds measured")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds before measuring"
    )
    parser.add_argument("--btop", default=shutil.which("btop") or "/usr/bin/btop")
    parser.add_argument("--size", default="160x50", help="pty size as COLUMNSxROWS")
    args = parser.parse_args(argv)
    columns, rows = (int(part) for part in args.size.split("x"))
    timing = (columns, rows, args.warmup, args.seconds)
    with start_demo(scenario="steady", seed=7) as demo:
        haven_top = [sys.executable, "-m", "haven_top", "--interval", "1", demo.url]
        ours = measure("haven-top", haven_top, {}, *timing)
        collector = [sys.executable, "-c", COLLECTOR_ONLY, demo.url]
        collecting = measure("collector", collector, {}, *timing)
        with tempfile.TemporaryDirectory(prefix="bench-btop-") as home:
            btop_env = write_btop_config(Path(home))
            theirs = measure("btop", [args.btop], btop_env, *timing)
    print(f"idle at a 1 s refresh, {args.size} pty, {args.seconds:g} s measured")
    print_report(ours, collecting, theirs)
    return 0


def write_btop_config(home: Path) -> dict[str, str]:
    """Write a btop config with a 1 s refresh; return the environment to use it."""
    config_dir = home / "btop"
    config_dir.mkdir(parents=True)
    (config_dir / "btop.conf").write_text("update_ms = 1000\n", encoding="utf-8")
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home)}


def measure(
    name: str,
    command: list[str],
    env: dict[str, str],
    columns: int,
    rows: int,
    warmup: float,
    seconds: float,
) -> Measurement:
    """Run `command` on a pty, wait `warmup` s, then measure it for `seconds`."""
    main_fd, child_fd = os.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
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
        time.sleep(warmup)
        cpu_before, bytes_before = cpu_seconds(process.pid), written[0]
        started = time.monotonic()
        time.sleep(seconds)
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


def print_report(
    ours: Measurement, collecting: Measurement, theirs: Measurement
) -> None:
    print(f"{'program':<10} {'CPU % of a core':>16} {'RSS MiB':>9} {'out KiB/s':>10}")
    for row in (ours, collecting, theirs):
        cpu = f"{row.cpu_percent:>16.2f}"
        rss = f"{row.rss_bytes / 2**20:>9.1f}"
        print(f"{row.name:<10} {cpu} {rss} {row.output_bytes_per_second / 1024:>10.1f}")
    if theirs.cpu_percent > 0:
        ratio = ours.cpu_percent / theirs.cpu_percent
        print(f"CPU ratio haven-top / btop: {ratio:.2f}")
    print(f"RSS ratio haven-top / btop: {ours.rss_bytes / theirs.rss_bytes:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
