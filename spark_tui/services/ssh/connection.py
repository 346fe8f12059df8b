"""One shared SSH connection per device, with host-key trust and plain-language errors.

``ConnectionService.connect(profile)`` is what OpenSSH calls a control master: the first call
dials, later calls (and concurrent ones while dialling) get the same connection, and tunnels,
shells and telemetry all open channels on it. Keepalives notice a dead link in ~20-25 s; the
service then publishes ``lost`` through ``on_status`` and wakes ``wait_lost``. Reconnecting is
the caller's policy (the tunnel service just calls ``connect`` again).

``dial`` is the single place that opens an SSH connection; onboarding uses it too (with a
password) so both share the same host-key checks and error mapping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import getpass
import shlex
import socket
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import asyncssh

from spark_tui.config import locations
from spark_tui.core.errors import ConnectError, HostKeyChanged
from spark_tui.core.models import ConnectionState, ConnectionStatus, DeviceProfile
from spark_tui.core.untrusted import display_safe
from spark_tui.services.ssh.batched_tcp import BatchedTCP
from spark_tui.services.ssh.host_key_order import host_key_algorithms
from spark_tui.services.ssh.known_hosts import (
    ConfirmHostKey,
    HostKeyCheck,
    KnownHosts,
    OfferedFingerprint,
    fingerprint,
    host_pattern,
    unknown_host_error,
)
from spark_tui.services.ssh.login_options import (  # load_identity: onboarding imports it from here
    ask_about_key, load_identities, load_identity, proxy_argv,  # noqa: F401
)
from spark_tui.services.ssh.ssh_config import parse_jump

FAST_CIPHER = "aes128-gcm@openssh.com"
SETUP_KEY_HINT = "set up key login with: spark-tui device add NAME --host H --setup-key"


def encryption_algs() -> list[str]:
    """asyncssh's default ciphers with AES-128-GCM moved first (the fastest with asyncssh)."""
    try:
        from asyncssh.encryption import get_default_encryption_algs

        defaults = [alg.decode() for alg in get_default_encryption_algs()]
    except ImportError:  # pragma: no cover - older/newer asyncssh layouts
        defaults = ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes256-ctr", "aes128-ctr"]
    return [FAST_CIPHER, *(alg for alg in defaults if alg != FAST_CIPHER)]


def translate_error(error: BaseException, profile: DeviceProfile) -> ConnectError:
    """Map what asyncssh/the OS raised while connecting to one ``ConnectError`` with a hint."""
    where = f"{profile.host}:{profile.port}"
    if isinstance(error, ConnectError):
        return error
    if isinstance(error, socket.gaierror):
        return ConnectError(
            "resolve",
            f"cannot resolve host name {profile.host!r}",
            "check the name; on networks that block mDNS use the device's IP address",
        )
    if isinstance(error, ConnectionRefusedError):
        return ConnectError(
            "refused",
            f"{where} refused the connection",
            "is sshd running there and is the port right? a Spark needs 3-4 minutes after boot or an update",
        )
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return ConnectError("timeout", f"no answer from {where} in time", "is the device on and on this network?")
    if isinstance(error, asyncssh.PermissionDenied):
        return ConnectError("auth", f"{where} did not accept our login as {profile.user or getpass.getuser()}", SETUP_KEY_HINT)
    if isinstance(error, asyncssh.ConnectionLost):
        return ConnectError("lost", f"connection to {where} was lost: {display_safe(str(error), 300)}", "try again")
    if isinstance(error, asyncssh.DisconnectError):
        return ConnectError("other", f"{where} closed the connection: {display_safe(error.reason, 300)}", "")
    if isinstance(error, OSError):
        if error.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return ConnectError("timeout", f"no route to {where}", "is the device on and on this network?")
        return ConnectError("other", f"cannot connect to {where}: {error.strerror or error}", "")
    return ConnectError("other", f"cannot connect to {where}: {error}", "")


async def _mdns_address(host: str, port: int, interfaces: Sequence[str]) -> str | None:
    """A ``.local`` name's address over mDNS on ``interfaces`` (all when empty), or None."""
    if not host.rstrip(".").endswith(".local"):
        return None
    from spark_tui.services.discovery import resolve_host

    try:
        found = await resolve_host(host, port, interfaces=interfaces)
    except ConnectError:  # nothing answered: the caller reports the system resolver's error
        return None
    return found[0] if found else None


