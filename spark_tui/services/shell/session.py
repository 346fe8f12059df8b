"""An interactive shell on a device: a PTY session over an existing asyncssh connection.

Output is delivered in order to ``on_output`` (coalesced: everything that arrived while the
consumer was busy comes as one chunk). When the consumer falls behind by more than
``max_pending`` bytes, reading from the channel pauses, so the SSH window closes and the
remote program blocks: memory stays bounded during a flood, and a Ctrl-C typed during
``cat hugefile`` only has to wait for the little that is already in flight.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

import asyncssh

from spark_tui.core.errors import ShellError

log = logging.getLogger(__name__)

OutputCallback = Callable[[bytes], Awaitable[None] | None]
ExitCallback = Callable[[int | None], None]

DEFAULT_ENV = {"LANG": "C.UTF-8"}

OUTPUT_SLICE = 16384
"""Bytes handed to ``on_output`` at a time. Ordinary output costs the emulators well under 0.1 µs a
byte (the per-slice overhead dominated at 4 KiB: a 10 MB log drained at 0.2x ssh's pace on the
Python core, 0.56x at 16 KiB); the dearest hostile sequences a few µs a byte, so a slice still
stays within tens of ms and the event loop gets its turn (OUTPUT_BUDGET)."""

OUTPUT_BUDGET = 0.008
"""Seconds of ``on_output`` work after which the event loop gets a turn."""


class _Channel(asyncssh.SSHClientSession):
    """asyncssh's side of the session: hands every event to the ShellSession."""

    def __init__(self, owner: ShellSession) -> None:
        self._owner = owner

    def data_received(self, data: bytes, datatype) -> None:
        self._owner._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._lost(exc)


