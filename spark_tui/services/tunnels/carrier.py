"""Which program carries a device's local forwards: an OpenSSH master while one runs, else asyncssh.

:class:`OpenSSHCarrier` keeps at most one :class:`~spark_tui.services.ssh.openssh_mux.OpenSSHMaster`
per tunnel service: started in the background once the link is up and a local forward listens,
stopped when the link drops (it rode the same network) and started again when the link comes
back; one that fails to start is retried after 0.5 s, 1 s, 2 s ... up to a minute. Until it
runs, and for every connection it will not take, the tunnel service carries the connection on
asyncssh, so the master changes speed, never what works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncssh

from spark_tui.core.models import DeviceProfile
from spark_tui.services.event_loop import cancel_and_wait
from spark_tui.services.ssh import MuxError, MuxRefused, MuxSession, OpenSSHMaster
from spark_tui.services.tunnels.counters import HandedEnd
from spark_tui.services.tunnels.link import BACKOFF_FIRST, DeviceLink
from spark_tui.services.tunnels.masters import master_for, ssh_for_masters

log = logging.getLogger(__name__)

MasterFactory = Callable[[asyncssh.SSHClientConnection], "OpenSSHMaster | None"]
"""Makes an (unstarted) OpenSSH master for the device a live connection reached, or ``None``
when this device cannot have one (then it is never asked again)."""

RETRY_CAP = 60.0
"""Longest wait before trying an OpenSSH master again after one failed to start."""
ACCEPTS_PER_WAKE = 128
"""Connections taken from a listener's queue per readiness callback."""


def master_factory(profile: Callable[[], DeviceProfile], known_hosts: Path) -> MasterFactory | None:
    """How to make an OpenSSH master for a device's local forwards, or ``None`` if it cannot have one.

    ``profile`` returns the device's current profile (read when a master is made).

    It cannot without an ``ssh`` program, off Linux (no per-socket byte counters: the bytes
    would go uncounted), behind a jump host (the master would need its own route), or when
    ``SPARK_TUI_TUNNEL_CARRIER=asyncssh``. The master dials the address the live asyncssh
    connection reached (a ``.local`` name resolved by our mDNS needs no system resolver) and
    trusts only the key stored for the profile's host in our known_hosts.
    """
    ssh = ssh_for_masters()
    if ssh is None:
        return None

    def make(conn: asyncssh.SSHClientConnection) -> OpenSSHMaster | None:
        peer = conn.get_extra_info("peername")
        return master_for(profile(), str(peer[0]), int(peer[1]), known_hosts, ssh) if peer else None

    return make


