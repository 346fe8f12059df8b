"""OpenSSH's control-socket (mux) protocol, the little of it we speak: messages, and a descriptor passed.

The layout is OpenSSH's ``PROTOCOL.mux``: every message is a 32-bit length, a 32-bit type and
its fields (32-bit integers, length-prefixed strings). We send the hello and the stdio-forward
request (section 3), pass the socket to carry with ``SCM_RIGHTS``, and read the master's reply.
"""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: a copy starts its master before asyncio is loaded
    import asyncio

MUX_MSG_HELLO = 0x00000001
MUX_C_NEW_STDIO_FWD = 0x10000008
MUX_S_PERMISSION_DENIED = 0x80000002
MUX_S_FAILURE = 0x80000003
MUX_S_SESSION_OPENED = 0x80000006
MUX_VERSION = 4

MAX_MESSAGE = 64 * 1024
"""Longest mux message we read (the master's replies are a few dozen bytes)."""


class MuxError(Exception):
    """The master could not take a connection; the caller carries it another way."""


class MuxRefused(MuxError):
    """The master answered with a failure (the device refused the channel, usually)."""


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def string(value: bytes) -> bytes:
    return u32(len(value)) + value


def packet(*fields: bytes) -> bytes:
    body = b"".join(fields)
    return u32(len(body)) + body


class MuxSession:
    """One socket the master is carrying; ends when the master closes the control connection."""

    def __init__(self, control: socket.socket, channel: int) -> None:
        self._control = control
        self.channel = channel

    async def wait_closed(self) -> None:
        """Return once the master let go of the socket (the channel closed, or the master died)."""
        import asyncio

        loop = asyncio.get_running_loop()
        try:
            while await loop.sock_recv(self._control, 4096):
                pass  # the master may send an exit message; the end is the close
        except OSError:
            pass
        finally:
            self._control.close()


async def send_fd(control: socket.socket, fd: int) -> None:
    """One byte carrying ``fd`` (what ssh's ``mm_receive_fd`` reads)."""
    import asyncio

    for _ in range(200):
        try:
            if socket.send_fds(control, [b"\0"], [fd]) == 1:
                return
        except BlockingIOError:
            pass
        await asyncio.sleep(0.005)  # a full socket buffer: the master is busy
    raise MuxError("the master does not read its control socket")


async def _read_exactly(loop: asyncio.AbstractEventLoop, control: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = await loop.sock_recv(control, size - len(data))
        if not chunk:
            raise MuxError("the master closed the control connection")
        data += chunk
    return data


async def read_message(loop: asyncio.AbstractEventLoop, control: socket.socket) -> tuple[int, bytes]:
    """One mux message: ``(type, body after the type)``."""
    (size,) = struct.unpack(">I", await _read_exactly(loop, control, 4))
    if not 4 <= size <= MAX_MESSAGE:
        raise MuxError(f"bad mux message length {size}")
    body = await _read_exactly(loop, control, size)
    return struct.unpack_from(">I", body)[0], body[4:]


def failure_reason(body: bytes) -> str:
    """The reason string of a failure reply (request id, then string)."""
    if len(body) < 8:
        return "no reason given"
    (size,) = struct.unpack_from(">I", body, 4)
    return body[8 : 8 + min(size, 512)].decode(errors="replace") or "no reason given"
