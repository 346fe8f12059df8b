"""Pumping bytes between a local TCP socket and an SSH channel, with flow control and counters.

Each forwarded connection is two small objects: :class:`LocalEnd`, the asyncio protocol of the
local socket, and :class:`ChannelEnd`, the asyncssh session of the SSH channel. Each writes
straight into the other's transport (no streams, no queues); when one side's write buffer
fills, the other side stops reading until it drains, so memory stays bounded whatever the
speeds. Counting adds one integer add per chunk (chunks are up to 256 KiB from the socket and
one SSH packet from the channel), never per byte.

This module knows nothing about tunnels' lives; :mod:`spark_tui.services.tunnels.service` does.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable

import asyncssh

from spark_tui.core.errors import PortInUse, TunnelError
from spark_tui.services.tunnels.counters import Traffic

CHANNEL_WINDOW = 8 * 1024 * 1024
"""SSH receive window per channel: enough in flight to keep a fast link busy."""
CHANNEL_PACKET = 256 * 1024
"""Largest SSH data packet we accept (the server may send smaller ones)."""
LOCAL_WRITE_HIGH = 1024 * 1024
"""Local socket write buffer above which the SSH channel stops reading."""
LISTEN_BACKLOG = 1024
"""Accept queue of our listeners: hundreds of clients may connect at once."""


class LocalEnd(asyncio.Protocol):
    """The local socket of one forwarded connection.

    Reading is paused from the start until :meth:`attach` joins a channel, so nothing is read
    that could not be forwarded.

    Args:
        traffic: Counters of the owning tunnel.
        on_accept: Called with this end once the socket is connected (a listener's hook to
            open the channel), or ``None``.
    """

    counting = True

    def __init__(self, traffic: Traffic, on_accept: Callable[[LocalEnd], None] | None = None) -> None:
        self.traffic = traffic
        self.on_accept = on_accept
        self.transport: asyncio.Transport | None = None
        self.chan: asyncssh.SSHTCPChannel | None = None
        self.closed = False
        self._eof = False
        self._early: list[bytes] = []

    @property
    def peer(self) -> tuple[str, int]:
        """The local client's address, or ``("", 0)`` when unknown."""
        info = self.transport.get_extra_info("peername") if self.transport else None
        return (str(info[0]), int(info[1])) if info else ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # noqa: D102
        self.transport = transport  # type: ignore[assignment]
        # No pause_reading() here: on Python 3.11.2 (Debian 12's python3) a pause made inside
        # connection_made is undone by the transport's own deferred add-reader, and later
        # pauses become no-ops, so an upload ran unthrottled (1.3 GB in 2.5 s into a service
        # that never reads). Bytes that arrive before the channel opens are held by _hold(),
        # which pauses then, when pausing works on every 3.11.
        transport.set_write_buffer_limits(high=LOCAL_WRITE_HIGH)  # type: ignore[attr-defined]
        self.traffic.active += 1
        self.traffic.total += 1
        self.traffic.ends.add(self)
        if self.on_accept is not None:
            self.on_accept(self)

    def attach(self, chan: asyncssh.SSHTCPChannel) -> None:
        """Join the opened channel and start reading the local socket."""
        self.chan = chan
        if self.closed:
            chan.close()
            return
        if self._early:
            early, self._early = b"".join(self._early), []
            chan.write(early)
            if self.counting:
                self.traffic.up += len(early)
        if self._eof:
            chan.write_eof()
        self.transport.resume_reading()  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:  # noqa: D102
        try:
            self.chan.write(data)  # type: ignore[union-attr]
        except AttributeError:  # no channel yet: the loop read before pause_reading took hold
            if self.chan is not None:
                raise
            self._hold(data)
            return
        self.traffic.up += len(data)

    def _hold(self, data: bytes) -> None:
        """Keep bytes that arrived before the channel opened (sent on attach)."""
        self._early.append(data)
        self.transport.pause_reading()  # type: ignore[union-attr]

    def eof_received(self) -> bool:  # noqa: D102
        self._eof = True
        if self.chan is not None:
            self.chan.write_eof()
        return True  # keep the way back open: half-closed sockets are legal TCP

    def pause_writing(self) -> None:  # noqa: D102
        if self.chan is not None:
            self.chan.pause_reading()

    def resume_writing(self) -> None:  # noqa: D102
        if self.chan is not None:
            self.chan.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: D102
        if self.closed:
            return
        self.closed = True
        self.traffic.active -= 1
        self.traffic.ends.discard(self)
        if self.chan is not None:
            self.chan.close()

    def close(self) -> None:
        """Close the local socket cleanly (what is buffered is still sent)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class QuietLocalEnd(LocalEnd):
    """A :class:`LocalEnd` that does not count bytes (for measuring what counting costs)."""

    counting = False

    def data_received(self, data: bytes) -> None:  # noqa: D102
        try:
            self.chan.write(data)  # type: ignore[union-attr]
        except AttributeError:
            if self.chan is not None:
                raise
            self._hold(data)


class ChannelEnd(asyncssh.SSHTCPSession):
    """The SSH channel of one forwarded connection, writing into its :class:`LocalEnd`.

    Args:
        local: The local end it pumps into.
    """

    def __init__(self, local: LocalEnd) -> None:
        self.local = local
        self.traffic = local.traffic
        self.write = local.transport.write  # type: ignore[union-attr]

    def connection_made(self, chan: asyncssh.SSHTCPChannel) -> None:  # noqa: D102
        self.local.attach(chan)

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:  # noqa: D102
        self.write(data)
        self.traffic.down += len(data)

    def eof_received(self) -> bool:  # noqa: D102
        transport = self.local.transport
        if transport is not None and transport.can_write_eof() and not transport.is_closing():
            transport.write_eof()
        return True

    def pause_writing(self) -> None:  # noqa: D102
        self.local.transport.pause_reading()  # type: ignore[union-attr]

    def resume_writing(self) -> None:  # noqa: D102
        if not self.local.closed:
            self.local.transport.resume_reading()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: D102
        self.local.close()


class QuietChannelEnd(ChannelEnd):
    """A :class:`ChannelEnd` that does not count bytes."""

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:  # noqa: D102
        self.write(data)


def channel_end_for(local: LocalEnd) -> ChannelEnd:
    """The channel end matching ``local``'s counting mode."""
    return ChannelEnd(local) if local.counting else QuietChannelEnd(local)


