"""The SOCKS side of a dynamic (-D) forward: read where the client wants to go, then pump.

Our own small SOCKS server (SOCKS5 without authentication, SOCKS4 and SOCKS4a; CONNECT only)
instead of asyncssh's ``forward_socks``, so a dynamic tunnel gets what local forwards have: a
listener that stays bound while the link reconnects, and byte/connection counters.
Nothing read from the client is trusted: lengths are checked, unknown versions and commands
get a refusal and the socket is closed. A handshake is bounded in bytes, in time
(:data:`HANDSHAKE_TIMEOUT`) and in number (:data:`MAX_HANDSHAKES` at once per tunnel); a client
that closes its side before finishing is closed at once; and only clients on this computer's
loopback are served unless the tunnel allows others, since a SOCKS listener is a proxy into
the device's network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from collections.abc import Callable

import asyncssh

from spark_tui.services.tunnels.counters import Traffic
from spark_tui.services.tunnels.forwarding import LocalEnd

MAX_HANDSHAKE = 1024
"""A client that sends more than this without completing a request is dropped."""
HANDSHAKE_TIMEOUT = 5.0
"""Seconds a client has from connecting to completing its request; then it is dropped."""
MAX_HANDSHAKES = 64
"""Clients of one tunnel allowed to be in the middle of a handshake at once; more are dropped."""


class HandshakeGate:
    """The handshakes in progress on one SOCKS listener (shared by all its ends).

    Args:
        limit: How many may be in progress at once.
        allow_remote: Serve clients from other computers too (only when asked for).
    """

    def __init__(self, limit: int = MAX_HANDSHAKES, *, allow_remote: bool = False) -> None:
        self.limit = limit
        self.allow_remote = allow_remote
        self.pending: set[SocksEnd] = set()
        self.dropped = 0


def _is_loopback(peer) -> bool:
    try:
        address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
    except (ValueError, TypeError, IndexError):
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback

_SOCKS5_OK = b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00"
_SOCKS4_OK = b"\x00\x5a\x00\x00\x00\x00\x00\x00"
_SOCKS4_FAIL = b"\x00\x5b\x00\x00\x00\x00\x00\x00"


def _socks5_reply(code: int) -> bytes:
    return bytes((5, code, 0, 1, 0, 0, 0, 0, 0, 0))


class SocksEnd(LocalEnd):
    """The local socket of a SOCKS client: handshake first, then a plain :class:`LocalEnd`.

    ``target`` is set once the client asked to CONNECT; then ``on_accept`` is called, exactly
    as a local forward's end is called on accept.

    Args:
        traffic: Counters of the owning tunnel.
        on_accept: Called with this end once the target is known.
    """

    def __init__(
        self, traffic: Traffic, on_accept: Callable[[LocalEnd], None] | None = None, gate: HandshakeGate | None = None
    ) -> None:
        super().__init__(traffic, None)
        self._on_target = on_accept
        self._buffer = b""
        self._version = 0
        self._greeted = False
        self._gate = gate if gate is not None else HandshakeGate()
        self._timer: asyncio.TimerHandle | None = None
        self.target: tuple[str, int] | None = None

    def connection_made(self, transport) -> None:  # noqa: D102
        super().connection_made(transport)
        gate = self._gate
        if len(gate.pending) >= gate.limit or not (gate.allow_remote or _is_loopback(transport.get_extra_info("peername"))):
            gate.dropped += 1
            transport.abort()  # no lingering: a flood must not pile up sockets
            return
        gate.pending.add(self)
        self._timer = asyncio.get_running_loop().call_later(HANDSHAKE_TIMEOUT, self._expired)
        transport.resume_reading()  # the handshake needs the client's first bytes

    def _expired(self) -> None:
        if self.target is None and not self.closed:
            self._gate.dropped += 1
            self.transport.abort()  # type: ignore[union-attr]

    def _handshake_over(self) -> None:
        self._gate.pending.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def eof_received(self) -> bool:  # noqa: D102
        if self.target is None:  # gone before saying where to: nothing to wait for
            self._handshake_over()
            return False  # asyncio closes the transport
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: D102
        self._handshake_over()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:  # noqa: D102
        if self.chan is not None:
            self.chan.write(data)
            self.traffic.up += len(data)
            return
        if self.target is not None:
            self._buffer += data  # early bytes after the request; sent once the channel opens
            return
        self._buffer += data
        if len(self._buffer) > MAX_HANDSHAKE:
            self.close()
            return
        try:
            self._advance()
        except ValueError:
            self.refuse()

    def _advance(self) -> None:
        buf = self._buffer
        if not buf:
            return
        if buf[0] == 4:
            self._version = 4
            self._socks4(buf)
        elif buf[0] == 5:
            self._version = 5
            self._socks5(buf)
        else:
            raise ValueError("not a SOCKS client")

    def _socks4(self, buf: bytes) -> None:
        if len(buf) < 9:
            return
        command, port = buf[1], struct.unpack("!H", buf[2:4])[0]
        user_end = buf.find(b"\x00", 8)
        if user_end < 0:
            return
        rest = user_end + 1
        host = str(ipaddress.IPv4Address(buf[4:8]))
        if buf[4:7] == b"\x00\x00\x00" and buf[7] != 0:  # SOCKS4a: a name follows
            name_end = buf.find(b"\x00", rest)
            if name_end < 0:
                return
            host = buf[rest:name_end].decode("idna")
            rest = name_end + 1
        if command != 1:
            raise ValueError("only CONNECT is supported")
        self._requested(host, port, buf[rest:])

    def _socks5(self, buf: bytes) -> None:
        if not self._greeted:
            if len(buf) < 2 or len(buf) < 2 + buf[1]:
                return
            methods = buf[2 : 2 + buf[1]]
            self._buffer = buf = buf[2 + buf[1] :]
            if 0 not in methods:
                self.transport.write(b"\x05\xff")  # type: ignore[union-attr]
                self.close()
                return
            self._greeted = True
            self.transport.write(b"\x05\x00")  # type: ignore[union-attr]
        if len(buf) < 5:
            return
        if buf[0] != 5:
            raise ValueError("bad SOCKS5 request")
        command, kind = buf[1], buf[3]
        if kind == 1:
            end, host = 10, (str(ipaddress.IPv4Address(buf[4:8])) if len(buf) >= 8 else "")
        elif kind == 3:
            end = 7 + buf[4]
            host = buf[5 : 5 + buf[4]].decode("idna") if len(buf) >= end else ""
        elif kind == 4:
            end, host = 22, (str(ipaddress.IPv6Address(buf[4:20])) if len(buf) >= 20 else "")
        else:
            self.transport.write(_socks5_reply(8))  # type: ignore[union-attr]
            self.close()
            return
        if len(buf) < end:
            return
        if command != 1:
            self.transport.write(_socks5_reply(7))  # type: ignore[union-attr]
            self.close()
            return
        port = struct.unpack("!H", buf[end - 2 : end])[0]
        self._requested(host, port, buf[end:])

    def _requested(self, host: str, port: int, rest: bytes) -> None:
        self._handshake_over()
        self.target = (host, port)
        self._buffer = rest
        self.transport.pause_reading()  # type: ignore[union-attr]
        if self._on_target is not None:
            self._on_target(self)

    def attach(self, chan: asyncssh.SSHTCPChannel) -> None:
        """Tell the client the connection is made, pass on early bytes, then pump."""
        if not self.closed:
            self.transport.write(_SOCKS5_OK if self._version == 5 else _SOCKS4_OK)  # type: ignore[union-attr]
            if self._buffer:
                chan.write(self._buffer)
                self.traffic.up += len(self._buffer)
                self._buffer = b""
        super().attach(chan)

    def refuse(self, code: int = 5) -> None:
        """Tell the client the connection failed (SOCKS5 code, default "refused") and close."""
        if self._version and self.transport is not None and not self.transport.is_closing():
            self.transport.write(_socks5_reply(code) if self._version == 5 else _SOCKS4_FAIL)
        self.close()
