"""Tunnels when things break: sshd killed mid-transfer, down for a while, frozen; backoff."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from spark_tui.core.models import TunnelKind, TunnelSpec, TunnelState
from spark_tui.services.tunnels import link as tunnel_link
from spark_tui.services.tunnels.forwarding import next_free_port
from spark_tui.services.tunnels.service import TunnelService
from tests.test_tunnels import MB, WebService, connector, http_get


def LoopbackSpec(*args, **kwargs) -> TunnelSpec:
    """A TunnelSpec to the device's 127.0.0.1, where the test servers listen. The default,
    "localhost", lets sshd try ::1 first, and a stranger listening on that port there would
    get the test's traffic."""
    kwargs.setdefault("remote_host", "127.0.0.1")
    return TunnelSpec(*args, **kwargs)



@pytest.fixture
async def web():
    service = await WebService().start()
    yield service
    await service.stop()


async def wait_for_state(service: TunnelService, state: TunnelState, timeout: float = 20.0) -> float:
    """Poll until the first tunnel is in ``state``; return how long it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if service.stats()[0].state is state:
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"tunnel never reached {state}: {service.stats()[0]}")


async def settle(port: int) -> None:
    """One request through the tunnel, so sshd has finished forking the session's processes.

    (Right after login OpenSSH forks the unprivileged session child; a stop() racing with that
    fork can miss it and leave the connection alive.)
    """
    assert await http_get(port) == b"hello"


def port_is_held(port: int) -> bool:
    """True when someone listens on 127.0.0.1:port (a bind there fails)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


async def test_a_killed_sshd_mid_transfer_sends_the_tunnel_reconnecting_and_it_heals_on_the_same_port(sshd_factory, web):
    server = sshd_factory()
    service = TunnelService(connector(server), "flaky", owns_connection=True)
    try:
        stats = await service.start(LoopbackSpec("stream", web.port, 0))
        port = stats.local_port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /stream/{400 * MB} HTTP/1.0\r\n\r\n".encode())
        received = 0
        while received < 4 * MB:
            received += len(await asyncio.wait_for(reader.read(MB), 10))
        server.stop()  # SIGKILL: sshd and the session carrying our channel die mid-transfer
        while chunk := await asyncio.wait_for(reader.read(MB), 10):  # ends: EOF, not a hang
            received += len(chunk)
        writer.close()
        assert received < 400 * MB
        await wait_for_state(service, TunnelState.RECONNECTING, 5)
        down = service.stats()[0]
        assert down.last_error and down.uptime == 0.0
        assert port_is_held(port)  # nobody can take the port while we reconnect
        server.start()
        await wait_for_state(service, TunnelState.UP, 20)
        back = service.stats()[0]
        assert back.local_port == port and back.last_error  # the outage stays on record
        assert await http_get(port) == b"hello"
    finally:
        await service.close()


async def test_a_connection_made_while_reconnecting_waits_for_the_link_and_is_served(sshd_factory, web):
    server = sshd_factory()
    service = TunnelService(connector(server), "flaky", link_wait=8.0, owns_connection=True)
    try:
        stats = await service.start(LoopbackSpec("web", web.port, 0))
        await settle(stats.local_port)
        server.stop()
        await wait_for_state(service, TunnelState.RECONNECTING, 5)
        pending = asyncio.create_task(http_get(stats.local_port, timeout=15))
        await asyncio.sleep(0.5)
        assert not pending.done()
        server.start()
        assert await pending == b"hello"
    finally:
        await service.close()


async def test_a_connection_made_while_the_device_stays_down_is_closed_cleanly_after_a_short_wait(sshd_factory, web):
    server = sshd_factory()
    service = TunnelService(connector(server), "down", link_wait=1.0, owns_connection=True)
    try:
        stats = await service.start(LoopbackSpec("web", web.port, 0))
        await settle(stats.local_port)
        server.stop()
        await wait_for_state(service, TunnelState.RECONNECTING, 5)
        reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port)
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        waited = time.monotonic() - started
        writer.close()
        assert 0.8 <= waited < 3.0
        assert "waited 1s for the device" in service.stats()[0].last_error
        assert service.stats()[0].state is TunnelState.RECONNECTING
    finally:
        await service.close()


