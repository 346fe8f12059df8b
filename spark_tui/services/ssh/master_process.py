"""The ``ssh -M`` master as a process: what it gets before it runs, and one run before the loop.

Nothing here imports asyncio at import time: a copy runs its master (``OpenSSHMaster.spawn``)
before asyncio and the rest of the program are loaded.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

PR_SET_PDEATHSIG = 1  # linux/prctl.h
FD_LIMIT = 65536
"""Descriptor limit asked for the master: it holds three per forwarded connection."""


def child_setup() -> None:  # pragma: no cover - runs in the child before exec
    """Room for three descriptors per carried connection, and death with spark-tui.

    Without the second, a spark-tui killed hard (SIGKILL, a crash) would leave the master
    holding its SSH connection open until the device dropped it.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FD_LIMIT if hard == resource.RLIM_INFINITY else min(FD_LIMIT, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Spawned:
    """A master :meth:`OpenSSHMaster.spawn` ran, seen as the asyncio process the class expects."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self._popen = popen

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    @property
    def pid(self) -> int:
        return self._popen.pid

    def terminate(self) -> None:
        self._popen.terminate()

    def kill(self) -> None:
        self._popen.kill()

    async def wait(self) -> int:
        """Its exit status, once it has exited: told by a pidfd (Linux) the loop watches, else
        looked at every 20 ms."""
        import asyncio

        if self._popen.poll() is not None:
            return self._popen.returncode
        loop = asyncio.get_running_loop()
        try:
            pidfd = os.pidfd_open(self._popen.pid)
        except (AttributeError, OSError):
            while self._popen.poll() is None:
                await asyncio.sleep(0.02)
            return self._popen.returncode
        try:
            while self._popen.poll() is None:
                exited = loop.create_future()
                loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(None))
                try:
                    await exited
                finally:
                    loop.remove_reader(pidfd)
        finally:
            os.close(pidfd)
        return self._popen.returncode
