"""Port watch against the real sshd: listeners appearing and vanishing on the "device" (this host)."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile

import asyncssh
import pytest

from spark_tui.core.models import PortRules
from spark_tui.core.presets import DASHBOARD_PORTS_FILE
from spark_tui.services.tunnels.forwarding import next_free_port
from spark_tui.services.tunnels.port_watch import PortWatch, dashboard_preset, parse_owners, read_dashboard_ports


@pytest.fixture
async def conn(sshd):
    connection = await asyncssh.connect(
        sshd.host, sshd.port, username=sshd.user, client_keys=[str(sshd.client_key)],
        known_hosts=str(sshd.known_hosts), agent_path=None,
    )
    yield connection
    connection.close()
    await connection.wait_closed()


class Seen:
    """Collects on_ports calls and lets a test wait for one that matches."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.changed = asyncio.Event()

    def __call__(self, ports) -> None:
        self.calls.append(ports)
        self.changed.set()

    async def until(self, predicate, timeout: float = 10.0):
        async def wait():
            while not (self.calls and predicate(self.calls[-1])):
                self.changed.clear()
                await self.changed.wait()
            return self.calls[-1]

        return await asyncio.wait_for(wait(), timeout)


def listener(address: str, port: int, family: int = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen()
    return sock


def ports_of(call) -> set[int]:
    return {p.port for p in call}


async def test_a_listener_appearing_and_disappearing_on_the_device_is_reported_each_time(conn):
    mine = next_free_port(31000)
    seen = Seen()
    watch = PortWatch(conn, seen, rules=PortRules(allow=(str(mine),)), interval=0.2)
    await watch.start()
    try:
        assert await seen.until(lambda c: True) == ()  # the initial set: nothing of ours yet
        sock = listener("127.0.0.1", mine)
        appeared = await seen.until(lambda c: mine in ports_of(c))
        entry = next(p for p in appeared if p.port == mine)
        assert (entry.address, entry.family) == ("127.0.0.1", 4)
        sock.close()
        await seen.until(lambda c: mine not in ports_of(c))
        assert len(seen.calls) == 3  # initial, appeared, gone: nothing in between
    finally:
        await watch.stop()


async def test_nothing_is_reported_while_nothing_changes_and_one_remote_loop_does_all_the_reading(conn):
    mine = next_free_port(31100)
    seen = Seen()
    sock = listener("127.0.0.1", mine)
    watch = PortWatch(conn, seen, rules=PortRules(allow=(str(mine),)), interval=0.2)
    await watch.start()
    try:
        await seen.until(lambda c: mine in ports_of(c))
        pid = watch.remote_pid
        assert pid is not None and os.path.exists(f"/proc/{pid}")
        await asyncio.sleep(1.2)  # ~6 polls
        assert len(seen.calls) == 1
        assert watch.remote_pid == pid and os.path.exists(f"/proc/{pid}")  # same shell, still looping
    finally:
        sock.close()
        await watch.stop()
    for _ in range(60):  # the remote loop ends once its output has nowhere to go
        if not os.path.exists(f"/proc/{pid}"):
            break
        await asyncio.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")


async def test_denied_ports_and_ports_bound_to_other_addresses_are_not_offered(conn):
    allowed, denied, v6 = next_free_port(31200), next_free_port(31300), next_free_port(31400)
    rules = PortRules(allow=("31200-31499",), deny=(f"{denied}",))
    seen = Seen()
    socks = [listener("127.0.0.1", allowed), listener("127.0.0.1", denied), listener("::1", v6, socket.AF_INET6)]
    watch = PortWatch(conn, seen, rules=rules, interval=0.2)
    await watch.start()
    try:
        call = await seen.until(lambda c: {allowed, v6} <= ports_of(c))
        assert denied not in ports_of(call)
        entry = next(p for p in call if p.port == v6)
        assert (entry.address, entry.family) == ("::1", 6)
    finally:
        for sock in socks:
            sock.close()
        await watch.stop()


async def test_a_known_service_port_is_named_after_its_preset_and_its_process_when_visible(conn):
    # A listener owned by the login user, started on the device over the same connection,
    # so the watcher (running as that user) can see whose socket it is.
    port = next_free_port(31500)
    script = (
        "import socket,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
        f"s.bind(('127.0.0.1',{port}));s.listen();print('ok',flush=True);time.sleep(30)"
    )
    remote = await conn.create_process(f"exec python3 -c \"{script}\"")
    assert (await asyncio.wait_for(remote.stdout.readline(), 10)).strip() == "ok"
    seen = Seen()
    watch = PortWatch(conn, seen, rules=PortRules(allow=(str(port), "8888")), interval=0.2)
    await watch.start()
    try:
        call = await seen.until(lambda c: port in ports_of(c))
        entry = next(p for p in call if p.port == port)
        assert entry.process and entry.process.startswith("python3")
        assert entry.preset is None
    finally:
        remote.kill()
        await watch.stop()


def test_owner_lines_from_the_device_are_parsed_leniently():
    text = "socket:[123] python3\nsocket:[123] other\ngarbage\nsocket:[456] ollama serve\nsocket:[x] no\n"
    assert parse_owners(text) == {123: "python3", 456: "ollama serve"}


async def test_the_dashboard_preset_includes_the_jupyterlab_ports_listed_on_the_device(conn):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir="/tmp", delete=False) as f:
        f.write("# per-user JupyterLab\nalice: 11001\nbob: 11002\n")
    os.chmod(f.name, 0o644)
    try:
        assert await read_dashboard_ports(conn, f.name) == (11001, 11002)
        preset = await dashboard_preset(conn, f.name)
        assert [p.port for p in preset.ports] == [11000, 11001, 11002]
    finally:
        os.unlink(f.name)


async def test_a_device_without_the_dashboard_file_just_has_the_dashboard_port(conn):
    if os.path.exists(DASHBOARD_PORTS_FILE):
        pytest.fail("this machine has a real DGX Dashboard port file; the test expects none")
    assert await read_dashboard_ports(conn) == ()
    assert [p.port for p in (await dashboard_preset(conn)).ports] == [11000]


async def test_the_watch_ends_by_itself_when_the_connection_drops(sshd):
    connection = await asyncssh.connect(
        sshd.host, sshd.port, username=sshd.user, client_keys=[str(sshd.client_key)],
        known_hosts=str(sshd.known_hosts), agent_path=None,
    )
    seen = Seen()
    watch = PortWatch(connection, seen, interval=0.2)
    await watch.start()
    await seen.until(lambda c: True)
    connection.close()
    await asyncio.wait_for(watch.wait_stopped(), 5)
    await watch.stop()