def counted_connector(server):
    """A connector for ``server`` that records when each connection attempt starts."""
    attempts: list[float] = []
    real = connector(server)

    async def counted():
        attempts.append(time.monotonic())
        return await real()

    return attempts, counted


async def test_reconnect_attempts_back_off_doubling_up_to_the_cap(sshd_factory, web, monkeypatch):
    monkeypatch.setattr(tunnel_link, "BACKOFF_CAP", 2.0)
    server = sshd_factory()
    attempts, counted = counted_connector(server)
    service = TunnelService(counted, "backoff", owns_connection=True)
    try:
        await settle((await service.start(LoopbackSpec("web", web.port, 0))).local_port)
        server.stop()
        dropped = time.monotonic()
        await asyncio.sleep(6.2)
        tries = [t - dropped for t in attempts[1:]]
        gaps = [b - a for a, b in zip(tries, tries[1:])]
        assert 0.4 <= tries[0] <= 0.9  # first retry after ~0.5 s
        assert gaps[:3] == pytest.approx([1.0, 2.0, 2.0], abs=0.35)  # doubling, then capped
        assert "reconnect failed" in service.stats()[0].last_error
    finally:
        await service.close()


async def test_a_connection_that_was_stable_resets_the_backoff(sshd_factory, web, monkeypatch):
    monkeypatch.setattr(tunnel_link, "STABLE_AFTER", 1.0)
    server = sshd_factory()
    attempts, counted = counted_connector(server)
    service = TunnelService(counted, "stable", owns_connection=True)
    try:
        await settle((await service.start(LoopbackSpec("web", web.port, 0))).local_port)
        service.link.backoff = 4.0  # as after a few failed attempts
        await asyncio.sleep(1.2)  # longer than STABLE_AFTER
        server.restart()
        dropped = time.monotonic()
        await wait_for_state(service, TunnelState.UP, 10)
        assert attempts[-1] - dropped < 1.5  # retried after ~0.5 s, not 4 s
    finally:
        await service.close()


async def test_a_frozen_device_is_noticed_by_keepalives_and_the_tunnel_heals_when_it_thaws(sshd_factory, web):
    server = sshd_factory()
    service = TunnelService(
        connector(server, keepalive_interval=0.5, keepalive_count_max=2, connect_timeout=3),
        "frozen", owns_connection=True,
    )
    try:
        stats = await service.start(LoopbackSpec("web", web.port, 0))
        await settle(stats.local_port)
        server.pause()
        try:
            await wait_for_state(service, TunnelState.RECONNECTING, 10)
        finally:
            server.resume()
        await wait_for_state(service, TunnelState.UP, 20)
        assert await http_get(stats.local_port) == b"hello"
    finally:
        await service.close()


async def test_a_remote_tunnel_is_opened_again_on_the_device_after_a_restart(sshd_factory, web):
    server = sshd_factory()
    service = TunnelService(connector(server), "back", owns_connection=True)
    device_port = next_free_port(25000)
    try:
        await service.start(LoopbackSpec("back", device_port, web.port, kind=TunnelKind.REMOTE))
        assert await http_get(device_port) == b"hello"
        server.restart()
        await wait_for_state(service, TunnelState.RECONNECTING, 5)
        await wait_for_state(service, TunnelState.UP, 20)
        assert await http_get(device_port) == b"hello"
    finally:
        await service.close()


async def test_the_tunnel_command_logs_the_outage_and_the_recovery_through_the_shared_connection(sshd_factory, web):
    import signal

    from tests.test_tunnels import _save_device, _spark_tui

    server = sshd_factory()
    _save_device(server)
    local = next_free_port(27000)
    proc = await _spark_tui("tunnel", "dev", f"{web.port}:{local}")

    async def line() -> str:
        return (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()

    try:
        assert (await line()).startswith(f"port-{web.port}: 127.0.0.1:{local}")
        assert await line() == f"port-{web.port}: up on 127.0.0.1:{local}"
        await settle(local)
        server.stop()
        assert (await line()).startswith(f"port-{web.port}: reconnecting on 127.0.0.1:{local} (connection to the device lost")
        server.start()
        while not (text := await line()).startswith(f"port-{web.port}: up"):
            assert "reconnecting" in text  # only retry notes in between
        assert await http_get(local) == b"hello"
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
