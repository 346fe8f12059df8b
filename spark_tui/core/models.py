"""The values the whole app talks in: profiles, tunnels, discovered services, states, stats.

All frozen: a change is a new value, so a value handed from a background thread to the UI can
never change under it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from spark_tui.core.apps import AppSpec

LOOPBACK = "127.0.0.1"


class TunnelKind(str, enum.Enum):
    """Which way a tunnel forwards, named after the OpenSSH flag."""

    LOCAL = "local"  # -L: a port on this computer reaches a port on the device
    REMOTE = "remote"  # -R: a port on the device reaches a port on this computer
    DYNAMIC = "dynamic"  # -D: a SOCKS proxy on this computer that exits at the device


@dataclass(frozen=True)
class TunnelSpec:
    """A saved or ad-hoc forward.

    Attributes:
        name: What the user calls it ("dashboard", "jupyter").
        remote_port: Port on the device (for ``remote`` tunnels: the port opened on the device).
        local_port: Port on this computer; ``None`` means "the same number as remote_port".
        remote_host: Host the device connects to; ``localhost`` reaches services bound to the
            device's loopback, which is the point of tunnelling.
        bind_address: Local listen address. Loopback unless the user explicitly asks.
        kind: local, remote or dynamic.
        auto_start: Start when the device connects.
        browser_path: For web apps, the path to open (``"/"``, ``"/lab"``); ``None`` = not web.
    """

    name: str
    remote_port: int
    local_port: int | None = None
    remote_host: str = "localhost"
    bind_address: str = LOOPBACK
    kind: TunnelKind = TunnelKind.LOCAL
    auto_start: bool = False
    browser_path: str | None = None

    @property
    def effective_local_port(self) -> int:
        """The local port to bind: ``local_port`` or, when unset, the remote port's number."""
        return self.remote_port if self.local_port is None else self.local_port

    @property
    def exposed(self) -> bool:
        """True when the listener is reachable from other machines (not loopback)."""
        import ipaddress

        if self.bind_address == "localhost":
            return False
        try:
            address = ipaddress.ip_address(self.bind_address)
        except ValueError:
            return True  # a name: it may resolve to anything
        mapped = getattr(address, "ipv4_mapped", None)
        return not (mapped or address).is_loopback


@dataclass(frozen=True)
class PortRules:
    """Allow/deny rules for remote port detection. Empty ``allow`` means "everything not denied"."""

    allow: tuple[str, ...] = ()  # entries like "8888", "8000-8999"
    deny: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceProfile:
    """A saved device, as it stands in the profile file.

    Attributes:
        name: Unique name, the key in the file (``spark-1a2b``).
        host: Host name or address to connect to (``spark-1a2b.local``, ``192.0.2.7``).
        user: Login name; ``None`` means the local user name.
        port: SSH port.
        identity_file: Private key path; ``None`` means ssh-agent / defaults.
        jump_host: Optional ProxyJump: one hop (``user@bastion:22`` or another profile's name) or
            a chain ``a,b`` dialled in order, as OpenSSH's ``ProxyJump a,b``.
        tags: Free labels for grouping (``lab``, ``fleet``).
        tunnels: Saved tunnels.
        ports: Rules for remote port detection.
        demo: True for the embedded demo device (this computer, not a Spark).
        extra_identity_files: More private keys tried after ``identity_file``, in order (OpenSSH
            tries every ``IdentityFile``); stored in the file as one ``identity_files`` list.
        proxy_command: Optional OpenSSH ``ProxyCommand`` (run by ``/bin/sh -c``; ``%h``, ``%p``,
            ``%r``, ``%n`` and ``%%`` expanded when connecting).
        apps: Saved apps (start script + port + browser path), see ``core.apps``.
    """

    name: str
    host: str
    user: str | None = None
    port: int = 22
    identity_file: str | None = None
    jump_host: str | None = None
    tags: tuple[str, ...] = ()
    tunnels: tuple[TunnelSpec, ...] = ()
    ports: PortRules = field(default_factory=PortRules)
    demo: bool = False
    extra_identity_files: tuple[str, ...] = ()
    proxy_command: str | None = None
    apps: tuple[AppSpec, ...] = ()

    @property
    def identity_files(self) -> tuple[str, ...]:
        """Every private key to try, in order (empty: ssh-agent / default keys)."""
        return ((self.identity_file,) if self.identity_file else ()) + self.extra_identity_files


