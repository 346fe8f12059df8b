"""Local forwards carried by an OpenSSH control master, through the real sshd.

The tunnel service keeps its listener and hands each accepted socket to ``ssh -M`` over the mux
protocol; bytes are counted by the kernel. These tests check that the master really carries
the bytes, that counts match what moved, and that every failure falls back to asyncssh without
losing a connection: a refused remote port, a master that dies, one that cannot log in, sshd
killed mid-transfer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import socket

import asyncssh
import pytest

from spark_tui.core.models import TunnelState
from spark_tui.services.ssh.known_hosts import host_pattern
from spark_tui.services.ssh.openssh_mux import OpenSSHMaster
from spark_tui.services.tunnels.counters import counters_supported
from spark_tui.services.tunnels.service import TunnelService
from tests.test_tunnel_faults import port_is_held, wait_for_state
from tests.test_tunnels import MB, LoopbackSpec, connector, http_get, pattern, web  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not counters_supported(), reason="the OpenSSH data path needs Linux TCP_INFO")


def master_for(server, **overrides):
    """A factory making an OpenSSH master to ``server`` (what the product builds from a profile)."""

    def make(conn: asyncssh.SSHClientConnection) -> OpenSSHMaster:
        options = {
            "host_key_alias": host_pattern(server.host, server.port),
            "known_hosts": server.known_hosts,
            "identity_file": str(server.client_key),
        }
        options.update(overrides)
        return OpenSSHMaster(conn.get_extra_info("peername")[0], server.port, server.user, **options)

    return make


class ChannelSpy:
    """Counts the direct-tcpip channels asyncssh opens on the service's connection."""

    def __init__(self, connect):
        self._connect = connect
        self.opened = 0

    async def __call__(self) -> asyncssh.SSHClientConnection:
        conn = await self._connect()
        real = conn.create_connection

        async def counted(*args, **kwargs):
            self.opened += 1
            return await real(*args, **kwargs)

        conn.create_connection = counted  # type: ignore[method-assign]
        return conn


@contextlib.asynccontextmanager
async def carried(server, remote_port: int, connect=None, **options):
    """A TunnelService to ``server`` with one local tunnel, once its OpenSSH master carries it.

    Yields ``(service, local_port)``; the service is closed after.
    """
    service = TunnelService(connect or connector(server), "native", owns_connection=True,
                            openssh=master_for(server), **options)
    try:
        stats = await service.start(LoopbackSpec("web", remote_port, 0))
        assert await service.wait_carrier(20) == "openssh", service.carrier_note
        yield service, stats.local_port
    finally:
        await service.close()