class ShellSession:
    """A remote login shell in a PTY.

    Args:
        conn: An open asyncssh client connection (shared with tunnels and telemetry).
        cols: Terminal width in cells.
        rows: Terminal height in cells.
        term: TERM to announce.
        on_output: Called with output bytes, in order. May be a coroutine function; the
            bytes count as consumed when it returns (or its awaitable completes). A plain
            function gets them in slices of OUTPUT_SLICE, with a turn for the event loop
            whenever OUTPUT_BUDGET went by; a coroutine function gets whole chunks.
        on_exit: Called once, after the last output, with the exit status (``None`` when the
            shell ended without one, e.g. the connection dropped; -1 when killed by a signal).
        command: Run this instead of the login shell.
        env: Environment requested for the shell (default ``LANG=C.UTF-8``; the server may
            refuse variables its ``AcceptEnv`` does not list).
        max_pending: Bytes received but not yet consumed at which reading pauses.
        window: SSH receive window (bytes the server may send before we consume any).
    """

    def __init__(
        self,
        conn: asyncssh.SSHClientConnection,
        *,
        cols: int = 80,
        rows: int = 24,
        term: str = "xterm-256color",
        on_output: OutputCallback,
        on_exit: ExitCallback | None = None,
        command: str | None = None,
        env: dict[str, str] | None = None,
        max_pending: int = 64 * 1024,
        window: int = 128 * 1024,
    ) -> None:
        self._conn = conn
        self.cols = cols
        self.rows = rows
        self.term = term
        self._on_output = on_output
        self._async_consumer = inspect.iscoroutinefunction(on_output)
        self._on_exit = on_exit
        self._command = command
        self._env = dict(DEFAULT_ENV if env is None else env)
        self.max_pending = max_pending
        self._window = window
        self._chan: asyncssh.SSHClientChannel | None = None
        self._queue: deque[bytes] = deque()
        self._pending = 0
        self.peak_pending = 0
        self.paused = False
        self.bytes_received = 0
        self._wake = asyncio.Event()
        self._ended = False
        self._exit_reported = False
        self._pump_task: asyncio.Task | None = None
        self._closed = asyncio.Event()

    # -- life --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the PTY session.

        Raises:
            ShellError: the server refused the session or the PTY (the message says why).
        """
        try:
            self._chan, _ = await self._conn.create_session(
                lambda: _Channel(self),
                self._command or (),
                term_type=self.term,
                term_size=(self.cols, self.rows),
                env=self._env,
                encoding=None,
                window=self._window,
            )
        except asyncssh.ChannelOpenError as error:
            raise ShellError(
                f"the device refused a shell: {error.reason}",
                "check MaxSessions and PermitTTY in the device's sshd_config",
            ) from error
        except (OSError, asyncssh.Error) as error:
            raise ShellError(f"could not open a shell: {error}", "reconnect to the device and try again") from error
        self._pump_task = asyncio.create_task(self._pump(), name="shell-output")

    def write(self, data: bytes) -> None:
        """Send keystrokes (or a paste) to the shell. Ignored once the shell has ended."""
        if self._chan is not None and not self._ended and data:
            try:
                self._chan.write(data)
            except BrokenPipeError:
                pass  # the channel closed before the pump saw the shell end (a terminal's reply can come then)

    def resize(self, cols: int, rows: int) -> None:
        """Tell the remote PTY its new size (the program gets SIGWINCH)."""
        if (cols, rows) == (self.cols, self.rows):
            return
        self.cols, self.rows = cols, rows
        if self._chan is not None and not self._ended:
            self._chan.change_terminal_size(cols, rows)

    async def close(self) -> None:
        """End the session (hang up the PTY) and wait until it is gone; safe to call twice."""
        if self._chan is not None and not self._ended:
            self._chan.close()
        if self._chan is not None:
            await self._chan.wait_closed()
        if self._pump_task is not None:
            await self._closed.wait()

    async def wait_closed(self) -> int | None:
        """Wait until the shell has ended and its output was delivered; returns the exit status."""
        await self._closed.wait()
        return self.exit_status

    # -- state -------------------------------------------------------------------------------

    @property
    def exit_status(self) -> int | None:
        """The shell's exit status once it ended (-1 for a signal), else ``None``."""
        if self._chan is None:
            return None
        return self._chan.get_exit_status()

    @property
    def pending(self) -> int:
        """Bytes received from the device and not yet consumed by ``on_output``."""
        return self._pending

    @property
    def ended(self) -> bool:
        """The channel is closed (output may still be being delivered)."""
        return self._ended

    # -- flow --------------------------------------------------------------------------------

    def _received(self, data: bytes) -> None:
        self._queue.append(data)
        self._pending += len(data)
        self.bytes_received += len(data)
        if self._pending > self.peak_pending:
            self.peak_pending = self._pending
        if self._pending >= self.max_pending and not self.paused and self._chan is not None:
            self.paused = True
            self._chan.pause_reading()
        self._wake.set()

    def _lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.info("shell channel lost: %s", exc)
        self._ended = True
        self._wake.set()

    async def _pump(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    data = b"".join(self._queue)
                    self._queue.clear()
                    # In slices, with a turn for the event loop whenever a few milliseconds went
                    # by: output that is dear to parse (hostile or not) slows only this shell,
                    # never the tunnels and keys sharing the loop.
                    # (A coroutine consumer gets whole chunks: it can take its own turns.)
                    started = time.perf_counter()
                    step = max(1, len(data)) if self._async_consumer else OUTPUT_SLICE
                    for start in range(0, len(data), step):
                        try:
                            result = self._on_output(data[start : start + step])
                            if inspect.isawaitable(result):
                                await result
                        except Exception:  # a broken consumer must not wedge the session
                            log.exception("shell output consumer failed")
                        if time.perf_counter() - started > OUTPUT_BUDGET:
                            await asyncio.sleep(0)
                            started = time.perf_counter()
                    self._pending -= len(data)
                    if self.paused and self._pending <= self.max_pending // 2 and self._chan is not None:
                        self.paused = False
                        self._chan.resume_reading()
                    await asyncio.sleep(0)  # let keystrokes and redraws run during a flood
                if self._ended and not self._queue:
                    break
        finally:
            self._report_exit()
            self._closed.set()

    def _report_exit(self) -> None:
        if self._exit_reported:
            return
        self._exit_reported = True
        if self._on_exit is not None:
            try:
                self._on_exit(self.exit_status)
            except Exception:
                log.exception("shell exit callback failed")
