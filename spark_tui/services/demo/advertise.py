"""The demo device's mDNS advertisement: ``spark-demo`` as an ``_ssh._tcp`` service on loopback.

python-zeroconf answers on every interface unless told otherwise; this one is bound to
127.0.0.1 only, so the advertisement never leaves this computer. Its listening socket is still
bound to 0.0.0.0:5353 (that is how multicast receivers work), so a unicast query sent from
another host to one of this computer's addresses would reach it and be answered: every
datagram not from a loopback address is dropped before zeroconf sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket

from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

SSH_SERVICE = "_ssh._tcp.local."
LOOPBACK_ONLY = ["127.0.0.1"]


class DemoAdvertisement:
    """Advertise an SSH service the way Avahi on a Spark does, but on loopback only.

    Args:
        name: Instance and host name (``spark-demo`` gives ``spark-demo._ssh._tcp.local.`` on
            server ``spark-demo.local.``).
        port: The SSH port to advertise.

    Attributes:
        instance: The instance name actually registered; zeroconf renames it
            (``spark-demo-2._ssh._tcp.local.``) when another one already has the name.
    """

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.instance = ""
        self._zeroconf: AsyncZeroconf | None = None
        self._info: ServiceInfo | None = None
        self._announcement: asyncio.Future | None = None

    async def start(self) -> str:
        """Register the service; returns the instance name registered.

        Raises:
            OSError: Multicast on loopback is not possible here.
            zeroconf.Error: Registration failed.
        """
        info = ServiceInfo(
            SSH_SERVICE,
            f"{self.name}.{SSH_SERVICE}",
            addresses=[socket.inet_aton("127.0.0.1")],
            port=self.port,
            server=f"{self.name}.local.",
            properties={},
        )
        zc = AsyncZeroconf(interfaces=LOOPBACK_ONLY, ip_version=IPVersion.V4Only)
        try:
            await zc.zeroconf.async_wait_for_start()
            _hear_loopback_only(zc)
            # Probing (about a second) happens here; the announcement goes out in the background.
            announcement = await zc.async_register_service(info, allow_name_change=True)
        except BaseException:
            await zc.async_close()
            raise
        self._zeroconf, self._info = zc, info
        self._announcement = asyncio.ensure_future(announcement)
        self.instance = info.name
        return self.instance

    async def stop(self) -> None:
        """Say goodbye on the network and close the sockets."""
        zc, info, announcement = self._zeroconf, self._info, self._announcement
        self._zeroconf = self._info = self._announcement = None
        if zc is None:
            return
        if announcement is not None and not announcement.done():
            announcement.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await announcement
        try:
            if info is not None:
                goodbye = await zc.async_unregister_service(info)
                await goodbye
        finally:
            await zc.async_close()


class _LoopbackOnly(asyncio.DatagramProtocol):
    """Passes on to zeroconf's listener only the datagrams that came from a loopback address."""

    def __init__(self, inner: asyncio.DatagramProtocol) -> None:
        self.inner = inner
        self.dropped = 0

    def datagram_received(self, data: bytes, addr) -> None:  # noqa: D102
        if _from_loopback(addr):
            self.inner.datagram_received(data, addr)
        else:
            self.dropped += 1

    def error_received(self, exc: Exception) -> None:  # noqa: D102
        self.inner.error_received(exc)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: D102
        self.inner.connection_lost(exc)


def _from_loopback(addr) -> bool:
    try:
        return ipaddress.ip_address(str(addr[0]).split("%", 1)[0]).is_loopback
    except (ValueError, TypeError, IndexError):
        return False


def _hear_loopback_only(zc: AsyncZeroconf) -> None:
    """Put :class:`_LoopbackOnly` between each of zeroconf's sockets and its listener."""
    for reader in zc.zeroconf.engine.readers:
        transport = reader.transport
        protocol = transport.get_protocol()
        if not isinstance(protocol, _LoopbackOnly):
            transport.set_protocol(_LoopbackOnly(protocol))
