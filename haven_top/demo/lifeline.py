"""Ways for a launched demo server to notice that its launcher has gone.

Any one of three events stops the server. The first is end of file on
standard input: the launcher keeps the write end of that pipe open, and the
kernel closes it however the launcher dies. The second is a change of parent
pid. The third, on Linux only, is the `PR_SET_PDEATHSIG` parent-death signal.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger("haven.lifeline")

PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 0.5
# A graceful stop that takes longer than this ends with os._exit.
HARD_EXIT_SECONDS = 10.0


def set_parent_death_signal(signum: int = signal.SIGTERM) -> bool:
    """Request `signum` from Linux when the parent thread exits, else return False.

    The kernel tracks the thread that started this process, not the whole
    parent process, so launchers should only request it from a thread that
    lives as long as the child should.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class ParentWatch:
    """Set `stop` when stdin closes or the parent process changes."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        stop: asyncio.Event,
        *,
        parent_pid: int | None = None,
    ) -> None:
        self.loop = loop
        self.stop = stop
        self.parent_pid = parent_pid

    def start(self, *, stdin: bool, death_signal: bool = False) -> None:
        """Start the requested watchers as daemon threads."""
        if death_signal:
            set_parent_death_signal()
        if self.parent_pid is not None:
            if os.getppid() != self.parent_pid:
                # The parent died before the death signal was in place.
                self._request_stop("parent exited before start-up")
                return
            self._thread(self._poll_parent)
        if stdin:
            self._thread(self._read_stdin)

    def arm_hard_exit(self) -> None:
        """Exit the process if the graceful stop has not ended in time."""
        timer = threading.Timer(HARD_EXIT_SECONDS, os._exit, args=(1,))
        timer.daemon = True
        timer.start()

    def _thread(self, target: Callable[[], None]) -> None:
        threading.Thread(target=target, daemon=True, name="parent-watch").start()

    def _read_stdin(self) -> None:
        # os.read on the raw descriptor takes no buffer lock, so this blocked
        # daemon thread cannot abort interpreter shutdown.
        try:
            descriptor = sys.stdin.fileno()
            while os.read(descriptor, 4096):
                pass
        except (OSError, ValueError):
            pass
        self._request_stop("standard input closed")

    def _poll_parent(self) -> None:
        while os.getppid() == self.parent_pid:
            if self.stop.is_set():
                return
            time.sleep(PARENT_POLL_SECONDS)
        self._request_stop(f"parent process {self.parent_pid} exited")

    def _request_stop(self, reason: str) -> None:
        log.warning("Stopping the demo service: %s", reason)
        try:
            self.loop.call_soon_threadsafe(self.stop.set)
        except RuntimeError:
            # The loop has already closed, so the process is on its way out.
            pass
