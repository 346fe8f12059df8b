"""Tunnels through the real OpenSSH sshd: HTTP, long transfers, conflicts, -R, -D, load, stats."""

from __future__ import annotations

import asyncio

import hashlib
import os
import socket
import struct
import time

import asyncssh
import pytest

from spark_tui.core.errors import PortInUse, TunnelError
from spark_tui.core.models import TunnelKind, TunnelSpec, TunnelState
from spark_tui.services.ssh.batched_tcp import BatchedTCP
from spark_tui.services.tunnels.forwarding import next_free_port
from spark_tui.services.tunnels.service import TunnelService


def LoopbackSpec(*args, **kwargs) -> TunnelSpec:
    """A TunnelSpec to the device's 127.0.0.1, where the test servers listen. The default,
    "localhost", lets sshd try ::1 first, and a stranger listening on that port there would
    get the test's traffic."""
    kwargs.setdefault("remote_host", "127.0.0.1")
    return TunnelSpec(*args, **kwargs)


MB = 1024 * 1024


def connector(server, **options):
    """An async ``connect`` for TunnelService that logs in to ``server`` with its client key."""

    async def connect() -> asyncssh.SSHClientConnection:
        return await asyncssh.connect(
            server.host, server.port, username=server.user, client_keys=[str(server.client_key)],
            known_hosts=str(server.known_hosts), agent_path=None, **options,
        )

    return connect


