"""Live, self-healing port forwards to one device.

:class:`TunnelService` owns the device's tunnels: our own local listeners for local (-L) and
dynamic (-D) forwards, remote listeners on the device for remote (-R) forwards, the SSH
connection they share (obtained from a ``connect`` callable, so the caller decides how to
connect), and the reconnect loop. When the connection drops, every tunnel goes to
``reconnecting`` while the local listeners stay bound (nobody can take the port), and comes back
by itself with backoff. Stats are published at a steady rate through ``on_stats``, never per
packet (:mod:`spark_tui.services.tunnels.stats`). Given an ``openssh`` factory, local forwards'
bytes are carried by an OpenSSH master instead of asyncssh
(:mod:`spark_tui.services.tunnels.carrier`). No UI here: callbacks and return values only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable

import asyncssh

from spark_tui.core.errors import SparkError, TunnelError
from spark_tui.core.models import TunnelKind, TunnelSpec, TunnelState, TunnelStats
from spark_tui.services.tunnels.forwarding import (
    LocalEnd,
    QuietLocalEnd,
    bind_listener,
    channel_end_for,
    describe_open_error,
    listen_locally,
    open_channel,
)
from spark_tui.services.tunnels.socks import HandshakeGate, SocksEnd
from spark_tui.services.tunnels.carrier import MasterFactory, OpenSSHCarrier
from spark_tui.services.tunnels.link import Connect, DeviceLink
from spark_tui.services.tunnels.stats import StatsCallback, StatsTicker
from spark_tui.services.tunnels.tunnel import Tunnel

log = logging.getLogger(__name__)



class TunnelService:
    """The tunnels of one device and the connection they ride on.

    Args:
        connect: Returns a connected asyncssh connection (a new or shared one); called again
            to reconnect after a drop.
        device: Device name, copied into every :class:`TunnelStats`.
        on_stats: Receives every tunnel's stats every ``stats_interval`` seconds while anything
            changes (and once after it stops changing).
        stats_interval: Seconds between published snapshots.
        count_bytes: Count bytes per tunnel (on by default; off only to measure its cost).
        link_wait: Seconds a connection accepted while reconnecting waits for the link before
            it is closed.
        owns_connection: Close the connection on :meth:`close`. Leave ``False`` when
            ``connect`` hands out a connection shared with other services.
        openssh: Makes an OpenSSH control master to carry local forwards' bytes
            (:mod:`spark_tui.services.ssh.openssh_mux`); ``None`` keeps every byte on asyncssh.
        socks_remote_clients: Let a SOCKS (-D) listener serve clients from other computers;
            by default only loopback clients are served, whatever address it is bound to.
            Connections the master cannot take (not started yet, refused, gone) go the
            asyncssh way, so this only changes speed, never what works.
    """

    def __init__(
        self,
        connect: Connect,
        device: str,
        *,
        on_stats: StatsCallback | None = None,
        stats_interval: float = 0.5,
        count_bytes: bool = True,
        link_wait: float = 5.0,
        owns_connection: bool = False,
        openssh: MasterFactory | None = None,
        socks_remote_clients: bool = False,
    ) -> None:
        self._owns_connection = owns_connection
        self._socks_remote_clients = socks_remote_clients
        self.device = device
        self._count = count_bytes
        self._link_wait = link_wait
        self._tunnels: dict[str, Tunnel] = {}
        self.link = DeviceLink(
            connect,
            device,
            wanted=lambda: bool(self._live()),
            on_lost=self._link_lost,
            on_retry_failed=self._note_error,
            on_restored=self._link_restored,
            on_crash=self._link_crashed,
        )
        self._ticker = StatsTicker(
            lambda: self._tunnels.values(), self.stats, on_stats, stats_interval, f"tunnel-stats:{device}"
        )
        self._tasks: set[asyncio.Task] = set()
        self._carrier = None if openssh is None else OpenSSHCarrier(
            openssh, device, self.link, lambda: any(t.listener is not None for t in self._live()), self._spawn,
            count_bytes=count_bytes,
        )
        self._closed = False

    # ----------------------------------------------------------------- public API

    async def start(self, spec: TunnelSpec) -> TunnelStats:
        """Start one tunnel: bind its local listener first, then make sure the link is up.

        Args:
            spec: What to forward. A tunnel of the same name must not be running.

        Returns:
            The tunnel's stats right after starting (``up``, or ``reconnecting`` when the
            link is down and being restored).

        Raises:
            PortInUse: The local port is taken; the error suggests the next free one.
            TunnelError: Bad spec, address not bindable, the device refused a remote listener,
                or the service is closed.
            SparkError: The first connection to the device failed (from ``connect``).
        """
        if self._closed:
            raise TunnelError("the tunnel service is closed")
        old = self._tunnels.get(spec.name)
        if old is not None and old.state is not TunnelState.STOPPED:
            raise TunnelError(f"tunnel {spec.name!r} is already running", "stop it first or pick another name")
        remote_ok = spec.kind is TunnelKind.DYNAMIC or 0 < spec.remote_port < 65536  # -D has no remote port
        if not remote_ok or not (0 <= spec.effective_local_port < 65536):
            raise TunnelError(f"tunnel {spec.name!r}: ports must be 1-65535", "check the tunnel's ports")
        tunnel = Tunnel(spec, local_port=spec.effective_local_port)
        if spec.kind is TunnelKind.LOCAL and self._carrier is not None and _is_ip(spec.bind_address):
            tunnel.listener = bind_listener(spec.bind_address, tunnel.local_port)
            tunnel.local_port = tunnel.listener.getsockname()[1]
            asyncio.get_running_loop().add_reader(
                tunnel.listener.fileno(), self._carrier.accept, tunnel, self._factory(tunnel)
            )
        elif spec.kind is not TunnelKind.REMOTE:
            tunnel.server = await listen_locally(spec.bind_address, tunnel.local_port, self._factory(tunnel))
            tunnel.local_port = tunnel.server.sockets[0].getsockname()[1]
        self._tunnels[spec.name] = tunnel
        self._ticker.ensure()
        try:
            conn = await self.link.ensure()
        except BaseException:
            await self._drop(tunnel)
            raise
        if conn is None:
            tunnel.state = TunnelState.RECONNECTING
        else:
            try:
                await self._bring_up(tunnel, conn)
            except BaseException:
                await self._drop(tunnel)
                raise
            if self._carrier is not None:
                self._carrier.want()
        return tunnel.snapshot(self.device, time.monotonic())

    async def start_all(self, specs: Iterable[TunnelSpec]) -> tuple[TunnelStats | SparkError, ...]:
        """Start several tunnels (a profile's ``auto_start`` ones, a preset bundle), one by one.

        One tunnel failing does not stop the others: its place in the result holds the error.

        Returns:
            Per spec, in order, its stats or the :class:`SparkError` that stopped it.
        """
        results: list[TunnelStats | SparkError] = []
        for spec in specs:
            try:
                results.append(await self.start(spec))
            except SparkError as error:
                results.append(error)
            except (OSError, asyncssh.Error) as error:
                results.append(TunnelError(f"tunnel {spec.name!r} could not start: {error}"))
        return tuple(results)

    async def stop(self, name: str) -> None:
        """Stop a tunnel: close its listener and its open connections. Unknown names are ignored."""
        tunnel = self._tunnels.get(name)
        if tunnel is None or tunnel.state is TunnelState.STOPPED:
            return
        await self._drop(tunnel, keep=True)

    async def close(self) -> None:
        """Stop every tunnel, the reconnect loop and the stats.

        The connection is closed too when the service was made with ``owns_connection``.
        """
        self._closed = True
        for tunnel in list(self._tunnels.values()):
            await self._drop(tunnel, keep=True)
        if self._carrier is not None:
            await self._carrier.close()
        await self.link.close(self._owns_connection)
        await self._ticker.stop()
        for task in list(self._tasks):
            task.cancel()

    def stats(self) -> tuple[TunnelStats, ...]:
        """A snapshot of every tunnel started so far (stopped ones included), in start order."""
        now = time.monotonic()
        return tuple(t.snapshot(self.device, now) for t in self._tunnels.values())

    @property
    def connected(self) -> bool:
        """True while the link to the device is up."""
        return self.link.up

    @property
    def carrier(self) -> str:
        """What carries local forwards' bytes now: ``"openssh"`` (its master) or ``"asyncssh"``."""
        return self._carrier.name if self._carrier is not None else "asyncssh"

    @property
    def carrier_note(self) -> str:
        """Why local forwards are not on OpenSSH when a master failed to start, else ``""``."""
        return self._carrier.note if self._carrier is not None else ""

    async def wait_carrier(self, timeout: float) -> str:
        """:attr:`carrier` once an OpenSSH master runs or failed to start (``timeout`` at most)."""
        return await self._carrier.settled(timeout) if self._carrier is not None else "asyncssh"

    # ----------------------------------------------------------------- connection

    def _link_lost(self, reason: str) -> None:
        if self._carrier is not None:
            self._carrier.link_lost()
        for tunnel in self._live():
            tunnel.state = TunnelState.RECONNECTING
            tunnel.up_since = 0.0
            tunnel.last_error = reason
            tunnel.remote_listener = None

    def _note_error(self, message: str) -> None:
        for tunnel in self._live():
            tunnel.last_error = message

    async def _link_restored(self, conn: asyncssh.SSHClientConnection) -> None:
        for tunnel in self._live():
            try:
                await self._bring_up(tunnel, conn)
            except SparkError as error:
                tunnel.state = TunnelState.FAILED
                tunnel.last_error = str(error)
            except (OSError, asyncssh.Error) as error:
                tunnel.last_error = f"could not restore: {error}"  # the link dropped again
        if self._carrier is not None:
            self._carrier.link_restored()

    def _link_crashed(self, error: BaseException) -> None:
        for tunnel in self._live():
            tunnel.state = TunnelState.FAILED
            tunnel.last_error = f"internal error: {error}"

    async def _bring_up(self, tunnel: Tunnel, conn: asyncssh.SSHClientConnection) -> None:
        if tunnel.spec.kind is TunnelKind.REMOTE:
            tunnel.remote_listener = await self._listen_remotely(tunnel, conn)
        tunnel.state = TunnelState.UP
        tunnel.up_since = time.monotonic()

    def _live(self) -> list[Tunnel]:
        return [t for t in self._tunnels.values() if t.state not in (TunnelState.STOPPED, TunnelState.FAILED)]

    # ----------------------------------------------------------------- forwarding

    def _spawn(self, coro) -> asyncio.Task:
        """Run ``coro`` as a task that :meth:`close` cancels."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _factory(self, tunnel: Tunnel) -> Callable[[], LocalEnd]:
        traffic = tunnel.traffic

        def on_accept(local: LocalEnd) -> None:
            self._spawn(self._forward(tunnel, local))

        if tunnel.spec.kind is TunnelKind.DYNAMIC:
            gate = HandshakeGate(allow_remote=self._socks_remote_clients)
            return lambda: SocksEnd(traffic, on_accept, gate)
        end = LocalEnd if self._count else QuietLocalEnd
        return lambda: end(traffic, on_accept)

    async def _forward(self, tunnel: Tunnel, local: LocalEnd) -> None:
        """Open the channel for one accepted connection, waiting briefly if the link is down."""
        if isinstance(local, SocksEnd):
            host, port = local.target  # type: ignore[misc]
        else:
            host, port = tunnel.spec.remote_host, tunnel.spec.remote_port
        conn = self.link.conn or await self.link.wait_up(self._link_wait)
        if conn is None and not local.closed:
            tunnel.last_error = f"a connection waited {self._link_wait:g}s for the device and was closed"
        if local.closed or conn is None:
            self._refuse(local)
            return
        try:
            await open_channel(conn, local, host, port)
        except asyncssh.ChannelOpenError as error:
            tunnel.last_error = describe_open_error(error, host, port)
            self._refuse(local)
        except (OSError, asyncssh.Error) as error:
            tunnel.last_error = f"connection to {host}:{port} failed: {error}"
            self._refuse(local)

    @staticmethod
    def _refuse(local: LocalEnd) -> None:
        if isinstance(local, SocksEnd):
            local.refuse()
        else:
            local.close()

    async def _listen_remotely(self, tunnel: Tunnel, conn: asyncssh.SSHClientConnection) -> asyncssh.SSHListener:
        """Ask the device to listen on the remote port and forward to our local port (-R)."""
        spec = tunnel.spec
        traffic = tunnel.traffic
        end = LocalEnd if self._count else QuietLocalEnd
        loop = asyncio.get_running_loop()

        async def session_factory(_orig_host: str, _orig_port: int):
            local = end(traffic, None)
            try:
                await loop.create_connection(lambda: local, spec.bind_address, tunnel.local_port)
            except OSError as error:
                tunnel.last_error = (
                    f"local port {tunnel.local_port} refused: nothing listening on this computer"
                )
                raise asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, str(error)) from None
            return channel_end_for(local)

        try:
            return await conn.create_server(session_factory, spec.remote_host, spec.remote_port)
        except asyncssh.ChannelListenError as error:
            raise TunnelError(
                f"the device refused to listen on port {spec.remote_port}: {error.reason or 'no reason given'}",
                "the port may be in use on the device, or below 1024",
            ) from None

    async def _drop(self, tunnel: Tunnel, keep: bool = False) -> None:
        """Close a tunnel's listeners; ``keep`` leaves it in the list as ``stopped``."""
        if tunnel.server is not None:
            tunnel.server.close()
            tunnel.server = None
        if tunnel.listener is not None:
            asyncio.get_running_loop().remove_reader(tunnel.listener.fileno())
            tunnel.listener.close()
            tunnel.listener = None
        tunnel.traffic.close_all()
        if tunnel.remote_listener is not None:
            tunnel.remote_listener.close()
            tunnel.remote_listener = None
        tunnel.state = TunnelState.STOPPED
        tunnel.up_since = 0.0
        if not keep:
            self._tunnels.pop(tunnel.spec.name, None)


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True
