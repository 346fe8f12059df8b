"""Fault injection: a whole device session (connection, tunnels, shell, telemetry) through outages.

One :class:`~spark_tui.services.fleet.Fleet` carries, on one shared connection to a real
OpenSSH sshd, a local tunnel to a web page, a remote (-R) tunnel back to it, the telemetry
sampler and an interactive shell. Then the sshd is killed and restarted, frozen with SIGSTOP
until keepalives give up, or cut off by taking a veth link down inside a network namespace.
After every fault the session must heal by itself: the connection back to ``connected``, every
tunnel up on the port it had and passing traffic, telemetry flowing again, a new shell answering.
No exception may reach the event loop, and open files, asyncio tasks, traced memory and live
SSH connections must not grow from cycle to cycle (the bounds are the constants below).

Default runs are short (10 cycles each); the ``slow`` variants (``--run-slow`` or
``SPARK_TUI_RUN_SLOW=1``) do 100 kill/restart cycles. Each test prints its figures (``-s``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import shutil
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import asyncssh
import pytest

from spark_tui.core.models import (
    ConnectionState,
    DeviceProfile,
    TelemetrySample,
    TunnelKind,
    TunnelSpec,
    TunnelState,
)
from spark_tui.services.tunnels import link as tunnel_link
from spark_tui.services.fleet import Fleet
from spark_tui.services.shell.session import ShellSession
from tests import sshd_server
from tests.sshd_server import Sshd, free_port
from tests.test_tunnels import WebService, http_get


def LoopbackSpec(*args, **kwargs) -> TunnelSpec:
    """A TunnelSpec to the device's 127.0.0.1, where the test servers listen. The default,
    "localhost", lets sshd try ::1 first, and a stranger listening on that port there would
    get the test's traffic."""
    kwargs.setdefault("remote_host", "127.0.0.1")
    return TunnelSpec(*args, **kwargs)


pytestmark = pytest.mark.faults

FD_GROWTH_MAX = 6
"""Open descriptors may exceed the count after the first healed cycle by at most this many."""
TASK_GROWTH_MAX = 3
"""asyncio tasks alive after the last cycle vs. after the first one."""
MEMORY_GROWTH_PER_CYCLE_MAX = 8 * 1024
"""Traced Python memory (tracemalloc, after gc) may grow at most this much per cycle on average."""
MEMORY_GROWTH_FLOOR = 256 * 1024
"""... and never by more than this floor plus the per-cycle allowance in total."""
LIVE_CONNECTIONS_MAX = 2
"""SSH client connection objects still alive after gc (the current one, plus one being torn down)."""
LIVE_SHELLS_MAX = 2
"""ShellSession objects still alive after gc: the open one, plus one being closed."""
RECOVERY_TIMEOUT = 30.0
"""Seconds a fault may take to heal before the test fails."""