class WebService:
    """A tiny HTTP/1.0 server on 127.0.0.1, standing for a web app on the device.

    ``GET /hello`` -> ``hello``; ``GET /stream/N`` -> N pattern bytes;
    ``POST /upload`` (Content-Length) -> the sha256 of the body.
    """

    async def start(self) -> WebService:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
        self.port = self.server.sockets[0].getsockname()[1]
        self.requests = 0
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        self.requests += 1
        method, path, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if path.startswith("/stream/"):
            size = int(path.rsplit("/", 1)[1])
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            block = pattern(MB)
            sent = 0
            while sent < size:
                part = block[: min(MB, size - sent)]
                writer.write(part)
                sent += len(part)
                await writer.drain()
        elif method == "POST":
            length = int(next(l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")).split(b":")[1])
            digest = hashlib.sha256()
            left = length
            while left:
                chunk = await reader.read(min(left, MB))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
            body = digest.hexdigest().encode()
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        else:
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        self.server.close()


def pattern(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


async def http_get(port: int, path: str = "/hello", timeout: float = 10.0) -> bytes:
    """The body of GET ``path`` on 127.0.0.1:``port``."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), timeout)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200"), raw[:200]
    return body


@pytest.fixture
async def web():
    service = await WebService().start()
    yield service
    await service.stop()


@pytest.fixture
async def tunnels(sshd):
    """A TunnelService to the shared sshd, publishing stats every 0.1 s into ``.published``."""
    published: list = []
    service = TunnelService(connector(sshd), "test-device", on_stats=published.append, stats_interval=0.1,
                            owns_connection=True)
    service.published = published  # type: ignore[attr-defined]
    yield service
    await service.close()


async def test_an_http_request_through_a_local_tunnel_reaches_the_service_on_the_device(tunnels, web):
    stats = await tunnels.start(LoopbackSpec("web", web.port, 0))
    assert stats.state is TunnelState.UP
    assert await http_get(stats.local_port) == b"hello"
    assert web.requests == 1


async def test_a_long_streaming_transfer_arrives_whole_and_is_counted_both_ways(tunnels, web):
    stats = await tunnels.start(LoopbackSpec("stream", web.port, 0))
    size = 48 * MB
    body = await http_get(stats.local_port, f"/stream/{size}", timeout=60)
    assert len(body) == size and body[:MB] == pattern(MB)
    upload = pattern(MB) * 16
    reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port)
    writer.write(b"POST /upload HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(upload))
    writer.write(upload)
    reply = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    assert reply.endswith(hashlib.sha256(upload).hexdigest().encode())
    await asyncio.sleep(0.3)
    final = tunnels.stats()[0]
    request_bytes = len(f"GET /stream/{size} HTTP/1.0\r\nHost: x\r\n\r\n")
    assert final.bytes_up == request_bytes + len(b"POST /upload HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(upload)) + len(upload)
    assert final.bytes_down == len(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % size) + size + len(reply)
    assert final.total_connections == 2 and final.connections == 0


async def test_a_connection_with_batched_writes_carries_commands_and_streams_intact(sshd, web):
    connect = connector(sshd, tunnel=BatchedTCP())
    conn = await connect()
    assert (await conn.run("echo batched", check=True)).stdout == "batched\n"
    conn.close()
    service = TunnelService(connect, "batched", owns_connection=True)
    try:
        stats = await service.start(LoopbackSpec("stream", web.port, 0))
        body = await http_get(stats.local_port, f"/stream/{16 * MB}", timeout=30)
        assert body == pattern(MB) * 16
        upload = bytes(reversed(pattern(MB))) * 8
        reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port)
        writer.write(b"POST /upload HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(upload) + upload)
        assert (await asyncio.wait_for(reader.read(), 30)).endswith(hashlib.sha256(upload).hexdigest().encode())
        writer.close()
    finally:
        await service.close()


def count_sent_packet_types(monkeypatch) -> list[int]:
    """Record the type of every packet that reaches asyncssh's own ``send_packet``."""
    sent: list[int] = []
    original = asyncssh.SSHClientConnection.send_packet

    def counting(self, pkttype, *args, **kwargs):
        sent.append(pkttype)
        return original(self, pkttype, *args, **kwargs)

    monkeypatch.setattr(asyncssh.SSHClientConnection, "send_packet", counting)
    return sent


async def test_batched_connections_send_no_ignore_packets_with_gcm_but_keep_them_for_cbc(sshd_factory, web, monkeypatch):
    # asyncssh puts an empty IGNORE before every encrypted packet, a defence CBC ciphers need
    # and GCM does not; BatchedTCP drops it for GCM only, and data must flow intact either way.
    from asyncssh.constants import MSG_CHANNEL_DATA, MSG_IGNORE

    sent = count_sent_packet_types(monkeypatch)
    server = sshd_factory(extra_config="Ciphers aes128-gcm@openssh.com,aes128-cbc")
    for cipher, expect_ignores in (("aes128-gcm@openssh.com", False), ("aes128-cbc", True)):
        sent.clear()
        connect = connector(server, tunnel=BatchedTCP(), encryption_algs=[cipher])
        service = TunnelService(connect, "ciphers", owns_connection=True)
        try:
            stats = await service.start(LoopbackSpec("web", web.port, 0))
            assert await http_get(stats.local_port, f"/stream/{MB}", timeout=30) == pattern(MB)
            assert await http_get(stats.local_port, "/hello") == b"hello"
        finally:
            await service.close()
        assert sent.count(MSG_CHANNEL_DATA) >= 2, (cipher, sent)
        assert (MSG_IGNORE in sent) is expect_ignores, (cipher, sent.count(MSG_IGNORE))


def held_at_most(client: socket.socket) -> int:
    """What a tunnel may have taken from the device for a local client that reads nothing.

    The client's kernel receive buffer (as grown by autotuning, which this machine lets reach
    ``tcp_rmem``'s 32 MB), its StreamReader (paused at twice its 1 MB limit, plus one read), our
    socket's send buffer (at most ``tcp_wmem``'s maximum), our write high-water mark and one SSH
    window: every one bounded, so a tunnel that buffers without limit goes far past it.
    """
    from spark_tui.services.tunnels.forwarding import CHANNEL_WINDOW, LOCAL_WRITE_HIGH

    receive_buffer = client.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    return receive_buffer + 3 * MB + kernel_buffer_max("tcp_wmem") + LOCAL_WRITE_HIGH + CHANNEL_WINDOW


def kernel_buffer_max(name: str) -> int:
    """The largest a TCP socket's buffer may autotune to here: ``tcp_rmem`` or ``tcp_wmem``'s third field."""
    with open(f"/proc/sys/net/ipv4/{name}") as f:
        return int(f.read().split()[2])


async def test_a_client_that_stops_reading_holds_back_the_device_instead_of_filling_memory(tunnels, web):
    stats = await tunnels.start(LoopbackSpec("stream", web.port, 0))
    reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port, limit=MB)
    writer.write(f"GET /stream/{400 * MB} HTTP/1.0\r\n\r\n".encode())
    await reader.read(1)
    await asyncio.sleep(2.0)  # the client reads nothing more; the device wants to send 400 MB
    stalled = tunnels.stats()[0].bytes_down
    await asyncio.sleep(0.5)
    assert tunnels.stats()[0].bytes_down == stalled  # nothing moves while nobody reads
    bound = held_at_most(writer.get_extra_info("socket"))
    assert stalled < bound, (stalled, bound)  # kernel buffers and one SSH window, not 400 MB
    got = 1
    while got < 64 * MB:  # and it flows again as soon as the client reads
        got += len(await asyncio.wait_for(reader.read(MB), 10))
    writer.close()


async def upload_into_a_service_that_never_reads(host: str, port: int, user: str, key: str, known_hosts: str) -> dict:
    """Push 1 MB blocks for 2.5 s through a tunnel to a service that never reads; what moved."""
    accepted: list[socket.socket] = []

    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer.get_extra_info("socket"))
        await asyncio.sleep(30)
        writer.close()

    async def connect() -> asyncssh.SSHClientConnection:
        return await asyncssh.connect(host, port, username=user, client_keys=[key], known_hosts=known_hosts, agent_path=None)

    tunnels = TunnelService(connect, "test-device", owns_connection=True)
    stuck = await asyncio.start_server(never_reads, "127.0.0.1", 0)
    try:
        stats = await tunnels.start(LoopbackSpec("upload", stuck.sockets[0].getsockname()[1], 0))
        reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port)
        block = b"u" * MB
        sent = 0

        async def push() -> None:
            nonlocal sent
            while True:
                writer.write(block)
                await writer.drain()
                sent += len(block)

        pusher = asyncio.create_task(push())
        await asyncio.sleep(2.5)
        pusher.cancel()
        result = {
            "accepted": len(accepted), "up": tunnels.stats()[0].bytes_up, "sent": sent,
            # Kernel buffers as they stand now, for the bounds the test checks against.
            "service_receive_buffer": accepted[0].getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) if accepted else 0,
            "client_send_buffer": writer.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
        }
        writer.transport.abort()
        return result
    finally:
        stuck.close()
        await tunnels.close()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_device_service_that_stops_reading_holds_back_the_local_client(sshd_factory, loop):
    # Measured in a fresh interpreter on a private sshd, so no other test's sockets share it;
    # on both loops, since the product runs on uvloop (services/event_loop.py).
    import json
    import subprocess
    import sys

    server = sshd_factory()
    args = [server.host, str(server.port), server.user, str(server.client_key), str(server.known_hosts)]
    code = (
        "import json, sys; from spark_tui.services import event_loop; "
        "from tests.test_tunnels import upload_into_a_service_that_never_reads as run; "
        "h, p, u, k, kh = sys.argv[1:]; print(json.dumps(event_loop.run(run(h, int(p), u, k, kh))))"
    )
    env = dict(os.environ, SPARK_TUI_EVENT_LOOP=loop)
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["accepted"] == 1, "the tunnel's connection did not reach the stuck service"
    # Back-pressure reached the client: what moved is bounded by buffers, each with a limit, where
    # 2.5 s of an unbounded loopback push would be gigabytes. Into the device: the stuck service's
    # receive buffer, sshd's send buffer and its 2 MB channel window, plus what our side holds in
    # flight (1 MB block, asyncssh's write buffer). From the client: that, plus our own socket's
    # receive buffer (autotuned up to tcp_rmem's maximum) and the client's send buffer.
    wmem_max = kernel_buffer_max("tcp_wmem")
    into_device = result["service_receive_buffer"] + wmem_max + 2 * MB + 4 * MB
    assert result["up"] < into_device, (result, into_device)
    from_client = into_device + kernel_buffer_max("tcp_rmem") + result["client_send_buffer"] + MB
    assert result["sent"] < from_client, (result, from_client)