async def post(port: int, body: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /upload HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    raw = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    return raw.partition(b"\r\n\r\n")[2]


async def test_local_forwards_ride_the_openssh_master_and_the_kernel_counts_their_bytes(sshd, web):
    spy = ChannelSpy(connector(sshd))
    async with carried(sshd, web.port, spy, stats_interval=0.1) as (service, port):
        assert await http_get(port) == b"hello"
        body = await http_get(port, f"/stream/{24 * MB}", timeout=30)
        assert body == pattern(MB) * 24
        upload = os.urandom(8 * MB)
        assert await post(port, upload) == hashlib.sha256(upload).hexdigest().encode()
        await asyncio.sleep(0.3)
        after = service.stats()[0]
        assert spy.opened == 0  # not one byte went through asyncssh
        assert after.total_connections == 3 and after.connections == 0
        assert 24 * MB < after.bytes_down < 24 * MB + 1024  # + three small HTTP heads
        assert 8 * MB < after.bytes_up < 8 * MB + 1024


async def test_a_dead_remote_port_is_refused_with_its_reason_while_the_master_keeps_carrying(sshd, web):
    service = TunnelService(connector(sshd), "native", owns_connection=True, openssh=master_for(sshd))
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    try:
        bad = await service.start(LoopbackSpec("dead", dead_port, 0))
        good = await service.start(LoopbackSpec("web", web.port, 0))
        assert await service.wait_carrier(20) == "openssh"
        reader, writer = await asyncio.open_connection("127.0.0.1", bad.local_port)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed cleanly, not hung
        writer.close()
        for _ in range(100):
            if service.stats()[0].last_error:
                break
            await asyncio.sleep(0.05)
        assert service.stats()[0].last_error == f"remote port {dead_port} refused: nothing listening on the device"
        assert service.stats()[0].state is TunnelState.UP
        assert await http_get(good.local_port) == b"hello"
        assert service.carrier == "openssh"
    finally:
        await service.close()


async def test_a_killed_master_costs_no_connection_and_a_new_one_takes_over(sshd, web):
    async with carried(sshd, web.port) as (service, port):
        master = service._carrier._master
        os.kill(master._process.pid, signal.SIGKILL)
        await master.wait_closed()
        assert service.carrier == "asyncssh"
        for _ in range(5):  # carried on asyncssh meanwhile
            assert await http_get(port) == b"hello"
        assert await service.wait_carrier(20) == "openssh"
        assert service._carrier._master is not master
        assert await http_get(port) == b"hello"


async def test_a_master_that_cannot_log_in_says_why_and_the_tunnel_works_on_asyncssh(sshd, web, tmp_path):
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{host_pattern(sshd.host, sshd.port)} ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIGrWn3p2lfn7Vq2CwZ4m8vHq9y7Qz0l8hP6J6p0QJ3xk\n")
    service = TunnelService(connector(sshd), "native", owns_connection=True,
                            openssh=master_for(sshd, known_hosts=wrong))
    try:
        stats = await service.start(LoopbackSpec("web", web.port, 0))
        assert await service.wait_carrier(20) == "asyncssh"
        note = service.carrier_note
        assert "OpenSSH data path unavailable" in note and "tunnels use asyncssh" in note
        assert "host key" in note.lower() or "verification failed" in note.lower(), note
        assert await http_get(stats.local_port) == b"hello"
    finally:
        await service.close()


async def test_sshd_killed_mid_transfer_heals_on_the_same_port_and_the_master_comes_back(sshd_factory, web):
    server = sshd_factory()
    service = TunnelService(connector(server), "native", owns_connection=True, openssh=master_for(server))
    try:
        stats = await service.start(LoopbackSpec("stream", web.port, 0))
        port = stats.local_port
        assert await service.wait_carrier(20) == "openssh"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /stream/{400 * MB} HTTP/1.0\r\n\r\n".encode())
        received = 0
        while received < 4 * MB:
            received += len(await asyncio.wait_for(reader.read(MB), 10))
        server.stop()
        while chunk := await asyncio.wait_for(reader.read(MB), 30):  # ends: EOF, not a hang
            received += len(chunk)
        writer.close()
        assert received < 400 * MB
        await wait_for_state(service, TunnelState.RECONNECTING, 30)
        assert port_is_held(port)
        server.start()
        await wait_for_state(service, TunnelState.UP, 30)
        assert service.stats()[0].local_port == port
        assert await http_get(port) == b"hello"
        assert await service.wait_carrier(20) == "openssh"
        assert await http_get(port) == b"hello"
    finally:
        await service.close()


async def test_stopping_a_tunnel_closes_the_connections_the_master_carries(sshd, web):
    async with carried(sshd, web.port, stats_interval=0.1) as (service, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /stream/{400 * MB} HTTP/1.0\r\n\r\n".encode())
        await asyncio.wait_for(reader.readexactly(MB), 10)
        await service.stop("web")
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            while await asyncio.wait_for(reader.read(MB), 10):
                pass
            raise ConnectionResetError  # EOF is an end too
        writer.close()
        assert not port_is_held(port)
        await asyncio.sleep(0.3)
        assert service.stats()[0].connections == 0


async def test_a_client_that_half_closes_still_gets_its_answer(sshd, web):
    async with carried(sshd, web.port) as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /hello HTTP/1.0\r\n\r\n")
        writer.write_eof()
        raw = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert raw.endswith(b"\r\n\r\nhello")


async def test_500_concurrent_connections_all_succeed_and_all_ride_the_master(sshd, web):
    spy = ChannelSpy(connector(sshd))
    async with carried(sshd, web.port, spy) as (service, port):
        results = await asyncio.gather(*(http_get(port, timeout=30) for _ in range(500)), return_exceptions=True)
        failures = [r for r in results if r != b"hello"]
        assert not failures, failures[:3]
        assert spy.opened == 0  # a burst does not overflow the master's accept queue into fallbacks
        assert service.carrier == "openssh"


KILLED_HARD = """
import asyncio, os, signal, sys
from pathlib import Path
from types import SimpleNamespace
from tests.test_tunnels import LoopbackSpec, connector
from tests.test_tunnels_openssh import master_for
from spark_tui.services.tunnels.service import TunnelService

server = SimpleNamespace(host="127.0.0.1", port=int(sys.argv[1]), user=sys.argv[2],
                         client_key=Path(sys.argv[3]), known_hosts=Path(sys.argv[4]))

async def main():
    service = TunnelService(connector(server), "killed", openssh=master_for(server))
    await service.start(LoopbackSpec("web", int(sys.argv[5]), 0))
    print(await service.wait_carrier(20), service._carrier._master._process.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def test_a_spark_tui_killed_hard_takes_its_openssh_master_with_it(sshd):
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    run = subprocess.run(
        [sys.executable, "-c", KILLED_HARD, str(sshd.port), sshd.user, str(sshd.client_key), str(sshd.known_hosts), "9"],
        capture_output=True, text=True, cwd=root, timeout=60,
    )
    carrier, pid = run.stdout.split()
    assert carrier == "openssh", run.stderr[-2000:]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        if "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text():
            break  # exited, waiting to be reaped by init
        time.sleep(0.05)
    else:
        assert not Path(f"/proc/{pid}").exists(), "the master outlived spark-tui"


async def test_closing_while_the_master_still_logs_in_leaves_no_ssh_behind(sshd, web, tmp_path):
    # A "device" that accepts TCP and never says a word: the master hangs in its banner exchange.
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    silent_port = silent.sockets[0].getsockname()[1]
    made: list[OpenSSHMaster] = []

    def hanging(conn: asyncssh.SSHClientConnection) -> OpenSSHMaster:
        made.append(OpenSSHMaster("127.0.0.1", silent_port, sshd.user, host_key_alias="x",
                                  known_hosts=sshd.known_hosts, identity_file=str(sshd.client_key)))
        return made[0]

    service = TunnelService(connector(sshd), "native", owns_connection=True, openssh=hanging)
    try:
        stats = await service.start(LoopbackSpec("web", web.port, 0))
        for _ in range(200):
            if made and made[0]._process is not None:
                break
            await asyncio.sleep(0.02)
        pid = made[0]._process.pid
        assert await http_get(stats.local_port) == b"hello"  # asyncssh carries meanwhile
    finally:
        await service.close()
        silent.close()
    assert made[0]._process.returncode is not None, "ssh still running after close"
    assert not os.path.exists(f"/proc/{pid}") or "\nState:\tZ" in open(f"/proc/{pid}/status").read()
    assert not os.path.exists(made[0].control_path.rsplit("/", 1)[0])