def require_slow(request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("--run-slow", default=False) and not os.environ.get("SPARK_TUI_RUN_SLOW"):
        pytest.skip("slow variant: run with --run-slow or SPARK_TUI_RUN_SLOW=1")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def live(kind: type) -> int:
    """Objects of ``kind`` still reachable (call after ``gc.collect()``)."""
    return sum(1 for obj in gc.get_objects() if isinstance(obj, kind))


class Session:
    """Everything that runs on one device, plus what the test watches while it runs."""

    def __init__(self, server: Sshd, tmp_path: Path, *, remote_tunnel: bool = True, web_host: str = "127.0.0.1") -> None:
        self.server = server
        self.profile = DeviceProfile(
            "spark", server.host, server.user, server.port, identity_file=str(server.client_key)
        )
        # Short keepalives, so a frozen host is noticed in about a second.
        self.fleet = Fleet(
            keepalive_interval=0.5, keepalive_count_max=2, connect_timeout=3.0,
            telemetry_interval=0.2, known_hosts=tmp_path / "known_hosts",
        )
        self.fleet.confirm_host_key = self._trust_once
        self.fleet.on_event = self._event
        self.remote_tunnel = remote_tunnel
        self.web_host = web_host
        self.trusted: list[str] = []
        self.samples: list[TelemetrySample] = []
        self.sample_count = 0
        self.states: list[ConnectionState] = []
        self.loop_errors: list[dict] = []
        self.ports: dict[str, int] = {}
        self.shell = None
        self.output = bytearray()
        self.cycles = 0
        self.recoveries: list[float] = []

    async def _trust_once(self, host: str, fingerprint: str) -> bool:
        self.trusted.append(fingerprint)
        return len(self.trusted) == 1

    def _event(self, event) -> None:
        if isinstance(event, TelemetrySample):
            self.sample_count += 1
            self.samples.append(event)
            del self.samples[:-50]  # keep the test's own memory flat
        elif hasattr(event, "state") and getattr(event, "device", None) == "spark" and isinstance(event.state, ConnectionState):
            self.states.append(event.state)
            del self.states[:-50]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._old_handler = loop.get_exception_handler()
        loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(context))
        self.web = await WebPage(self.web_host).start()
        await self.fleet.connect(self.profile)
        web = await self.fleet.start_tunnel(self.profile, LoopbackSpec("web", self.web.port, 0, remote_host=self.web_host))
        self.ports["web"] = web.local_port
        if self.remote_tunnel:
            self.ports["back"] = free_port()
            spec = LoopbackSpec("back", self.ports["back"], self.web.port, kind=TunnelKind.REMOTE)
            await self.fleet.start_tunnel(self.profile, spec)
        await self.check(0)

    async def close(self) -> None:
        try:
            await self.fleet.close()
            await self.web.stop()
        finally:
            asyncio.get_running_loop().set_exception_handler(self._old_handler)

    async def open_shell(self) -> None:
        if self.shell is not None:
            await self.shell.close()
        self.output.clear()
        self.shell = await self.fleet.open_shell(
            self.profile, cols=80, rows=24, on_output=self.output.extend, on_exit=lambda status: None
        )

    async def until(self, what: str, condition: Callable[[], bool], started: float) -> None:
        while not condition():
            if time.monotonic() - started > RECOVERY_TIMEOUT:
                stats = self.fleet.tunnel_stats("spark")
                device = self.fleet._devices.get("spark")
                sampler = device.sampler if device else None
                watcher = f"sampler={sampler!r} running={getattr(sampler, 'running', None)} current_conn={getattr(sampler, 'conn', None) is self.fleet.connections.connection('spark')} closed={getattr(sampler, 'conn', None) and sampler.conn.is_closed()} made={getattr(sampler, 'samples', None)} pid={getattr(sampler, 'remote_pid', None)} states={self.states[-6:]}"
                raise AssertionError(f"cycle {self.cycles}: {what} not back after {RECOVERY_TIMEOUT}s; {self.fleet.state('spark')} {watcher} {stats}")
            await asyncio.sleep(0.05)

    async def check(self, cycle: int) -> float:
        """Wait until everything works again; returns how long healing took."""
        self.cycles = cycle
        started = time.monotonic()
        await self.until("connection", lambda: self.fleet.state("spark") is ConnectionState.CONNECTED, started)
        await self.until(
            "tunnels", lambda: all(s.state is TunnelState.UP for s in self.fleet.tunnel_stats("spark")), started
        )
        healed = time.monotonic() - started
        for stats in self.fleet.tunnel_stats("spark"):
            assert stats.local_port == self.ports[stats.spec.name] or stats.spec.kind is TunnelKind.REMOTE
        assert await http_get(self.ports["web"]) == b"hello"
        if self.remote_tunnel:  # the device's port reaches our web page again (-R restored)
            assert await http_get(self.ports["back"]) == b"hello"
        mark = time.monotonic()
        await self.until("telemetry", lambda: self.samples and self.samples[-1].time > mark, mark)
        assert self.samples[-1].cpu is None or 0 <= self.samples[-1].cpu <= 100
        await self.open_shell()
        token = f"cycle-{cycle}-{secrets.token_hex(3)}"
        self.shell.write(f"echo {token}-$((6*7))\n".encode())
        await self.until("shell", lambda: f"{token}-42".encode() in self.output, time.monotonic())
        assert self.trusted == [self.trusted[0]]  # the same host key throughout, never asked again
        assert not self.loop_errors, self.loop_errors
        self.recoveries.append(healed)
        return healed


