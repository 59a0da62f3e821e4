"""Log lines from a followed file, a pipe, or a command's output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import stat
from pathlib import Path
from typing import BinaryIO

from haven_top.sources.logstreams import LineSplitter, LogSink

READ_BYTES = 1024 * 1024
"""Bytes read from a file before yielding to the event loop."""
_SHELL_CHARS = set("|&;<>()$`*?[]{}~!#\n")


class FileLogSource:
    """Follow a file as `tail -F` does, starting from its last lines.

    The path is checked every `poll_interval` seconds. When another file
    takes its place (rotation), the old file is read to its end and the new
    one from its start. When the file shrinks (truncation), it is read again
    from its start. A missing file is waited for.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        start_lines: int = 1_000,
        poll_interval: float = 0.25,
    ) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self.instance = self.path.name
        self.start_lines = start_lines
        self.poll_interval = poll_interval

    async def run(self, sink: LogSink) -> None:
        splitter = LineSplitter()
        handle = await self._open_when_present(sink, from_end=True)
        try:
            while True:
                got = self._read_some(handle, splitter, sink)
                if got:
                    await asyncio.sleep(0)
                    continue
                handle = await self._check_replaced(handle, splitter, sink)
        finally:
            handle.close()

    async def _open_when_present(self, sink: LogSink, *, from_end: bool) -> BinaryIO:
        announced = False
        while True:
            try:
                handle = self.path.open("rb")
            except FileNotFoundError:
                if not announced:
                    sink.set_status(self.name, "waiting", "file not found yet")
                    announced = True
                await asyncio.sleep(self.poll_interval)
                continue
            if from_end:
                handle.seek(_tail_offset(handle, self.start_lines))
            sink.set_status(self.name, "following", "")
            return handle

    def _read_some(
        self, handle: BinaryIO, splitter: LineSplitter, sink: LogSink
    ) -> bool:
        data = handle.read(READ_BYTES)
        if not data:
            return False
        sink.add_lines(self.instance, splitter.feed(data))
        return True

    async def _check_replaced(
        self, handle: BinaryIO, splitter: LineSplitter, sink: LogSink
    ) -> BinaryIO:
        """Reopen after rotation, rewind after truncation, else wait a moment."""
        await asyncio.sleep(self.poll_interval)
        try:
            on_disk = self.path.stat()
        except FileNotFoundError:
            return handle
        current = os.fstat(handle.fileno())
        if (on_disk.st_dev, on_disk.st_ino) != (current.st_dev, current.st_ino):
            while self._read_some(handle, splitter, sink):
                pass
            sink.add_lines(self.instance, splitter.flush())
            handle.close()
            sink.set_status(self.name, "following", "reopened after rotation")
            return await self._open_when_present(sink, from_end=False)
        if current.st_size < handle.tell():
            handle.seek(0)
            splitter.flush()
            sink.set_status(self.name, "following", "read again after truncation")
        return handle


def _tail_offset(handle: BinaryIO, lines: int) -> int:
    """Find the offset of the start of the last `lines` lines of `handle`."""
    end = handle.seek(0, os.SEEK_END)
    if lines <= 0:
        return end
    position = end
    newlines = 0
    block = 64 * 1024
    while position > 0:
        step = min(block, position)
        position -= step
        handle.seek(position)
        data = handle.read(step)
        if position + step == end and data.endswith(b"\n"):
            data = data[:-1]
        count = data.count(b"\n")
        if newlines + count >= lines:
            index = len(data)
            for _ in range(lines - newlines):
                index = data.rindex(b"\n", 0, index)
            return position + index + 1
        newlines += count
    return 0


class PipeLogSource:
    """Read lines from an open file descriptor (a pipe) until its end."""

    def __init__(self, fd: int, *, name: str = "stdin") -> None:
        self.fd = fd
        self.name = name
        self.instance = name

    async def run(self, sink: LogSink) -> None:
        mode = os.fstat(self.fd).st_mode
        if stat.S_ISREG(mode):
            # epoll cannot watch a regular file, as when stdin is redirected.
            await self._read_file(sink)
        else:
            await self._read_pipe(sink)
        sink.set_status(self.name, "exited", "end of input")

    async def _read_pipe(self, sink: LogSink) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=READ_BYTES)
        protocol = asyncio.StreamReaderProtocol(reader)
        pipe = os.fdopen(self.fd, "rb", buffering=0, closefd=False)
        transport, _ = await loop.connect_read_pipe(lambda: protocol, pipe)
        sink.set_status(self.name, "following", "")
        try:
            await _read_stream(reader, self.instance, sink)
        finally:
            transport.close()

    async def _read_file(self, sink: LogSink) -> None:
        splitter = LineSplitter()
        sink.set_status(self.name, "following", "")
        while data := os.read(self.fd, READ_BYTES):
            sink.add_lines(self.instance, splitter.feed(data))
            await asyncio.sleep(0)
        sink.add_lines(self.instance, splitter.flush())


async def _read_stream(
    reader: asyncio.StreamReader, instance: str | None, sink: LogSink
) -> None:
    splitter = LineSplitter()
    while data := await reader.read(READ_BYTES):
        sink.add_lines(instance, splitter.feed(data))
    sink.add_lines(instance, splitter.flush())


def command_argv(command: str) -> list[str]:
    """Split a command line; run it through `/bin/sh -c` only when it uses the
    shell (pipes, redirections, variables, globs)."""
    if _SHELL_CHARS & set(command):
        return ["/bin/sh", "-c", command]
    return shlex.split(command)


class CommandLogSource:
    """Run a command and read its output (stdout and stderr) until it exits."""

    def __init__(self, command: str, *, stop_timeout: float = 3.0) -> None:
        self.command = command
        self.argv = command_argv(command)
        self.name = command
        self.instance = Path(self.argv[0]).name if self.argv else None
        self.stop_timeout = stop_timeout
        self.returncode: int | None = None

    async def run(self, sink: LogSink) -> None:
        if not self.argv:
            sink.set_status(self.name, "failed", "empty command: give a command")
            return
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            reason = error.strerror or str(error)
            sink.set_status(self.name, "failed", f"{self.argv[0]}: {reason}")
            return
        sink.set_status(self.name, "following", f"pid {process.pid}")
        try:
            assert process.stdout is not None
            await _read_stream(process.stdout, self.instance, sink)
            self.returncode = await process.wait()
        finally:
            await self._stop(process)
        sink.set_status(self.name, "exited", _exit_text(self.returncode))

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """End the command if it still runs: SIGTERM, then SIGKILL after
        `stop_timeout` seconds."""
        if process.returncode is not None:
            return
        # The command leads its own process group (start_new_session), so this
        # also reaches what a `sh -c` wrapper started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        # communicate() reads the output to its end, which lets asyncio close
        # the pipe before the loop does.
        try:
            await asyncio.wait_for(process.communicate(), self.stop_timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.communicate()


def _exit_text(returncode: int | None) -> str:
    if returncode is None:
        return "stopped"
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"
