"""Big files' bytes through OpenSSH, riding a control master: no Python per byte.

Measured (``benchmarks/bench_files.py``, 1 GiB on loopback, both CPUs busy with the ciphers):
asyncssh's SFTP client moves it at about 0.75x of ``scp`` and keeps the dashboard's loop busy;
OpenSSH's ``sftp`` over the master matches ``scp``, no better, plus our start-up. Cheaper still is
no SFTP at all: ``ssh`` through the master with the local file itself as its input (``cat`` into
the part on the device) or output (``cat``/``tail -c +N`` of the source there), so the master
reads or writes the file directly, without an sftp process, a pipe and request round trips in
between: about 1.0-1.3x of ``scp``. So files of ``BIG_FILE`` and more go this way when ``ssh``
exists and the device can have a master (not behind a jump host); everything else, and any file
this path cannot finish, stays on asyncssh. Either way the bytes land in the same part file,
resume from the same verified point and are counted the same way (the part's size, read while
``ssh`` runs), and the part is flushed to disk before the rename.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import re
import shlex
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable

from spark_tui.services.files.errors import LinkDropped

log = logging.getLogger(__name__)

AT_ONCE = 2
"""Big files moved at the same time."""
POLL = 0.1
"""Seconds between reads of the part's size for progress."""
FLUSH_EVERY = 128 << 20
"""A part that grew this much since the last flush is flushed to disk (in the background)."""


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """An ssh outliving a killed spark-tui would finish the part behind the user's back."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


async def _renice_master(control_path: str, nice: int) -> None:
    """Lower the master's priority: it does the copy's encryption, and next to the dashboard
    that work should yield the CPU to keystrokes. Its pid comes from ``ssh -O check``."""
    process = await asyncio.create_subprocess_exec(
        "ssh", "-S", control_path, "-O", "check", "spark-tui-master",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _, said = await process.communicate()
    match = re.search(rb"pid=(\d+)", said)
    if match:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, int(match.group(1)), nice)


class OpenSSHBytes:
    """Starts (and restarts) one OpenSSH master for a transfer and runs ``ssh`` commands through it.

    Args:
        make_master: The tunnels' master factory: an unstarted ``OpenSSHMaster`` for the device a
            live asyncssh connection reached, or ``None`` when it cannot have one.
        early: An unstarted master that needs no live connection (the tunnels' ``direct_master``):
            :meth:`begin` starts it at once, so its login overlaps asyncssh's instead of
            following it (measured: a folder's bytes start 0.05-0.1 s sooner). One that fails
            to start is forgotten and a master is made from the connection as without it.
    """

    def __init__(self, make_master: Callable[[object], object | None], *, nice: int = 0, early=None) -> None:
        self._make = make_master
        self._nice = nice
        self._early = early
        self._early_start: asyncio.Future | None = None
        self._master = None
        self._lock = asyncio.Lock()
        self._gate = asyncio.Semaphore(AT_ONCE)
        self.usable = bool(shutil.which("ssh"))
        self.completed = 0  # files (or folder streams) OpenSSH finished (tests and the benchmark read it)

    def begin(self) -> None:
        """Start the early master in the background; its ``ssh`` is forked when the loop first
        runs the task (``await asyncio.sleep(0)`` after this gets it forked before slow work)."""
        if self._early is not None and self._early_start is None and self.usable:
            self._early_start = asyncio.ensure_future(self._early.start())

    async def _ready(self, conn):
        async with self._lock:
            if self._master is not None and self._master.alive:
                return self._master
            if self._master is not None:
                await self._master.close()
                self._master = None
            from spark_tui.services.ssh import MuxError

            if self._early_start is not None:
                early = await self._early_started()
                if early is not None:
                    return early
            if conn is None:  # only the early master could serve (see :meth:`early_master`)
                return None
            master = self._make(conn) if self.usable else None
            if master is None:
                self.usable = False
                return None
            try:
                await master.start()
            except MuxError as error:
                log.info("no OpenSSH master for copies (%s); asyncssh moves the bytes", error)
                self.usable = False
                return None
            return await self._adopt(master)

    async def _early_started(self):
        """The early master once its login is done (adopted), or ``None`` when it failed."""
        from spark_tui.services.ssh import MuxError

        starting, early, self._early_start, self._early = self._early_start, self._early, None, None
        try:
            await starting
        except MuxError as error:
            log.info("the early OpenSSH master did not start (%s); one is made from the connection", error)
            return None
        return await self._adopt(early)

    @property
    def has_early(self) -> bool:
        """An early master was given and may still start (:meth:`begin` was called)."""
        return self._early_start is not None or (self._master is not None and self._master.alive)

    async def early_master(self):
        """The master that needs no asyncssh connection, once logged in; ``None`` when there is
        none or it could not log in."""
        async with self._lock:
            if self._master is not None and self._master.alive:
                return self._master
            if self._early_start is None:
                return None
            return await self._early_started()

    async def ask(self, command: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
        """Run ``command`` on the device through the running master, ``stdin`` its input.

        Returns:
            Its exit status, what it wrote to stdout and to stderr.

        Raises:
            LinkDropped: there is no live master, or it died under the command.
        """
        master = self._master
        if master is None or not master.alive:
            raise LinkDropped("the OpenSSH master ended")
        process = await self._spawn(master, command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        try:
            out, said = await process.communicate(stdin)
        except BaseException:
            await _kill(process)
            raise
        if process.returncode == 255 and not await _still_up(master):
            raise LinkDropped("the OpenSSH master ended")
        return process.returncode, out, said

    async def _adopt(self, master):
        self._master = master
        if self._nice:
            await _renice_master(master.control_path, self._nice)
        return master

    async def prepare(self, conn) -> None:
        """Start the master now (while folders are being made) so the first big file need not wait."""
        async with self._gate:
            await self._ready(conn)

    async def close(self) -> None:
        starting, early, self._early_start, self._early = self._early_start, self._early, None, None
        if starting is not None:  # started but never needed
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
        if early is not None:  # its control folder exists from the start
            await early.close()
        if self._master is not None:
            await self._master.close()
            self._master = None

    async def move(
        self, conn, *, upload: bool, local: str, remote: str, start: int, size: int,
        part_size: Callable[[], Awaitable[int]], moved: Callable[[int], None],
        flush: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """Move bytes ``[start, size)`` between ``local`` and ``remote`` (one of them the part).

        Returns:
            True when the part is complete; False when this path could not do it (the caller
            continues on asyncssh from the part's verified prefix).

        Raises:
            LinkDropped: the master died under it (the connection dropped).
        """
        if not self.usable:
            return False
        async with self._gate:
            master = await self._ready(conn)
            if master is None:
                return False
            # The local file itself is ssh's input (or output): the master reads (writes) it
            # directly, no sftp process and no pipe in between. The part was cut to ``start``.
            try:
                if upload:
                    fd = os.open(local, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                    os.lseek(fd, start, os.SEEK_SET)
                    command = f"exec cat {'>>' if start else '>'} {shlex.quote(remote)}"
                else:
                    fd = os.open(local, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if start else os.O_TRUNC)
                                 | getattr(os, "O_NOFOLLOW", 0), 0o600)
                    quoted = shlex.quote(remote)
                    command = f"exec tail -c +{start + 1} -- {quoted}" if start else f"exec cat -- {quoted}"
            except OSError as error:
                log.info("no OpenSSH stream for %s: %s", local, error)
                return False
            try:
                process = await self._spawn(master, command, stdin=fd if upload else asyncio.subprocess.DEVNULL,
                                            stdout=asyncio.subprocess.DEVNULL if upload else fd)
            finally:
                os.close(fd)
            seen = start
            flushed, flushing = start, None
            try:
                errors = asyncio.ensure_future(process.stderr.read())
                while True:
                    try:
                        await asyncio.wait_for(asyncio.shield(errors), POLL)
                        break
                    except asyncio.TimeoutError:
                        pass
                    seen = await self._count(part_size, seen, moved)
                    if flush is not None and seen - flushed >= FLUSH_EVERY and (flushing is None or flushing.done()):
                        # Write the part back while bytes still arrive: the final flush is short.
                        flushed, flushing = seen, asyncio.ensure_future(flush())
                        flushing.add_done_callback(lambda f: f.cancelled() or f.exception())
                status = await process.wait()
            except BaseException:
                await _kill(process)
                raise
            finally:
                if flushing is not None and not flushing.done():
                    flushing.cancel()
            seen = await self._count(part_size, seen, moved)
            if status != 0:
                log.info("ssh stream failed (%s): %s", status, errors.result().decode(errors="replace").strip()[-300:])
                if not master.alive:
                    raise LinkDropped("the OpenSSH master ended")
                return False
            if seen != size:
                return False
            if flush is not None:
                await flush()  # on disk before the rename
            self.completed += 1
            return True

    async def _spawn(self, master, command: str, *, stdin, stdout) -> asyncio.subprocess.Process:
        """``ssh`` running ``command`` on the device through ``master`` (never a login of its own)."""
        argv = [
            "ssh", "-F", "/dev/null", "-T", "-S", master.control_path, "-o", "ControlMaster=no",
            "-o", "ProxyCommand=false", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "spark-tui-master", command,
        ]
        return await asyncio.create_subprocess_exec(
            *argv, stdin=stdin, stdout=stdout, stderr=asyncio.subprocess.PIPE,
            preexec_fn=die_with_parent if not self._nice else lambda: (die_with_parent(), os.nice(self._nice)),
        )

    async def run(self, conn, command: str, stdin: int) -> tuple[int, bytes, bytes] | None:
        """Run ``command`` on the device through the master, its input read from the fd ``stdin``.

        Returns:
            Its exit status (255: ssh's own failure) and what it wrote to stdout and to stderr;
            ``None`` when there is no master to run it (the caller uses asyncssh).

        Raises:
            LinkDropped: the master died under it (the connection dropped).
        """
        if not self.usable:
            return None
        master = await self._ready(conn)
        if master is None:
            return None
        process = await self._spawn(master, command, stdin=stdin, stdout=asyncio.subprocess.PIPE)
        try:
            out, said = await process.communicate()
        except BaseException:
            await _kill(process)
            raise
        status = process.returncode
        if status == 255 and not await _still_up(master):
            raise LinkDropped("the OpenSSH master ended")
        if status == 0:
            self.completed += 1
        return status, out, said

    @staticmethod
    async def _count(part_size, seen: int, moved) -> int:
        try:
            now = await part_size()
        except OSError:
            return seen
        if now > seen:
            moved(now - seen)
        return max(now, seen)


async def _still_up(master) -> bool:
    """Whether ``master`` still runs: an ``ssh`` through it failing (255) as it is killed can be
    seen before the master's own exit is, so wait for that a moment."""
    for _ in range(10):
        if not master.alive:
            return False
        await asyncio.sleep(0.02)
    return master.alive


async def _kill(process: asyncio.subprocess.Process) -> None:
    """Stop ``process`` (a copy cancelled or failed under it) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()
