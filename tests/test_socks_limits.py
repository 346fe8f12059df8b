"""A SOCKS (-D) tunnel cannot be starved by clients that never finish their handshake.

Each test runs a small program in its own process, so it can lower its descriptor limit
(RLIMIT_NOFILE) without touching pytest: an asyncssh server on 127.0.0.1 that forwards to a
tiny "ok" service, a real TunnelService with a dynamic tunnel, and the hostile clients.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

HARNESS = textwrap.dedent(
    """
    import asyncio, json, os, resource, socket, struct, sys, time
    import asyncssh
    from spark_tui.core.models import TunnelKind, TunnelSpec
    from spark_tui.services.tunnels import socks
    from spark_tui.services.tunnels.service import TunnelService

    class Server(asyncssh.SSHServer):
        def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
            return True

    def fds():
        return len(os.listdir("/proc/self/fd"))

    async def ok(reader, writer):
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    async def through(port, target):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\\x05\\x01\\x00\\x05\\x01\\x00\\x01\\x7f\\x00\\x00\\x01" + struct.pack("!H", target))
        data = await asyncio.wait_for(reader.read(), 20)
        writer.close()
        return data[-2:]

    async def closed_within(sock, seconds):
        loop = asyncio.get_running_loop()
        sock.setblocking(False)
        try:
            return await asyncio.wait_for(loop.sock_recv(sock, 16), seconds) == b""
        except (asyncio.TimeoutError, ConnectionError):
            return False

    async def main(mode):
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())
        server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[host_key], authorized_client_keys=authorized,
                                       server_factory=Server)
        ssh_port = server.sockets[0].getsockname()[1]
        service_ = await asyncio.start_server(ok, "127.0.0.1", 0)
        target = service_.sockets[0].getsockname()[1]
        connect = lambda: asyncssh.connect("127.0.0.1", ssh_port, username="u", client_keys=[client_key],
                                           known_hosts=None, agent_path=None)
        tunnels = TunnelService(connect, "dev")
        stats = await tunnels.start(TunnelSpec("socks", 0, 0, kind=TunnelKind.DYNAMIC))
        port = stats.local_port
        result = {"first": (await through(port, target)).decode()}
        if mode == "half-open":
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
            start = fds()
            for i in range(400):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(b"\\x05\\x01")  # half a greeting, then gone
                s.close()
                await asyncio.sleep(0.002)
            await asyncio.sleep(0.5)
            result["growth"] = fds() - start
            result["after"] = (await through(port, target)).decode()
        elif mode == "idle":
            socks.HANDSHAKE_TIMEOUT = 1.0
            idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
            idle[0].sendall(b"\\x05")  # one of them started, then stalled
            await asyncio.sleep(0.1)
            started = time.monotonic()
            result["dropped"] = all(await asyncio.gather(*(closed_within(s, 10) for s in idle)))
            result["seconds"] = time.monotonic() - started
            result["after"] = (await through(port, target)).decode()
        elif mode == "flood":
            socks.HANDSHAKE_TIMEOUT = 30.0
            idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(socks.MAX_HANDSHAKES + 40)]
            await asyncio.sleep(0.5)
            closed = await asyncio.gather(*(closed_within(s, 1.0) for s in idle))
            result["closed_at_once"] = sum(closed)
            result["limit"] = socks.MAX_HANDSHAKES
        await tunnels.close()
        server.close()
        service_.close()
        print(json.dumps(result))

    asyncio.run(main(sys.argv[1]))
    """
)


def _run(mode: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", HARNESS, mode], capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_four_hundred_clients_that_leave_mid_handshake_do_not_exhaust_256_descriptors() -> None:
    result = _run("half-open")

    assert result["first"] == "ok"
    assert result["growth"] < 20, result  # each left socket was closed, none waits in CLOSE_WAIT
    assert result["after"] == "ok"  # and the tunnel still serves


def test_a_client_that_connects_and_says_nothing_is_dropped_after_the_handshake_timeout() -> None:
    result = _run("idle")

    assert result["dropped"] is True and 0.5 < result["seconds"] < 8, result
    assert result["after"] == "ok"


def test_only_a_bounded_number_of_handshakes_may_wait_at_once() -> None:
    result = _run("flood")

    assert result["closed_at_once"] >= 40, result  # the ones past the limit, not after 30 s
    assert result["closed_at_once"] <= 40 + 2, result  # the ones within it still wait