async def dial(
    profile: DeviceProfile,
    *,
    known_hosts: KnownHosts,
    confirm_host_key: ConfirmHostKey | None = None,
    password: str | None = None,
    tunnel: asyncssh.SSHClientConnection | None = None,
    keepalive_interval: float = 5.0,
    keepalive_count_max: int = 4,
    connect_timeout: float = 15.0,
    mdns_interfaces: Sequence[str] = (),
) -> tuple[asyncssh.SSHClientConnection, HostKeyCheck]:
    """Open one authenticated connection to ``profile``; the host key is checked first.

    With ``password`` only password/keyboard-interactive logins are tried; otherwise the
    profile's ``identity_file`` (alone) or, without one, ssh-agent and the default keys.
    An unknown host key is offered to ``confirm_host_key(host, fingerprint)`` (with the key type
    as a third argument when the callback takes one) and stored if it says yes; the login only
    happens after that. Host key algorithms are offered in OpenSSH's order (``host_key_order``);
    ``@cert-authority`` and ``@revoked`` lines of our known_hosts are honoured.

    Returns:
        The connection and the client object watching it (its ``lost_callback`` may be set).

    Raises:
        HostKeyChanged: the device offered a key different from the trusted one.
        ConnectError: every other failure, with ``kind`` naming it.
    """
    auth: dict = {"config": None, "encryption_algs": encryption_algs()}
    if password is not None:
        auth.update(password=password, client_keys=None, agent_path=None, preferred_auth="keyboard-interactive,password")
    elif profile.identity_files:
        auth.update(client_keys=load_identities(profile), agent_path=None)
    if profile.proxy_command and tunnel is None:
        auth.update(proxy_command=proxy_argv(profile))
    else:
        # Direct links batch each loop turn's packets into one send (see batched_tcp).
        auth.update(tunnel=tunnel or BatchedTCP())
    address = profile.host
    user = profile.user or getpass.getuser()
    confirmed: asyncssh.SSHKey | None = None
    name = host_pattern(profile.host, profile.port)
    while True:
        trusted = known_hosts.keys_for(profile.host, profile.port)
        entries = [e for e in known_hosts.entries() if e.matches(name)]
        revoked = [e.key for e in entries if e.marker == "@revoked"]
        authorities = [e.key for e in entries if e.marker == "@cert-authority" and e.key not in revoked]
        algorithms = host_key_algorithms(
            [e.key.algorithm.decode() for e in entries if not e.marker], with_certificates=bool(authorities)
        )
        check = HostKeyCheck(trusted_key=confirmed)
        try:
            conn = await asyncssh.connect(
                address,
                profile.port,
                username=user,
                known_hosts=(trusted, authorities, revoked),
                server_host_key_algs=algorithms,
                # Certificates name the host the user wrote, not the address mDNS found.
                host_key_alias=profile.host if address != profile.host else None,
                client_factory=lambda: check,
                keepalive_interval=keepalive_interval,
                keepalive_count_max=keepalive_count_max,
                connect_timeout=connect_timeout,
                **auth,
            )
            return conn, check
        except asyncssh.HostKeyNotVerifiable as error:
            offered = check.offered_key
            if offered is None:
                if "revoked" in str(error.reason):
                    raise ConnectError(
                        "host-key-changed",
                        f"host key of {name} is revoked ({display_safe(error.reason, 300)})",
                        f"it is marked @revoked in {known_hosts.path}; do not connect until you know why",
                    ) from None
                raise ConnectError("host-key-changed", f"host key of {profile.host} refused: {display_safe(error.reason, 300)}", "") from None
            if known_hosts.is_revoked(profile.host, profile.port, offered):
                raise ConnectError(
                    "host-key-changed",
                    f"host key {fingerprint(offered)} of {host_pattern(profile.host, profile.port)} is revoked",
                    f"it is marked @revoked in {known_hosts.path}; do not connect until you know why",
                ) from None
            previous = trusted[0] if trusted else confirmed  # confirmed: it changed between our two handshakes
            if previous is not None:
                raise HostKeyChanged(
                    shlex.quote(host_pattern(profile.host, profile.port)),
                    fingerprint(previous),
                    fingerprint(offered),
                    shlex.quote(str(known_hosts.path)),
                ) from None
            offered_fp = OfferedFingerprint(offered)
            if confirm_host_key is None:
                raise unknown_host_error(profile.host, profile.port, offered_fp, rejected=False) from None
            if not await ask_about_key(confirm_host_key, name, offered_fp, offered.algorithm.decode()):
                raise unknown_host_error(profile.host, profile.port, offered_fp, rejected=True) from None
            known_hosts.add(profile.host, profile.port, offered)
            confirmed = offered
        except socket.gaierror as error:
            fallback = None if address != profile.host else await _mdns_address(profile.host, profile.port, mdns_interfaces)
            if fallback is None:
                raise translate_error(error, profile) from None
            address = fallback
        except ConnectError:
            raise
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as error:
            raise translate_error(error, profile) from None