async def test_a_taken_local_port_is_refused_before_starting_and_the_next_free_port_is_suggested(tunnels, web):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with pytest.raises(PortInUse) as caught:
            await tunnels.start(LoopbackSpec("web", web.port, taken))
        error = caught.value
        assert error.port == taken and error.suggestion is not None and error.suggestion > taken
        assert f"port {error.suggestion} is free" in str(error)
        assert tunnels.stats() == ()  # nothing half-started
        stats = await tunnels.start(LoopbackSpec("web", web.port, error.suggestion))
        assert await http_get(stats.local_port) == b"hello"


def test_next_free_port_skips_ports_that_are_taken():
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        a.listen()
        first = a.getsockname()[1]
        b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            b.bind(("127.0.0.1", first + 1))
            b.listen()
            expected_after = first + 2
        except OSError:
            expected_after = first + 2  # first + 1 was taken by someone else: also skipped
        assert next_free_port(first, "127.0.0.1") >= expected_after


async def test_a_dead_remote_port_fails_that_connection_with_a_clear_reason_while_the_tunnel_stays_up(tunnels, web):
    dead = next_free_port(20000)
    stats = await tunnels.start(LoopbackSpec("dead", dead, 0))
    reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port)
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, not hung
    writer.close()
    after = tunnels.stats()[0]
    assert after.state is TunnelState.UP
    assert after.last_error == f"remote port {dead} refused: nothing listening on the device"
    other = await tunnels.start(LoopbackSpec("web", web.port, 0))
    assert await http_get(other.local_port) == b"hello"  # the shared link is fine