@dataclass(frozen=True)
class Settings:
    """App settings from the ``[settings]`` table.

    Attributes:
        theme: Theme name (``spark-dark``, ``spark-light``, ``spark-contrast``).
        keys: Binding id -> key(s), passed to Textual's ``set_keymap``.
        discovery_interfaces: Addresses zeroconf binds; ``()`` means all interfaces.
        discovery_types: DNS-SD service types to browse.
        discovery_sweep: Also find hosts advertising no service, by a reverse-name sweep of
            the discovery interfaces' IPv4 subnets (each up to a /24); interfaces not chosen
            in ``discovery_interfaces`` are never swept.
        telemetry_interval: Seconds between telemetry samples.
        log_level: Level of the rotating log file.
    """

    theme: str = "spark-dark"
    keys: Mapping[str, str] = field(default_factory=dict)
    discovery_interfaces: tuple[str, ...] = ()
    discovery_types: tuple[str, ...] = ("_ssh._tcp.local.",)
    discovery_sweep: bool = True
    telemetry_interval: float = 1.0
    log_level: str = "INFO"


@dataclass(frozen=True)
class Config:
    """Everything in the profile file."""

    devices: tuple[DeviceProfile, ...] = ()
    settings: Settings = field(default_factory=Settings)

    def device(self, name: str) -> DeviceProfile | None:
        """The profile named ``name``, or ``None``."""
        return next((d for d in self.devices if d.name == name), None)


@dataclass(frozen=True)
class DiscoveredService:
    """One DNS-SD service instance as zeroconf resolved it, translated to plain data.

    Attributes:
        instance: Full instance name (``spark-1a2b._ssh._tcp.local.``).
        service_type: ``_ssh._tcp.local.``.
        server: Host name the SRV record points at (``spark-1a2b.local.``), or ``""``.
        addresses: Textual IPv4/IPv6 addresses, in the order received.
        port: Service port (22 for SSH), or 0 when not resolved.
        txt: TXT properties decoded leniently.
        interface: Address of the local interface that heard it, when known.
        last_seen: Wall-clock time (``time.time()``) of the latest answer heard for it; not part
            of equality, so a refresh of an unchanged service compares equal.
    """

    instance: str
    service_type: str
    server: str = ""
    addresses: tuple[str, ...] = ()
    port: int = 0
    txt: Mapping[str, str] = field(default_factory=dict)
    interface: str = ""
    last_seen: float = field(default=0.0, compare=False)


class ConnectionState(str, enum.Enum):
    """Life of a device's shared SSH connection."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    LOST = "lost"
    RECONNECTING = "reconnecting"
    FAILED = "failed"


@dataclass(frozen=True)
class ConnectionStatus:
    """A published connection state change for one device."""

    device: str
    state: ConnectionState
    message: str = ""
    hint: str = ""


class TunnelState(str, enum.Enum):
    """Life of one tunnel."""

    STARTING = "starting"
    UP = "up"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True)
class TunnelStats:
    """A snapshot of one tunnel, published at a steady rate.

    Attributes:
        device: Device name.
        spec: What is forwarded.
        state: Current state.
        local_port: The port actually bound (may differ from the spec after a conflict).
        connections: Open connections now.
        total_connections: Connections since start.
        bytes_up: Bytes sent towards the device.
        bytes_down: Bytes received from the device.
        rate_up: Bytes/s towards the device over the last interval.
        rate_down: Bytes/s from the device over the last interval.
        uptime: Seconds since it last came up (0 when not up).
        last_error: Last error text, or ``""``.
    """

    device: str
    spec: TunnelSpec
    state: TunnelState
    local_port: int
    connections: int = 0
    total_connections: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    rate_up: float = 0.0
    rate_down: float = 0.0
    uptime: float = 0.0
    last_error: str = ""


@dataclass(frozen=True)
class GpuSample:
    """One GPU's reading; ``None`` fields are unknown (``[N/A]``, ``Not Supported``)."""

    index: int
    name: str = ""
    utilization: float | None = None  # percent
    temperature: float | None = None  # Celsius
    power: float | None = None  # watts
    memory_used: float | None = None  # MiB; ``None`` on GB10 (unified memory: see TelemetrySample)
    memory_total: float | None = None  # MiB; ``None`` on GB10


@dataclass(frozen=True)
class TelemetrySample:
    """One telemetry reading of a device. ``None`` means unknown.

    Attributes:
        device: Device name.
        time: Local monotonic time the sample arrived.
        cpu: CPU busy percent over the last interval.
        mem_total: Bytes of memory (unified on GB10: the GPU shares it).
        mem_available: Bytes available.
        disk_total: Bytes of the home file system.
        disk_used: Bytes used there.
        gpus: One entry per GPU; empty when the device has no ``nvidia-smi``.
    """

    device: str
    time: float
    cpu: float | None = None
    mem_total: int | None = None
    mem_available: int | None = None
    disk_total: int | None = None
    disk_used: int | None = None
    gpus: tuple[GpuSample, ...] = ()


@dataclass(frozen=True)
class DeviceTunnels:
    """Every tunnel's stats on one device, as the tunnel service last published them."""

    device: str
    stats: tuple[TunnelStats, ...]


@dataclass(frozen=True)
class DevicePorts:
    """Ports found listening on a device (values from ``core.proc_net``)."""

    device: str
    ports: tuple = ()
