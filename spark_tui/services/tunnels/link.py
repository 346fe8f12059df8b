"""The SSH connection a device's tunnels ride on, restored with backoff when it drops.

:class:`DeviceLink` gets connections from a ``connect`` callable (a fresh ``asyncssh.connect``
or the shared ``ConnectionService.connect``), watches the current one, and when it closes
tries again after 0.5 s, 1 s, 2 s ... up to 30 s between attempts; a connection that stayed up
for a minute resets the wait. It reports through callbacks; what a drop means for each tunnel
is :mod:`spark_tui.services.tunnels.service`' business.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import asyncssh

from spark_tui.core.errors import SparkError
from spark_tui.services.event_loop import cancel_and_wait

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncssh.SSHClientConnection]]

BACKOFF_FIRST = 0.5
"""Seconds before the first reconnect attempt."""
BACKOFF_CAP = 30.0
"""Longest wait between reconnect attempts."""
STABLE_AFTER = 60.0
"""A connection that lived this long resets the backoff when it drops."""

RETRYABLE = (OSError, asyncssh.Error, SparkError, asyncio.TimeoutError)
"""What a failed reconnect attempt may raise; anything else is a bug and is not retried."""


class DeviceLink:
    """One device's connection for tunnels, kept up while anyone wants it.

    Args:
        connect: Returns a connected connection.
        device: Device name, for logs.
        wanted: Whether anything still needs the link; when it drops and nothing does, the
            link is not restored (the next :meth:`ensure` connects afresh).
        on_lost: Called with a reason when the connection dropped.
        on_retry_failed: Called with a reason after each failed reconnect attempt.
        on_restored: Awaited with the new connection after a reconnect.
        on_crash: Called if the watcher stops on an unexpected error.
    """

    def __init__(
        self,
        connect: Connect,
        device: str,
        *,
        wanted: Callable[[], bool],
        on_lost: Callable[[str], None],
        on_retry_failed: Callable[[str], None],
        on_restored: Callable[[asyncssh.SSHClientConnection], Awaitable[None]],
        on_crash: Callable[[BaseException], None],
    ) -> None:
        self._connect = connect
        self.device = device
        self._wanted = wanted
        self._on_lost = on_lost
        self._on_retry_failed = on_retry_failed
        self._on_restored = on_restored
        self._on_crash = on_crash
        self._conn: asyncssh.SSHClientConnection | None = None
        self._up = asyncio.Event()
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task | None = None
        self._connected_at = 0.0
        self.backoff = BACKOFF_FIRST

    @property
    def up(self) -> bool:
        """True while the connection is open."""
        return self._up.is_set()

    @property
    def conn(self) -> asyncssh.SSHClientConnection | None:
        """The open connection, or ``None`` while down."""
        return self._conn if self._up.is_set() else None

    async def ensure(self) -> asyncssh.SSHClientConnection | None:
        """The open connection, connecting on first use; ``None`` while a reconnect is under way.

        Raises:
            Whatever ``connect`` raises on the first attempt (``ConnectError``, ``OSError`` ...).
        """
        async with self._lock:
            if self._conn is not None:
                return self.conn
            if self._watcher is not None:
                return None
            conn = await self._connect()
            self._adopt(conn)
            self._watcher = asyncio.create_task(self._watch(), name=f"tunnel-link:{self.device}")
            self._watcher.add_done_callback(self._watch_ended)
            return conn

    async def wait_up(self, timeout: float) -> asyncssh.SSHClientConnection | None:
        """The connection once it is up, or ``None`` if that takes longer than ``timeout``."""
        if not self._up.is_set():
            try:
                await asyncio.wait_for(self._up.wait(), timeout)
            except asyncio.TimeoutError:
                return None
        return self.conn

    async def close(self, close_connection: bool) -> None:
        """Stop watching; close the connection too when asked."""
        watcher, self._watcher = self._watcher, None
        await cancel_and_wait(watcher)
        if self._conn is not None and close_connection:
            self._conn.close()
        self._conn = None
        self._up.clear()

    def _adopt(self, conn: asyncssh.SSHClientConnection) -> None:
        self._conn = conn
        self._connected_at = time.monotonic()
        self._up.set()

    def _watch_ended(self, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("%s: tunnel link watcher crashed", self.device, exc_info=task.exception())
        if self._watcher is task:
            self._watcher = None
        self._on_crash(task.exception())  # type: ignore[arg-type]

    async def _watch(self) -> None:
        """Wait for the connection to drop, then reconnect with backoff (until cancelled)."""
        while True:
            assert self._conn is not None
            await self._conn.wait_closed()
            self._up.clear()
            self._conn = None
            if not self._wanted():
                self._watcher = None  # nothing to restore; the next ensure() connects afresh
                return
            if time.monotonic() - self._connected_at >= STABLE_AFTER:
                self.backoff = BACKOFF_FIRST
            log.info("%s: connection lost; reconnecting", self.device)
            self._on_lost("connection to the device lost")
            conn = await self._reconnect()
            self._adopt(conn)
            await self._on_restored(conn)

    async def _reconnect(self) -> asyncssh.SSHClientConnection:
        while True:
            await asyncio.sleep(self.backoff)
            try:
                conn = await self._connect()
                if conn.is_closed():
                    raise asyncssh.ConnectionLost("the connection closed as it opened")
                return conn
            except RETRYABLE as error:
                self._on_retry_failed(f"reconnect failed: {error}")
                self.backoff = min(self.backoff * 2, BACKOFF_CAP)