async def test_the_listener_binds_loopback_only_by_default(tunnels, web):
    stats = await tunnels.start(LoopbackSpec("web", web.port, 0))
    assert not stats.spec.exposed
    listening = [
        line.split()[1] for line in open("/proc/net/tcp").read().splitlines()[1:]
        if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == stats.local_port
    ]
    assert listening == ["0100007F:%04X" % stats.local_port]  # 127.0.0.1, nothing else
    v6 = [line for line in open("/proc/net/tcp6").read().splitlines()[1:]
          if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == stats.local_port]
    assert v6 == []


async def test_a_tunnel_can_listen_on_ipv6_loopback_when_asked(tunnels, web):
    stats = await tunnels.start(LoopbackSpec("web6", web.port, 0, bind_address="::1"))
    assert not stats.spec.exposed
    reader, writer = await asyncio.open_connection("::1", stats.local_port)
    writer.write(b"GET /hello HTTP/1.0\r\n\r\n")
    assert (await asyncio.wait_for(reader.read(), 10)).endswith(b"hello")
    writer.close()


async def test_an_unbindable_address_is_a_clear_tunnel_error(tunnels, web):
    with pytest.raises(TunnelError, match="cannot listen on 192.0.2.1"):
        await tunnels.start(LoopbackSpec("web", web.port, 0, bind_address="192.0.2.1"))


async def test_a_remote_tunnel_lets_the_device_reach_a_port_on_this_computer(tunnels, web):
    device_port = next_free_port(21000)
    stats = await tunnels.start(LoopbackSpec("back", device_port, web.port, kind=TunnelKind.REMOTE))
    assert stats.state is TunnelState.UP
    # The "device" is this machine: the sshd now listens on its loopback at device_port.
    assert await http_get(device_port) == b"hello"
    await asyncio.sleep(0.25)
    after = tunnels.stats()[0]
    assert after.total_connections == 1 and after.bytes_down > 0 and after.bytes_up > 0
    await tunnels.stop("back")
    await asyncio.sleep(0.2)
    with pytest.raises(OSError):
        await http_get(device_port, timeout=3)


async def _socks5_get(proxy_port: int, host: bytes, port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(b"\x05\x01\x00")
    assert await reader.readexactly(2) == b"\x05\x00"
    writer.write(b"\x05\x01\x00\x03" + bytes([len(host)]) + host + struct.pack("!H", port))
    reply = await reader.readexactly(10)
    if reply[1] != 0:
        writer.close()
        return reply
    writer.write(b"GET /hello HTTP/1.0\r\n\r\n")
    body = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return body


async def test_a_dynamic_tunnel_is_a_socks_proxy_that_exits_at_the_device(tunnels, web):
    stats = await tunnels.start(LoopbackSpec("socks", 0, 0, kind=TunnelKind.DYNAMIC))  # -D: no remote port
    assert (await _socks5_get(stats.local_port, b"localhost", web.port)).endswith(b"hello")
    # SOCKS4a too (curl --socks4a), with the name resolved at the device.
    reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port)
    writer.write(b"\x04\x01" + struct.pack("!H", web.port) + b"\x00\x00\x00\x01user\x00localhost\x00")
    assert (await reader.readexactly(8))[1] == 0x5A
    writer.write(b"GET /hello HTTP/1.0\r\n\r\n")
    assert (await asyncio.wait_for(reader.read(), 10)).endswith(b"hello")
    writer.close()
    assert web.requests == 2


async def test_a_socks_request_for_a_dead_port_gets_a_refusal_reply(tunnels):
    stats = await tunnels.start(LoopbackSpec("socks", 1, 0, kind=TunnelKind.DYNAMIC))
    dead = next_free_port(22000)
    reply = await _socks5_get(stats.local_port, b"127.0.0.1", dead)
    assert reply[:2] == b"\x05\x05"
    assert tunnels.stats()[0].last_error == f"remote port {dead} refused: nothing listening on the device"