class OpenSSHCarrier:
    """One tunnel service's OpenSSH master, kept up while the link is.

    Args:
        factory: Makes the master from the live connection.
        device: Device name, for logs.
        link: The service's link (the master starts only while it is up).
        wanted: Whether any tunnel needs the master now.
        spawn: Runs a coroutine as a task the service cancels on close.
        count_bytes: Read the kernel's byte counters of carried connections.
    """

    def __init__(
        self,
        factory: MasterFactory,
        device: str,
        link: DeviceLink,
        wanted: Callable[[], bool],
        spawn: Callable[[Coroutine], asyncio.Task],
        *,
        count_bytes: bool = True,
    ) -> None:
        self._factory: MasterFactory | None = factory
        self._count = count_bytes
        self.device = device
        self._link = link
        self._wanted = wanted
        self._spawn = spawn
        self._master: OpenSSHMaster | None = None
        self._starting: asyncio.Task | None = None
        self._retry_at = 0.0
        self._backoff = BACKOFF_FIRST
        self._closed = False
        self.note = ""
        """Why there is no master, when one failed to start (``""`` otherwise)."""

    @property
    def name(self) -> str:
        """``"openssh"`` while a master carries local forwards, else ``"asyncssh"``."""
        return "openssh" if self._master is not None and self._master.alive else "asyncssh"

    async def settled(self, timeout: float) -> str:
        """:attr:`name` once a master runs or failed to start (waits ``timeout`` at most)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.name != "openssh" and not self.note and self._factory:
            await asyncio.sleep(0.02)
        return self.name

    def accept(self, tunnel: Any, fallback: Callable[[], asyncio.Protocol]) -> None:
        """Take waiting connections off a local forward's own listener (a readiness callback).

        Args:
            tunnel: The tunnel (``spec``, ``traffic``, ``listener``, ``last_error``).
            fallback: Protocol factory carrying a connection on asyncssh.
        """
        for _ in range(ACCEPTS_PER_WAKE):
            if tunnel.listener is None:
                return
            try:
                sock, _ = tunnel.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # out of descriptors ...: the client waits in the queue
                tunnel.last_error = f"accept failed: {error.strerror or error}"
                return
            sock.setblocking(False)
            with contextlib.suppress(OSError):  # as ssh -L does for its accepted sockets
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._spawn(self._take(tunnel, sock, fallback))

    async def _take(self, tunnel: Any, sock: socket.socket, fallback: Callable[[], asyncio.Protocol]) -> None:
        """Hand one connection to the master, or carry it on asyncssh."""
        session = await self.carry(sock, tunnel.spec.remote_host, tunnel.spec.remote_port)
        if session is not None:
            end = HandedEnd(sock, tunnel.traffic, self._count)
            if tunnel.listener is None:  # the tunnel stopped while the master set up the channel
                end.shut()
            try:
                await session.wait_closed()
            finally:
                end.finish()
            return
        if tunnel.listener is None:  # stopped meanwhile
            sock.close()
            return
        try:
            await asyncio.get_running_loop().connect_accepted_socket(fallback, sock)
        except OSError:
            sock.close()

    async def carry(self, sock: socket.socket, host: str, port: int) -> MuxSession | None:
        """Hand ``sock`` to the master; ``None`` means: carry it on asyncssh instead."""
        master = self._master
        if master is None or not master.alive or not self._link.up:
            self.want()
            return None
        try:
            return await master.forward(sock, host, port)
        except MuxRefused:
            return None  # asyncssh asks the device again and names the reason (refused, forbidden)
        except MuxError as error:
            log.warning("%s: OpenSSH master failed (%s); carrying on asyncssh", self.device, error)
            return None

    def want(self) -> None:
        """Start a master in the background if one is wanted, none runs and no retry is pending."""
        if self._factory is None or self._closed or self._starting is not None:
            return
        if self.name == "openssh" or time.monotonic() < self._retry_at:
            return
        conn = self._link.conn
        if conn is not None and self._wanted():
            self._starting = self._spawn(self._start(conn))

    def link_lost(self) -> None:
        """The link dropped: stop the master (a new one comes with the link)."""
        if self._master is not None or self._starting is not None:
            self._spawn(self.stop())

    def link_restored(self) -> None:
        """The link is back: start a master now, whatever the retry wait said."""
        self._retry_at = 0.0
        self.want()

    async def close(self) -> None:
        """Stop the master for good."""
        self._closed = True
        await self.stop()

    async def stop(self) -> None:
        """Stop the master (and a start under way)."""
        starting, self._starting = self._starting, None
        if starting is not asyncio.current_task():
            await cancel_and_wait(starting)
        master, self._master = self._master, None
        if master is not None:
            await master.close()

    async def _start(self, conn: asyncssh.SSHClientConnection) -> None:
        try:
            old, self._master = self._master, None
            if old is not None:
                await old.close()
            assert self._factory is not None
            master = self._factory(conn)
            if master is None:
                self._factory = None
                return
            try:
                await master.start()
            except MuxError as error:
                self.note = f"OpenSSH data path unavailable ({error}); tunnels use asyncssh"
                log.warning("%s: %s", self.device, self.note)
                self._retry_at = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, RETRY_CAP)
                return
            if self._closed or not self._link.up:
                await master.close()
                return
            self._master, self.note, self._backoff = master, "", BACKOFF_FIRST
            log.info("%s: local forwards carried by OpenSSH (%s)", self.device, master.control_path)
        finally:
            if self._starting is asyncio.current_task():
                self._starting = None
