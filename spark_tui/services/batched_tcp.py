"""A ``tunnel=`` connector for ``asyncssh.connect`` that sends each loop turn's packets at once.

asyncssh writes every SSH packet, and the empty ``IGNORE`` packet it puts before each one, with
its own ``transport.write``: on an idle socket that is one ``send`` system call per packet.
:class:`BatchedTCP` hands asyncssh a transport that gathers the writes of one event-loop turn
into one, which halves the system calls of a busy tunnel (upload throughput rose from ~0.7x to
~1.6x OpenSSH's in ``benchmarks/bench_tunnels.py``). It is a plain TCP connection otherwise;
use it for direct connections (a jump host's tunnel replaces it).
"""

from __future__ import annotations

import asyncio
import socket


class _BatchingTransport:
    """Wraps an SSH connection's socket transport so writes made in one loop turn go out as one.

    asyncssh writes each SSH packet (and the empty ``IGNORE`` packet it puts before each one)
    with its own ``transport.write``, which is one ``send`` system call each on an idle socket.
    Gathering them until the end of the loop turn halves the system calls of a busy tunnel and
    takes one off every small round trip. Everything else is passed through unchanged.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def close(self) -> None:
        if self._pending:
            self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        if self._pending:
            self._flush()
        self._transport.write_eof()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


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