async def test_socks_clients_asking_for_auth_or_bind_are_refused_and_ipv6_targets_work(tunnels, web):
    stats = await tunnels.start(LoopbackSpec("socks", 0, 0, kind=TunnelKind.DYNAMIC))
    reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port)
    writer.write(b"\x05\x01\x02")  # only username/password offered
    assert await asyncio.wait_for(reader.read(), 5) == b"\x05\xff"
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port)
    writer.write(b"\x05\x01\x00" + b"\x05\x02\x00\x01\x7f\x00\x00\x01" + struct.pack("!H", web.port))  # BIND
    assert await asyncio.wait_for(reader.read(), 5) == b"\x05\x00" + b"\x05\x07\x00\x01" + bytes(6)
    writer.close()
    v6 = await asyncio.start_server(lambda r, w: (w.write(b"six"), w.close()), "::1", 0)
    try:
        port = v6.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port)
        writer.write(b"\x05\x01\x00" + b"\x05\x01\x00\x04" + socket.inet_pton(socket.AF_INET6, "::1") + struct.pack("!H", port))
        assert await asyncio.wait_for(reader.read(), 10) == b"\x05\x00" + b"\x05\x00\x00\x01" + bytes(6) + b"six"
        writer.close()
    finally:
        v6.close()


async def test_a_client_that_is_not_socks_is_dropped(tunnels):
    stats = await tunnels.start(LoopbackSpec("socks", 1, 0, kind=TunnelKind.DYNAMIC))
    reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port)
    writer.write(b"GET / HTTP/1.1\r\n\r\n")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed without a word
    writer.close()


async def test_500_concurrent_short_connections_through_one_tunnel_all_succeed(sshd, web):
    service = TunnelService(connector(sshd, tunnel=BatchedTCP()), "load", owns_connection=True)
    try:
        stats = await service.start(LoopbackSpec("web", web.port, 0))
        results = await asyncio.wait_for(
            asyncio.gather(*(http_get(stats.local_port, timeout=30) for _ in range(500)), return_exceptions=True), 60
        )
        failures = [r for r in results if r != b"hello"]
        assert failures == []
        assert web.requests == 500
        assert service.stats()[0].total_connections == 500
    finally:
        await service.close()


async def test_stats_are_published_at_a_steady_rate_and_not_while_nothing_changes(tunnels, web):
    stats = await tunnels.start(LoopbackSpec("stream", web.port, 0))
    started = time.monotonic()
    await http_get(stats.local_port, f"/stream/{8 * MB}", timeout=30)
    await asyncio.sleep(0.5)
    busy = len(tunnels.published)
    ticks = (time.monotonic() - started) / 0.1
    assert 1 <= busy <= ticks + 2  # at most one per 0.1 s tick, never one per packet (hundreds)
    assert any(s[0].rate_down > 0 for s in tunnels.published)
    assert tunnels.published[-1][0].rate_down == 0.0
    await asyncio.sleep(0.5)
    assert len(tunnels.published) == busy  # idle: nothing new to say


async def test_stopping_a_tunnel_frees_its_port_and_closes_its_open_connections(tunnels, web):
    stats = await tunnels.start(LoopbackSpec("web", web.port, 0))
    reader, writer = await asyncio.open_connection("127.0.0.1", stats.local_port)
    await asyncio.sleep(0.1)
    assert tunnels.stats()[0].connections == 1
    await tunnels.stop("web")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert tunnels.stats()[0].state is TunnelState.STOPPED
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the closed connection is in TIME_WAIT
        probe.bind(("127.0.0.1", stats.local_port))  # nobody listens there any more
    again = await tunnels.start(LoopbackSpec("web", web.port, stats.local_port))
    assert again.local_port == stats.local_port and await http_get(again.local_port) == b"hello"


async def test_a_local_tunnel_without_a_valid_remote_port_is_refused_before_binding(tunnels):
    with pytest.raises(TunnelError, match="ports must be 1-65535"):
        await tunnels.start(LoopbackSpec("bad", 0, 0))
    with pytest.raises(TunnelError, match="ports must be 1-65535"):
        await tunnels.start(LoopbackSpec("bad", 80, 70000))
    assert tunnels.stats() == ()


async def test_starting_several_tunnels_reports_each_ones_outcome_without_stopping_at_a_failure(tunnels, web):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        first, second, third = await tunnels.start_all(
            [LoopbackSpec("a", web.port, 0), LoopbackSpec("b", web.port, taken), LoopbackSpec("c", web.port, 0)]
        )
    assert first.state is TunnelState.UP and third.state is TunnelState.UP
    assert isinstance(second, PortInUse) and second.port == taken
    assert [s.spec.name for s in tunnels.stats()] == ["a", "c"]
    assert await http_get(third.local_port) == b"hello"