async def open_channel(
    conn: asyncssh.SSHClientConnection, local: LocalEnd, host: str, port: int
) -> None:
    """Open a direct-tcpip channel to ``host:port`` on the device and join it to ``local``.

    Raises:
        asyncssh.ChannelOpenError: The device could not connect (see :func:`describe_open_error`).
        asyncssh.Error, OSError: The SSH connection failed meanwhile.
    """
    orig_host, orig_port = local.peer
    await conn.create_connection(
        lambda: channel_end_for(local),
        host,
        port,
        orig_host,
        orig_port,
        window=CHANNEL_WINDOW,
        max_pktsize=CHANNEL_PACKET,
    )


def describe_open_error(error: asyncssh.ChannelOpenError, host: str, port: int) -> str:
    """A one-line reason a channel to ``host:port`` did not open, in the user's words."""
    where = f"remote port {port}" if host in ("localhost", "127.0.0.1", "::1") else f"{host}:{port}"
    reason = (error.reason or "").strip()
    if error.code == asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED:
        return f"{where} not opened: the device forbids port forwarding (AllowTcpForwarding in its sshd_config)"
    if "refused" in reason.lower():
        place = "on the device" if where.startswith("remote port") else "there"
        return f"{where} refused: nothing listening {place}"
    return f"{where} could not be opened: {reason or 'the device gave no reason'}"


def _port_free(port: int, address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def next_free_port(start: int, address: str = "127.0.0.1") -> int | None:
    """The first port from ``start`` upwards that can be bound on ``address``, or ``None``.

    A bind test, so the answer can be stale a moment later; good enough for a suggestion.

    Args:
        start: First port to try (1-65535).
        address: The listen address the port is for.
    """
    for port in range(max(1, start), 65536):
        if _port_free(port, address):
            return port
    return None


async def listen_locally(
    address: str, port: int, factory: Callable[[], asyncio.Protocol]
) -> asyncio.Server:
    """Bind our own listener (big accept queue) for a local or dynamic forward.

    Args:
        address: Listen address (loopback unless the user asked otherwise).
        port: Port; 0 picks a free one.
        factory: Protocol factory for accepted sockets.

    Returns:
        The serving asyncio server.

    Raises:
        PortInUse: The port is taken; ``suggestion`` is the next free port.
        TunnelError: The address cannot be bound (not local, or permission denied).
    """
    loop = asyncio.get_running_loop()
    try:
        return await loop.create_server(factory, address, port, backlog=LISTEN_BACKLOG, reuse_address=True)
    except OSError as error:
        raise _listen_error(error, address, port) from None


def bind_listener(address: str, port: int) -> socket.socket:
    """A non-blocking listening socket on one IP address (big accept queue), for own accept loops.

    Args:
        address: An IPv4 or IPv6 address (not a name).
        port: Port; 0 picks a free one.

    Raises:
        PortInUse: The port is taken; ``suggestion`` is the next free port.
        TunnelError: The address cannot be bound (not local, or permission denied).
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
        return sock
    except OSError as error:
        sock.close()
        raise _listen_error(error, address, port) from None


def _listen_error(error: OSError, address: str, port: int) -> Exception:
    """What to raise when ``address:port`` cannot be listened on."""
    if error.errno == errno.EADDRINUSE:
        return PortInUse(address, port, next_free_port(port + 1, address))
    if error.errno == errno.EACCES:
        return TunnelError(f"not allowed to listen on {address}:{port}", "ports below 1024 need root; pick a port >= 1024")
    return TunnelError(
        f"cannot listen on {address}:{port}: {error.strerror or error}", "use 127.0.0.1 or an address of this computer"
    )

