"""What says "loopback only" answers nobody else: the demo's mDNS and SOCKS (-D) listeners.

Two network namespaces made by the test, joined by a veth pair with addresses from
198.18.0.0/15 (``security-a`` 198.18.77.1, ``security-b`` 198.18.77.2): the listener runs in
A, the stranger asks from B. Each test first shows the same request answered from A's own
loopback, so a silence from B means a refusal, not a dead listener.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
A_ADDRESS, B_ADDRESS = "198.18.77.1", "198.18.77.2"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


@pytest.fixture
def namespaces():
    tag = uuid.uuid4().hex[:6]
    a, b = f"security-a-{tag}", f"security-b-{tag}"
    va, vb = f"secva{tag}", f"secvb{tag}"
    try:
        _ip("netns", "add", a)
        _ip("netns", "add", b)
        _ip("link", "add", va, "type", "veth", "peer", "name", vb)
        _ip("link", "set", va, "netns", a)
        _ip("link", "set", vb, "netns", b)
        for ns, dev, address in ((a, va, A_ADDRESS), (b, vb, B_ADDRESS)):
            _ip("-n", ns, "addr", "add", f"{address}/30", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", a, "link", "set", "lo", "multicast", "on")
        _ip("-n", a, "route", "add", "224.0.0.0/4", "dev", "lo")
        yield a, b
    finally:
        for ns in (a, b):
            _ip("netns", "del", ns, check=False)


def _in(ns: str, code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", textwrap.dedent(code), *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def _run_in(ns: str, code: str, *args: str, timeout: float = 30) -> str:
    process = _in(ns, code, *args)
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-2000:]
    return out.strip()


def _ready(process: subprocess.Popen, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    line = ""
    while not line and time.monotonic() < deadline and process.poll() is None:
        line = process.stdout.readline().strip()
    if not line:
        process.kill()
        pytest.fail(f"the listener in the namespace did not start: {process.stderr.read()[-2000:]}")
    return line


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.stdin.close()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


ASK_MDNS = """
    import socket, struct, sys
    name = b"".join(bytes([len(p)]) + p for p in b"_ssh._tcp.local".split(b".")) + b"\\0"
    query = struct.pack(">HHHHHH", 0x5a5a, 0, 1, 0, 0, 0) + name + struct.pack(">HH", 12, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], 0))  # a legacy unicast query: answered straight to this port
    s.settimeout(3)
    for _ in range(3):
        s.sendto(query, (sys.argv[1], 5353))
        try:
            data, _ = s.recvfrom(9000)
            print("answered" if b"spark-demo" in data else "other")
            break
        except socket.timeout:
            pass
    else:
        print("silence")
"""

ADVERTISE = """
    import asyncio, sys
    from spark_tui.services.demo.advertise import DemoAdvertisement

    async def main():
        ad = DemoAdvertisement("spark-demo", 2222)
        await ad.start()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await ad.stop()

    asyncio.run(main())
"""


def test_the_demo_s_mdns_answers_a_unicast_query_from_loopback_but_not_from_another_host(namespaces) -> None:
    a, b = namespaces
    advertiser = _in(a, ADVERTISE)
    try:
        _ready(advertiser)
        from_loopback = _run_in(a, ASK_MDNS, "127.0.0.1", "127.0.0.1")
        from_elsewhere = _run_in(b, ASK_MDNS, A_ADDRESS, B_ADDRESS)
    finally:
        _stop(advertiser)

    assert from_loopback == "answered"
    assert from_elsewhere == "silence"


SOCKS_SERVER = """
    import asyncio, sys
    import asyncssh
    from spark_tui.core.models import TunnelKind, TunnelSpec
    from spark_tui.services.tunnels.service import TunnelService

    class Server(asyncssh.SSHServer):
        def connection_requested(self, *args):
            return True

    async def ok(reader, writer):
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    async def main():
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())
        server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[host_key], authorized_client_keys=authorized,
                                       server_factory=Server)
        ssh_port = server.sockets[0].getsockname()[1]
        target = await asyncio.start_server(ok, "127.0.0.1", 0)
        connect = lambda: asyncssh.connect("127.0.0.1", ssh_port, username="u", client_keys=[client_key],
                                           known_hosts=None, agent_path=None)
        tunnels = TunnelService(connect, "dev")
        stats = await tunnels.start(TunnelSpec("socks", 0, 0, kind=TunnelKind.DYNAMIC, bind_address="0.0.0.0"))
        print(stats.local_port, target.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await tunnels.close()
        server.close()

    asyncio.run(main())
"""

SOCKS_CLIENT = """
    import socket, struct, sys
    host, port, target = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"\\x05\\x01\\x00\\x05\\x01\\x00\\x01\\x7f\\x00\\x00\\x01" + struct.pack("!H", target))
    data = b""
    try:
        while chunk := s.recv(100):
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    print(data[-2:].decode() if data.endswith(b"ok") else f"refused:{len(data)}")
"""


def test_a_socks_tunnel_bound_beyond_loopback_still_serves_only_loopback_clients_by_default(namespaces) -> None:
    a, b = namespaces
    server = _in(a, SOCKS_SERVER)
    try:
        port, target = _ready(server).split()
        from_loopback = _run_in(a, SOCKS_CLIENT, "127.0.0.1", port, target)
        from_elsewhere = _run_in(b, SOCKS_CLIENT, A_ADDRESS, port, target)
    finally:
        _stop(server)

    assert from_loopback == "ok"
    assert from_elsewhere == "refused:0"  # closed without a byte: no proxy into the device's network
