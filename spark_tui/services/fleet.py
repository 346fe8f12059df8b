"""The live side of every saved device: its shared connection and what runs over it.

One ``Fleet`` owns, per connected device, the tunnel service, the telemetry sampler and the
remote port watcher, and starts/stops them with the connection. It reports everything through
one callback with plain ``core`` values, so the app only routes them to widgets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from spark_tui.core.models import (
    ConnectionState,
    ConnectionStatus,
    DevicePorts,
    DeviceProfile,
    DeviceTunnels,
    TelemetrySample,
    TunnelSpec,
    TunnelStats,
)

log = logging.getLogger(__name__)

Event = ConnectionStatus | DeviceTunnels | DevicePorts | TelemetrySample


@dataclass
class _Device:
    profile: DeviceProfile
    tunnels: Any = None  # services.tunnels.TunnelService
    sampler: Any = None  # services.telemetry.TelemetrySampler
    port_watch: Any = None  # services.port_watch.PortWatch
    shells: list = field(default_factory=list)
    connecting: asyncio.Task | None = None  # a connect() still starting watchers and tunnels


class Fleet:
    """Connections and per-device services for the dashboard.

    The owner sets ``on_event`` (receives every ConnectionStatus, DeviceTunnels, DevicePorts
    and TelemetrySample) and ``confirm_host_key`` (asked ``(host, fingerprint)`` about a key
    not yet trusted; without it unknown keys are refused) before connecting anything.

    Args:
        telemetry_interval: Seconds between telemetry samples.
        known_hosts: Our known_hosts file (default: the data folder's).
        profiles: Looks a saved profile up by name (for jump hosts naming another device).
        **connection_options: Passed to ConnectionService: ``keepalive_interval``,
            ``keepalive_count_max``, ``connect_timeout``, ``mdns_interfaces``.
    """

    def __init__(
        self,
        *,
        telemetry_interval: float = 1.0,
        known_hosts=None,
        profiles: Callable[[str], DeviceProfile | None] | None = None,
        **connection_options: Any,
    ) -> None:
        self.on_event: Callable[[Event], None] = lambda event: None
        self.confirm_host_key: Callable[[str, str], Awaitable[bool]] | None = None
        self.telemetry_interval = telemetry_interval
        self._connection_options = {"known_hosts": known_hosts, "profiles": profiles, **connection_options}
        self._connections = None
        self._devices: dict[str, _Device] = {}

    @property
    def connections(self):
        """The ConnectionService, made on first use so the dashboard paints before asyncssh loads."""
        if self._connections is None:
            from spark_tui.services.ssh import ConnectionService

            self._connections = ConnectionService(
                on_status=self._status, confirm_host_key=self._confirm, **self._connection_options
            )
        return self._connections

    async def _confirm(self, host: str, fingerprint: str) -> bool:
        return bool(self.confirm_host_key and await self.confirm_host_key(host, fingerprint))

    def _on_event(self, event: Event) -> None:
        self.on_event(event)

    # -- connections ------------------------------------------------------------------

    async def connect(self, profile: DeviceProfile) -> None:
        """Connect (or reuse the connection), then start telemetry, port watch and auto-start tunnels.

        Raises:
            ConnectError: the connection failed; the message and hint say why.
        """
        device = self._device(profile)
        device.profile = profile
        device.connecting = asyncio.current_task()
        try:
            await self.connections.connect(profile)
            await self._start_watchers(device)
            for spec in profile.tunnels:
                if spec.auto_start and not self._tunnel_running(device, spec.name):
                    try:
                        await self.start_tunnel(profile, spec)
                    except Exception as error:  # one bad tunnel must not stop the others
                        log.warning("auto-start of %s/%s failed: %s", profile.name, spec.name, error)
        finally:
            if device.connecting is asyncio.current_task():
                device.connecting = None

    async def disconnect(self, name: str) -> None:
        """Stop everything on device ``name`` and close its connection."""
        device = self._devices.pop(name, None)
        if device is not None:
            # A connect still under way would start its tunnels afterwards, and a tunnel dials
            # the device again: stop it first, so a disconnect really disconnects.
            pending, device.connecting = device.connecting, None
            if pending is not None and pending is not asyncio.current_task() and not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending
            for session in list(device.shells):
                await _best_effort(session.close(), f"closing a shell on {name}")
            device.shells.clear()
            await self._stop_watchers(device)
            if device.tunnels is not None:
                await device.tunnels.close()
                self._on_event(DeviceTunnels(name, ()))
        await self.connections.disconnect(name)

    async def close(self) -> None:
        """Stop everything on every device."""
        for name in list(self._devices):
            await self.disconnect(name)
        if self._connections is not None:
            await self._connections.close()

    def state(self, name: str) -> ConnectionState:
        """The device's connection state."""
        return self._connections.state(name) if self._connections else ConnectionState.DISCONNECTED

    def _status(self, status: ConnectionStatus) -> None:
        self._on_event(status)
        device = self._devices.get(status.device)
        if device is None:
            return
        if status.state is ConnectionState.LOST:
            asyncio.get_running_loop().create_task(self._stop_watchers(device))
        elif status.state is ConnectionState.CONNECTED and device.sampler is None:
            # The link came back (a tunnel reconnected it): resume what watches the device.
            asyncio.get_running_loop().create_task(self._start_watchers(device))

    # -- tunnels ----------------------------------------------------------------------

    async def start_tunnel(self, profile: DeviceProfile, spec: TunnelSpec) -> TunnelStats:
        """Start ``spec`` on the device (its listener binds before the connection is made).

        Raises:
            PortInUse: the local port is taken (the error suggests a free one).
            TunnelError: the tunnel cannot start.
        """
        device = self._device(profile)
        if device.tunnels is None:
            from spark_tui.services.tunnels import master_factory
            from spark_tui.services.tunnels import TunnelService

            name = profile.name
            device.tunnels = TunnelService(
                lambda: self.connections.connect(self._devices[name].profile),
                name,
                on_stats=lambda stats: self._on_event(DeviceTunnels(name, stats)),
                openssh=master_factory(lambda: self._devices[name].profile, self.connections.known_hosts.path),
            )
        return await device.tunnels.start(spec)

    async def stop_tunnel(self, device_name: str, tunnel_name: str) -> None:
        """Stop one tunnel (its row stays, as stopped)."""
        device = self._devices.get(device_name)
        if device is not None and device.tunnels is not None:
            await device.tunnels.stop(tunnel_name)

    def tunnel_stats(self, device_name: str) -> tuple[TunnelStats, ...]:
        """Current stats of the device's tunnels."""
        device = self._devices.get(device_name)
        return device.tunnels.stats() if device is not None and device.tunnels is not None else ()

    def _tunnel_running(self, device: _Device, name: str) -> bool:
        return any(s.spec.name == name and s.state.value != "stopped" for s in (device.tunnels.stats() if device.tunnels else ()))

    # -- shells -----------------------------------------------------------------------

    async def open_shell(self, profile: DeviceProfile, *, cols: int, rows: int, on_output, on_exit, command: str | None = None):
        """Open a PTY shell (or ``command`` in a PTY) on the device's shared connection.

        The session is dropped from the device as soon as it ends (so an ended shell never
        keeps a dead connection alive), and ``disconnect`` closes the ones still open.

        Raises:
            ConnectError: the connection failed.
            ShellError: the device refused the session.
        """
        from spark_tui.services.shell import ShellSession

        conn = await self.connections.connect(profile)
        device = self._device(profile)
        session: ShellSession | None = None

        def ended(status: int | None) -> None:
            if session in device.shells:
                device.shells.remove(session)
            on_exit(status)

        session = ShellSession(conn, cols=cols, rows=rows, on_output=on_output, on_exit=ended, command=command)
        await session.start()
        if not session.ended:
            device.shells.append(session)
        return session

    # -- one-off commands ---------------------------------------------------------------

    async def run_command(self, profile: DeviceProfile, command: str, on_line: Callable[[str], None]) -> int | None:
        """Run ``command`` on the device's shared connection, streaming each output line.

        Returns:
            The exit status (``None`` when the command ended without one).

        Raises:
            ConnectError: the connection failed.
        """
        conn = await self.connections.connect(profile)
        async with conn.create_process(command, stderr=asyncssh_stdout()) as process:
            async for line in process.stdout:
                on_line(line.rstrip("\n"))
            await process.wait()
        return process.exit_status

    # -- watchers (telemetry, ports) ----------------------------------------------------

    async def _start_watchers(self, device: _Device) -> None:
        conn = self.connections.connection(device.profile.name)
        if conn is None:
            return
        name = device.profile.name
        if device.sampler is None:
            from spark_tui.services.telemetry import TelemetrySampler

            def sampler_failed(error: Exception, device: _Device = device) -> None:
                # The stream ended without the link going down (the script was killed on the
                # device): forget it so the next connect or reconnect starts a fresh one.
                log.warning("telemetry on %s stopped: %s", name, error)
                device.sampler = None

            device.sampler = TelemetrySampler(conn, name, self.telemetry_interval, self._on_event, on_error=sampler_failed)
            await _best_effort(device.sampler.start(), f"telemetry on {name}")
        if device.port_watch is None:
            try:
                from spark_tui.services.tunnels import PortWatch
            except ImportError:  # pragma: no cover - present once the tunnels work lands
                return
            device.port_watch = PortWatch(
                conn, rules=device.profile.ports, on_ports=lambda ports: self._on_event(DevicePorts(name, tuple(ports)))
            )
            await _best_effort(device.port_watch.start(), f"port watch on {name}")

    async def _stop_watchers(self, device: _Device) -> None:
        sampler, watch = device.sampler, device.port_watch
        device.sampler = device.port_watch = None
        for worker in (sampler, watch):
            if worker is not None:
                await _best_effort(worker.stop(), "stopping a watcher")

    def _device(self, profile: DeviceProfile) -> _Device:
        device = self._devices.get(profile.name)
        if device is None:
            device = self._devices[profile.name] = _Device(profile)
        return device


def asyncssh_stdout():
    """asyncssh's marker for "send stderr where stdout goes" (imported on use)."""
    import asyncssh

    return asyncssh.STDOUT


async def _best_effort(step: Awaitable[Any], what: str) -> None:
    """Run ``step``; a failure is logged, not raised (telemetry must never break a connection)."""
    try:
        await step
    except Exception as error:
        log.warning("%s failed: %s", what, error)
