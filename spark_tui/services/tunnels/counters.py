"""Counting the bytes of sockets another process moves, from the kernel's own counters.

When OpenSSH's master carries a tunnel's connection (:mod:`spark_tui.services.ssh.openssh_mux`), no
byte passes through our code to be counted. The kernel counts them anyway: ``TCP_INFO`` gives
what a socket received and what its peer acknowledged, ``SIOCOUTQ`` what still waits to be
sent. Reading them costs a few microseconds per socket, whatever the traffic.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
import sys
import termios
from typing import Any, Protocol


class ForwardedEnd(Protocol):
    """A connection whose bytes pass through us (``forwarding.LocalEnd``): we can close it."""

    chan: Any

    def close(self) -> None: ...


def counters_supported() -> bool:
    """True where the kernel reports per-socket byte counters (Linux ``TCP_INFO``, ``SIOCOUTQ``)."""
    return sys.platform.startswith("linux") and hasattr(socket, "TCP_INFO") and hasattr(termios, "TIOCOUTQ")


_TCP_INFO_LEN = 256
_BYTES_ACKED = 120  # struct tcp_info: tcpi_bytes_acked (u64), then tcpi_bytes_received (u64)


def socket_bytes(sock: socket.socket) -> tuple[int, int] | None:
    """``(received, sent)`` bytes of a connected TCP socket, or ``None`` where unknown.

    Read from the kernel, so counting costs nothing per byte and gives the same figures
    whoever moves the data: received is ``tcpi_bytes_received``; sent is what the peer
    acknowledged (``tcpi_bytes_acked``) plus what still waits in the send queue (``SIOCOUTQ``),
    i.e. every byte written to the socket.
    """
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
        queued = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    except OSError:
        return None
    if len(info) < _BYTES_ACKED + 16:
        return None
    acked, received = struct.unpack_from("=QQ", info, _BYTES_ACKED)
    return received, acked + queued


class HandedEnd:
    """A local socket that OpenSSH's master carries; we only read its counters and close it.

    The kernel counts the bytes (``TCP_INFO``): received from the client is ``up``, sent to
    and acknowledged by it is ``down``. :meth:`poll` moves what changed into the tunnel's
    :class:`Traffic`; :meth:`finish` polls one last time and closes our descriptor.

    Args:
        sock: The accepted socket (ours; the master holds its own copies).
        traffic: Counters of the owning tunnel.
        counting: Read the counters (off only to measure what counting costs).
    """

    __slots__ = ("sock", "traffic", "counting", "_seen")

    def __init__(self, sock: socket.socket, traffic: Traffic, counting: bool = True) -> None:
        self.sock = sock
        self.traffic = traffic
        self.counting = counting
        self._seen = (0, 0)
        traffic.active += 1
        traffic.total += 1
        traffic.handed.add(self)

    def poll(self) -> None:
        """Add the bytes moved since the last poll to the tunnel's counters."""
        now = socket_bytes(self.sock) if self.counting else None
        if now is None:
            return
        received, sent = now
        self.traffic.up += received - self._seen[0]
        self.traffic.down += sent - self._seen[1]
        self._seen = now

    def shut(self) -> None:
        """End the connection now (tunnel stopped): the client and the master both see it close."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        """The master let go: count the last bytes, close our descriptor (the client sees FIN)."""
        self.poll()
        self.traffic.handed.discard(self)
        self.traffic.active -= 1
        self.sock.close()


class Traffic:
    """Live counters of one tunnel, updated by its connections.

    Attributes:
        up: Bytes sent towards the device.
        down: Bytes received from the device.
        active: Connections open now.
        total: Connections since the tunnel started.
    """

    __slots__ = ("up", "down", "active", "total", "ends", "handed")

    def __init__(self) -> None:
        self.up = 0
        self.down = 0
        self.active = 0
        self.total = 0
        self.ends: set[ForwardedEnd] = set()
        self.handed: set[HandedEnd] = set()

    def poll(self) -> None:
        """Add what the kernel counted on connections handed to OpenSSH since the last poll."""
        for end in self.handed:
            end.poll()

    def close_all(self) -> None:
        """Close every open connection of the tunnel."""
        for end in list(self.ends):
            end.close()
            if end.chan is not None:
                end.chan.close()
        for handed in list(self.handed):
            handed.shut()
