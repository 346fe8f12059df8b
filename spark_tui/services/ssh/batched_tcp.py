"""A ``tunnel=`` connector for ``asyncssh.connect`` that makes the connection's writes cheaper.

Two costs of asyncssh's packet path show up in every forwarded round trip and every bulk
transfer, and :class:`BatchedTCP` removes both for direct connections (a jump host's tunnel
replaces it):

* asyncssh writes each SSH packet with its own ``transport.write``: on an idle socket that is
  one ``send`` system call per packet. The first write of an event-loop turn still goes out at
  once (a lone packet is what a round trip waits for); the writes after it in the same turn are
  gathered into one, so a busy tunnel makes two system calls a turn, not one per packet.
* asyncssh puts an empty ``SSH_MSG_IGNORE`` packet before every packet it encrypts. That is a
  countermeasure for CBC-mode ciphers only (their predictable IVs); with the counter, GCM and
  ChaCha20 ciphers spark-tui negotiates it protects nothing and costs a second encryption per
  packet, so it is skipped unless the negotiated cipher is a CBC one. OpenSSH sends no such
  packets either.

``benchmarks/bench_tunnels.py`` measures the result against OpenSSH's ``ssh -L``.
"""

from __future__ import annotations

import asyncio
import socket

import asyncssh
from asyncssh.constants import MSG_IGNORE

_EMPTY_STRING = b"\x00\x00\x00\x00"
"""The body of asyncssh's inserted IGNORE packet: an empty SSH string."""


class _BatchingTransport:
    """Wraps an SSH connection's socket transport: one write at once, the rest of a turn as one.

    The first ``write`` of an event-loop turn goes straight to the socket, so a lone packet (a
    keystroke, a 1-byte echo) leaves without waiting; later writes in the same turn are kept
    and sent together when the turn ends. Everything else is passed through unchanged.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._in_turn = False
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if self._in_turn:
            self._pending.append(data)
            return
        self._in_turn = True
        self._loop.call_soon(self._end_turn)
        self._transport.write(data)

    def _end_turn(self) -> None:
        self._in_turn = False
        self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        if not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class _LeanClientConnection(asyncssh.SSHClientConnection):
    """asyncssh's client connection without the CBC-only IGNORE packet before each packet.

    :class:`BatchedTCP` gives the connection asyncssh makes this class (it adds no state, only
    this one method), so everything else is asyncssh's own behaviour.
    """

    def send_packet(self, pkttype: int, *args: bytes, handler=None) -> None:  # noqa: ANN001
        if pkttype == MSG_IGNORE and args == (_EMPTY_STRING,) and not self._cbc_cipher():
            return
        super().send_packet(pkttype, *args, handler=handler)

    def _cbc_cipher(self) -> bool:
        cipher = self.get_extra_info("send_cipher")
        return cipher is None or "cbc" in cipher


class BatchedTCP:
    """A ``tunnel=`` connector for ``asyncssh.connect`` that batches the connection's writes.

    Use for direct TCP connections: ``asyncssh.connect(host, port, tunnel=BatchedTCP(), ...)``.
    Behaves like asyncssh's own direct connection otherwise (same socket, same options).
    """

    async def create_connection(self, session_factory, host: str, port: int):  # noqa: ANN001
        """Connect to ``host:port`` and hand asyncssh a batching transport.

        Raises:
            OSError: The TCP connection failed.
        """
        loop = asyncio.get_running_loop()
        made: list = []

        def protocol():
            inner = session_factory()
            if type(inner) is asyncssh.SSHClientConnection:
                inner.__class__ = _LeanClientConnection
            made.append(inner)
            return _Adapter(inner, loop)

        transport, _ = await loop.create_connection(protocol, host, port)
        return transport, made[0]


class _Adapter(asyncio.Protocol):
    """Hands asyncssh the batching transport; everything else goes straight to asyncssh."""

    def __init__(self, inner: asyncio.Protocol, loop: asyncio.AbstractEventLoop) -> None:
        self._inner = inner
        self._loop = loop
        self.data_received = inner.data_received  # type: ignore[method-assign]
        self.eof_received = inner.eof_received  # type: ignore[method-assign]
        self.connection_lost = inner.connection_lost  # type: ignore[method-assign]
        self.pause_writing = inner.pause_writing  # type: ignore[method-assign]
        self.resume_writing = inner.resume_writing  # type: ignore[method-assign]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._inner.connection_made(_BatchingTransport(transport, self._loop))  # type: ignore[arg-type]