class _Device:
    """What the service knows about one device's connection."""

    def __init__(self) -> None:
        self.conn: asyncssh.SSHClientConnection | None = None
        self.attempt: asyncio.Future | None = None
        self.state = ConnectionState.DISCONNECTED
        self.ended: asyncio.Future | None = None
        self.closing = False


class ConnectionService:
    """Shared SSH connections, one per device name.

    Args:
        known_hosts: Our known_hosts file (default ``locations.known_hosts_path()``).
        on_status: Called with every ``ConnectionStatus`` change (on the event loop).
        confirm_host_key: Asked about unknown host keys; without it they are refused.
        keepalive_interval: Seconds between keepalive probes.
        keepalive_count_max: Unanswered probes before the link counts as lost.
        connect_timeout: Seconds allowed for TCP connect + handshake + login.
        profiles: Looks up a saved profile by name, for ``jump_host`` naming another device.
        mdns_interfaces: Where ``.local`` names are asked over mDNS when the system resolver
            cannot resolve them (the discovery setting; empty means every interface).
    """

    def __init__(
        self,
        *,
        known_hosts: Path | None = None,
        on_status: Callable[[ConnectionStatus], None] | None = None,
        confirm_host_key: Callable[[str, str], Awaitable[bool]] | None = None,
        keepalive_interval: float = 5.0,
        keepalive_count_max: int = 4,
        connect_timeout: float = 15.0,
        profiles: Callable[[str], DeviceProfile | None] | None = None,
        mdns_interfaces: Sequence[str] = (),
    ) -> None:
        self.known_hosts = KnownHosts(known_hosts or locations.known_hosts_path())
        self._on_status = on_status
        self._confirm = confirm_host_key
        self._timing = {
            "keepalive_interval": keepalive_interval,
            "keepalive_count_max": keepalive_count_max,
            "connect_timeout": connect_timeout,
            "mdns_interfaces": tuple(mdns_interfaces),
        }
        self._profiles = profiles
        self._devices: dict[str, _Device] = {}

    def connection(self, name: str) -> asyncssh.SSHClientConnection | None:
        """The open connection to device ``name``, or ``None``."""
        device = self._devices.get(name)
        return device.conn if device else None

    def state(self, name: str) -> ConnectionState:
        """Where device ``name``'s connection stands."""
        device = self._devices.get(name)
        return device.state if device else ConnectionState.DISCONNECTED

    async def connect(self, profile: DeviceProfile) -> asyncssh.SSHClientConnection:
        """The shared connection to ``profile.name``, dialling only when there is none.

        Raises:
            HostKeyChanged: the device's host key is not the trusted one.
            ConnectError: the connection could not be made (``kind`` says why).
        """
        device = self._devices.setdefault(profile.name, _Device())
        if device.conn is not None and not device.conn.is_closed():
            return device.conn
        if device.attempt is None:
            device.attempt = asyncio.ensure_future(self._open(profile, device))
            device.attempt.add_done_callback(lambda f: f.cancelled() or f.exception())
        return await asyncio.shield(device.attempt)

    async def wait_lost(self, name: str) -> ConnectError | None:
        """Wait until device ``name``'s current (or last) connection ends.

        Returns:
            A ``ConnectError`` of kind ``lost`` when the link died, ``None`` after a deliberate
            ``disconnect``/``close`` or when the device was never connected.
        """
        device = self._devices.get(name)
        if device is None or device.ended is None:
            return None
        return await asyncio.shield(device.ended)

    async def disconnect(self, name: str) -> None:
        """Close device ``name``'s connection (or cancel its dialling) and wait until it is gone."""
        device = self._devices.get(name)
        if device is None:
            return
        device.closing = True
        if device.attempt is not None:
            device.attempt.cancel()
            await asyncio.gather(device.attempt, return_exceptions=True)
        conn = device.conn
        if conn is not None:
            conn.close()
            await conn.wait_closed()
            if device.ended is not None:
                await asyncio.shield(device.ended)
        elif device.state is not ConnectionState.DISCONNECTED:
            self._set(name, device, ConnectionState.DISCONNECTED, "disconnected")

    async def close(self) -> None:
        """Disconnect every device."""
        await asyncio.gather(*(self.disconnect(name) for name in list(self._devices)))

    async def _open(self, profile: DeviceProfile, device: _Device) -> asyncssh.SSHClientConnection:
        device.closing = False
        self._set(profile.name, device, ConnectionState.CONNECTING, f"connecting to {profile.host}:{profile.port}")
        try:
            tunnel = await self._jump(profile)
            conn, check = await dial(
                profile, known_hosts=self.known_hosts, confirm_host_key=self._confirm, tunnel=tunnel, **self._timing
            )
        except asyncio.CancelledError:
            self._set(profile.name, device, ConnectionState.DISCONNECTED, "cancelled")
            raise
        except ConnectError as error:
            self._set(profile.name, device, ConnectionState.FAILED, error.message, error.hint)
            raise
        finally:
            device.attempt = None
        ended: asyncio.Future = asyncio.get_running_loop().create_future()
        device.conn, device.ended = conn, ended
        check.lost_callback = lambda exc: self._ended(profile, device, conn, exc)
        self._set(profile.name, device, ConnectionState.CONNECTED, f"connected to {profile.host}:{profile.port}")
        return conn

    async def jump_tunnel(self, profile: DeviceProfile) -> asyncssh.SSHClientConnection | None:
        """The connection to ``profile``'s last jump hop (dialled through the chain), or None.

        Raises:
            ConnectError: a hop cannot be reached (the message names it).
        """
        return await self._jump(profile)

    async def _jump(self, profile: DeviceProfile) -> asyncssh.SSHClientConnection | None:
        if not profile.jump_host:
            return None
        # A chain a,b,c is c reached through the chain a,b (as ssh -J a,b,c does it).
        hops = [hop.strip() for hop in profile.jump_host.split(",")]
        saved = self._profiles(hops[-1]) if self._profiles else None
        jump = saved or parse_jump(hops[-1])
        if len(hops) > 1:
            jump = dataclasses.replace(jump, name=f"jump:{','.join(hops)}", jump_host=",".join(hops[:-1]))
        if jump.name == profile.name:
            raise ConnectError("other", f"device {profile.name} names itself as its jump host", "fix jump_host")
        try:
            return await self.connect(jump)
        except ConnectError as error:
            raise ConnectError(error.kind, f"jump host {profile.jump_host}: {error.message}", error.hint) from None

    def _ended(self, profile: DeviceProfile, device: _Device, conn, exc: Exception | None) -> None:
        if device.conn is not conn:
            return
        device.conn = None
        ended = device.ended
        if device.closing:
            self._set(profile.name, device, ConnectionState.DISCONNECTED, "disconnected")
            result = None
        else:
            reason = display_safe(str(exc), 300) if exc else "the device closed the connection"
            result = ConnectError("lost", f"connection to {profile.name} lost: {reason}", "it reconnects when asked")
            self._set(profile.name, device, ConnectionState.LOST, result.message, result.hint)
        if ended is not None and not ended.done():
            ended.set_result(result)

    def _set(self, name: str, device: _Device, state: ConnectionState, message: str = "", hint: str = "") -> None:
        device.state = state
        if self._on_status is not None:
            self._on_status(ConnectionStatus(name, state, message, hint))