class WebPage(WebService):
    """The tunnels' test page (``/hello``), listening on ``host``: the device must reach it."""

    def __init__(self, host: str) -> None:
        self.host = host

    async def start(self) -> WebPage:
        self.server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.requests = 0
        return self


HARNESS_FILES = ("*/logging/__init__.py", "*/_pytest/*", "*/pluggy/*", tracemalloc.__file__)
"""Allocations of pytest's log capture (it keeps every record) and of the tracer itself."""


def traced_memory() -> int:
    """Bytes traced by tracemalloc, minus what the test harness itself holds on to."""
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, f) for f in HARNESS_FILES])
    return sum(stat.size for stat in snapshot.statistics("filename"))


class Gauges:
    """Open files, tasks, traced memory and live SSH connections, against a first reading."""

    def __init__(self) -> None:
        tracemalloc.start()
        self.base: dict[str, int] | None = None

    def read(self) -> dict[str, int]:
        gc.collect()
        return {
            "fds": open_fds(),
            "tasks": len(asyncio.all_tasks()),
            "memory": traced_memory(),
            "connections": live(asyncssh.SSHClientConnection),
            "shells": live(ShellSession),
        }

    def baseline(self) -> None:
        self.base = self.read()

    def check(self, cycles: int) -> dict[str, int]:
        assert self.base is not None
        now = self.read()
        growth = {key: now[key] - self.base[key] for key in now}
        report = f"after {cycles} cycles: {now} (growth {growth})"
        print(report)
        assert growth["fds"] <= FD_GROWTH_MAX, report
        assert growth["tasks"] <= TASK_GROWTH_MAX, report
        assert growth["memory"] <= MEMORY_GROWTH_FLOOR + MEMORY_GROWTH_PER_CYCLE_MAX * cycles, report
        assert now["shells"] <= LIVE_SHELLS_MAX, report  # ended shells must be let go (and their connections)
        assert now["connections"] <= LIVE_CONNECTIONS_MAX, report
        return growth

    def stop(self) -> None:
        tracemalloc.stop()


@pytest.fixture
def quick_backoff(monkeypatch):
    """Reconnect waits capped at 2 s, reset by a link that lived 1.5 s (production: 30 s and 60 s).

    Each fault here is followed by a healthy period of at least that, so every cycle starts
    from the first, shortest wait, as a device that was fine for a minute would.
    """
    monkeypatch.setattr(tunnel_link, "BACKOFF_CAP", 2.0)
    monkeypatch.setattr(tunnel_link, "STABLE_AFTER", 1.5)


async def run_cycles(session: Session, cycles: int, fault: Callable[[], object], restore: Callable[[], object], hold: float) -> dict:
    gauges = Gauges()
    try:
        await session.start()
        # One warm-up cycle first: the first reconnect loads code and fills caches once.
        for cycle in range(1, cycles + 1):
            await asyncio.to_thread(fault)
            started = time.monotonic()
            await session.until("loss noticed", lambda: session.fleet.state("spark") is not ConnectionState.CONNECTED, started)
            await asyncio.sleep(hold)
            await asyncio.to_thread(restore)
            await session.check(cycle)
            await asyncio.sleep(1.6)  # a healthy spell: the link counts as stable again
            if cycle == 1:
                gauges.baseline()
        figures = {
            "cycles": cycles,
            "heal_max_s": round(max(session.recoveries[1:]), 2),
            "heal_mean_s": round(sum(session.recoveries[1:]) / cycles, 2),
        }
        print(f"\nfigures: {figures}")
        assert not session.loop_errors, session.loop_errors
        return gauges.check(cycles - 1)
    finally:
        gauges.stop()
        await session.close()


# --- kill and restart ------------------------------------------------------------------------------


async def test_ten_sshd_kills_and_restarts_heal_tunnels_shell_and_telemetry_without_leaks(sshd_factory, tmp_path, quick_backoff):
    server = sshd_factory()
    await run_cycles(Session(server, tmp_path), 10, server.stop, server.start, hold=0.3)