async def test_starting_a_running_tunnel_twice_is_refused(tunnels, web):
    await tunnels.start(LoopbackSpec("web", web.port, 0))
    with pytest.raises(TunnelError, match="already running"):
        await tunnels.start(LoopbackSpec("web", web.port, 0))


async def test_a_device_that_cannot_be_reached_at_start_releases_the_port_and_raises(web):
    port = next_free_port(23000)

    async def unreachable():
        return await asyncssh.connect("127.0.0.1", next_free_port(24000), known_hosts=None)

    service = TunnelService(unreachable, "nowhere")
    with pytest.raises(OSError):
        await service.start(LoopbackSpec("web", web.port, port))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))
    assert service.stats() == ()
    await service.close()


# ---------------------------------------------------------------- the `spark-tui tunnel` command


def _save_device(server, name: str = "dev", **extra):
    from spark_tui.config import locations
    from spark_tui.config.store import ProfileStore
    from spark_tui.core.models import DeviceProfile
    from spark_tui.services.ssh.known_hosts import KnownHosts

    KnownHosts(locations.known_hosts_path()).add(server.host, server.port, asyncssh.read_public_key(f"{server.host_key}.pub"))
    profile = DeviceProfile(name, server.host, user=server.user, port=server.port, identity_file=str(server.client_key), **extra)
    ProfileStore(locations.config_path()).add_device(profile)
    return profile


async def _spark_tui(*argv: str):
    import sys

    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "spark_tui", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def test_the_tunnel_command_forwards_until_ctrl_c_and_logs_state_changes(sshd, web):
    import signal

    _save_device(sshd)
    local = next_free_port(26000)
    proc = await _spark_tui("tunnel", "dev", f"{web.port}:{local}")
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert first.startswith(f"port-{web.port}: 127.0.0.1:{local} -> dev localhost:{web.port}")
        up = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert up.strip() == f"port-{web.port}: up on 127.0.0.1:{local}"
        assert await http_get(local) == b"hello"
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", local))  # released


async def test_the_tunnel_command_exits_with_one_clear_line_when_the_port_is_taken(sshd, web):
    _save_device(sshd)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        proc = await _spark_tui("tunnel", "dev", f"{web.port}:{taken}")
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and f"local port 127.0.0.1:{taken} is already in use" in lines[0]
    assert "is free" in lines[0]


async def test_the_tunnel_command_rejects_an_unknown_device_and_a_bad_port(sshd):
    _save_device(sshd)
    proc = await _spark_tui("tunnel", "nosuch", "8888")
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1 and "no saved device named 'nosuch'" in err.decode()
    proc = await _spark_tui("tunnel", "dev", "notaport")
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1 and "'notaport' is not a port" in err.decode() and "presets: dgx-dashboard" in err.decode()


def test_port_arguments_mean_ports_presets_or_saved_tunnels():
    from spark_tui.commands.tunnel import parse_forward
    from spark_tui.core.models import DeviceProfile

    saved = LoopbackSpec("mine", 9999, 19999)
    profile = DeviceProfile("dev", "h", tunnels=(saved,))
    [jupyter] = parse_forward("8888", profile, "127.0.0.1")
    assert (jupyter.name, jupyter.remote_port, jupyter.local_port, jupyter.browser_path) == ("jupyterlab", 8888, None, "/lab")
    [custom] = parse_forward("7000:17000", profile, "0.0.0.0")
    assert (custom.name, custom.effective_local_port, custom.exposed) == ("port-7000", 17000, True)
    assert parse_forward("mine", profile, "127.0.0.1") == (saved,)
    assert [s.remote_port for s in parse_forward("txt2kg", profile, "127.0.0.1")] == [3001, 8529, 11434]
    with pytest.raises(TunnelError, match="out of range"):
        parse_forward("70000", profile, "127.0.0.1")


def test_the_status_line_shows_state_connections_bytes_and_rates():
    from spark_tui.commands.tunnel import status_line
    from spark_tui.core.models import TunnelStats

    line = status_line((TunnelStats("dev", LoopbackSpec("web", 80, 8080), TunnelState.UP, 8080, 2, 7, 1536, 3 * 1024 * 1024, 0, 2048.0),))
    assert line == "web :8080 up 2/7 conn up 1.5 KiB (0 B/s) down 3.0 MiB (2.0 KiB/s)"