@pytest.mark.slow
async def test_a_hundred_sshd_kills_and_restarts_heal_without_leaks(sshd_factory, tmp_path, quick_backoff, request):
    require_slow(request)
    server = sshd_factory()
    await run_cycles(Session(server, tmp_path), 100, server.stop, server.start, hold=0.3)


# --- a frozen host ---------------------------------------------------------------------------------


async def test_a_host_frozen_past_its_keepalives_heals_after_it_thaws_ten_times(sshd_factory, tmp_path, quick_backoff):
    server = sshd_factory()
    # Keepalives (0.5 s x 2) give up after ~1 s; the host stays frozen 1 s more, then thaws.
    try:
        await run_cycles(Session(server, tmp_path), 10, server.pause, server.resume, hold=1.0)
    finally:
        if server.process is not None:
            server.resume()


# --- a cut link, inside a network namespace --------------------------------------------------------


class CutLink:
    """A network namespace joined to ours by a veth pair with addresses in 198.18.0.0/15 only.

    The sshd runs inside the namespace; the test talks to it over the veth. Taking our end of
    the pair down is a pulled cable. Nothing outside the pair and the namespace is touched,
    and everything is removed again by :meth:`remove`.
    """

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.netns = f"h8f{tag}"
        self.ours, self.theirs = f"h8a{tag}", f"h8b{tag}"
        block = secrets.randbelow(30000) + 1  # a random /30 inside 198.18.0.0/15
        base = (198 << 24) | (18 << 16) | (block * 4)
        self.our_address = self._dotted(base + 1)
        self.device_address = self._dotted(base + 2)

    @staticmethod
    def _dotted(value: int) -> str:
        return ".".join(str((value >> shift) & 255) for shift in (24, 16, 8, 0))

    @staticmethod
    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)

    def create(self) -> None:
        self.ip("netns", "add", self.netns)
        self.ip("link", "add", self.ours, "type", "veth", "peer", "name", self.theirs)
        self.ip("link", "set", self.theirs, "netns", self.netns)
        self.ip("addr", "add", f"{self.our_address}/30", "dev", self.ours)
        self.ip("link", "set", self.ours, "up")
        for command in (
            ("addr", "add", f"{self.device_address}/30", "dev", self.theirs),
            ("link", "set", self.theirs, "up"),
            ("link", "set", "lo", "up"),
        ):
            self.ip("netns", "exec", self.netns, "ip", *command)

    def cut(self) -> None:
        self.ip("link", "set", self.ours, "down")

    def mend(self) -> None:
        self.ip("link", "set", self.ours, "up")

    def remove(self) -> None:
        """Delete the pair and the namespace, then check that neither is left."""
        subprocess.run(["ip", "link", "del", self.ours], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, timeout=10)
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=10).stdout
        assert self.netns not in names and self.ours not in links, "the test namespace or veth was left behind"


@pytest.fixture
def cut_link(tmp_path: Path, monkeypatch):
    """An sshd inside a fresh namespace, reachable only over the veth pair; all removed after."""
    if shutil.which("ip") is None:
        pytest.fail("iproute2's ip is needed for the namespace tests: apt-get install -y iproute2", pytrace=False)
    link = CutLink()
    server = None
    try:
        link.create()
        wrapper = tmp_path / "sshd-in-netns"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {link.netns} {sshd_server.SSHD} "$@"\n')
        wrapper.chmod(0o755)
        monkeypatch.setattr(sshd_server, "SSHD", str(wrapper))
        server = Sshd(tmp_path / "sshd-netns", host=link.device_address, extra_config=f"ListenAddress {link.device_address}")
        server.start()
        yield link, server
    finally:
        if server is not None:
            server.close()
        link.remove()


@pytest.mark.netns
async def test_a_link_cut_and_restored_ten_times_heals_the_whole_session(cut_link, tmp_path, quick_backoff):
    link, server = cut_link
    # The device reaches the page over the veth (its loopback is its own); the -R check, which
    # needs the device's loopback, is left to the other two fault kinds.
    session = Session(server, tmp_path, remote_tunnel=False, web_host=link.our_address)
    await run_cycles(session, 10, link.cut, link.mend, hold=1.0)

