"""Which ports start and stop listening on a connected device, seen through its /proc.

:class:`PortWatch` runs ONE long-lived ``sh`` loop on the device over the shared connection;
every interval it prints ``/proc/net/tcp`` and ``/proc/net/tcp6`` followed by a marker line.
Each block is parsed (:mod:`spark_tui.core.proc_net`), filtered by the profile's allow/deny
rules, named from the preset catalogue, and handed to ``on_ports`` only when the set changed.
When new ports appear, one extra command maps their socket inodes to process names (visible
for the login user's own processes, or all when logged in as root); that runs on change, never
per poll. Also here: reading the DGX Dashboard's JupyterLab port list.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Callable

import asyncssh

from spark_tui.core.models import PortRules
from spark_tui.core.presets import DASHBOARD_PORTS_FILE, Preset, dashboard_with_jupyterlab, parse_jupyterlab_ports, preset_for_port
from spark_tui.core.proc_net import DetectedPort, forwardable_ports
from spark_tui.services.event_loop import cancel_and_wait

log = logging.getLogger(__name__)

PortsCallback = Callable[[tuple[DetectedPort, ...]], None]
MAX_BLOCK = 4 * 1024 * 1024
"""A /proc/net block larger than this is cut off (a hostile or broken device)."""


def _reader_script(marker: str, interval: float) -> str:
    return (
        f"echo '{marker} pid' $$; "
        f"while :; do cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; echo '{marker}'; sleep {interval:g}; done"
    )


def _owner_script(inodes: list[int]) -> str:
    pattern = "|".join(str(i) for i in inodes)
    return (
        "find /proc/[0-9]*/fd -lname 'socket:\\[*' -printf '%h %l\\n' 2>/dev/null"
        f" | grep -E 'socket:\\[({pattern})\\]$'"
        " | while read -r dir link; do p=${dir%/fd}; echo \"$link $(cat $p/comm 2>/dev/null)\"; done"
    )


_OWNER_LINE = re.compile(r"^socket:\[(\d+)\] (.+)$")


def parse_owners(text: str) -> dict[int, str]:
    """``socket:[inode] comm`` lines -> {inode: process name} (first owner wins)."""
    owners: dict[int, str] = {}
    for line in text.splitlines():
        match = _OWNER_LINE.match(line.strip())
        if match:
            owners.setdefault(int(match.group(1)), match.group(2).strip()[:64])
    return owners


class PortWatch:
    """Watches one device's listening TCP ports.

    Args:
        conn: The device's (shared) connection.
        on_ports: Called with the detected ports when the set changes (first call: the
            initial set, possibly empty).
        rules: The profile's allow/deny rules.
        interval: Seconds between reads on the device.
        ignore: Ports never reported (the SSH port by default).
        name_processes: Look up owning process names when new ports appear.
    """

    def __init__(
        self,
        conn: asyncssh.SSHClientConnection,
        on_ports: PortsCallback,
        *,
        rules: PortRules = PortRules(),
        interval: float = 2.0,
        ignore: frozenset[int] = frozenset({22}),
        name_processes: bool = True,
    ) -> None:
        self._conn = conn
        self._on_ports = on_ports
        self.rules = rules
        self._interval = interval
        self._ignore = ignore
        self._name_processes = name_processes
        self._marker = f"@@spark-tui-ports-{secrets.token_hex(6)}@@"
        self._process: asyncssh.SSHClientProcess | None = None
        self._task: asyncio.Task | None = None
        self._owners: dict[int, str] = {}
        self.ports: tuple[DetectedPort, ...] | None = None
        self.remote_pid: int | None = None

    async def start(self) -> None:
        """Start the remote reader and the loop that parses its output.

        Raises:
            asyncssh.Error, OSError: The device refused the command or the connection failed.
        """
        self._process = await self._conn.create_process(
            _reader_script(self._marker, self._interval), encoding="utf-8", errors="replace"
        )
        first = await self._process.stdout.readline()
        if first.startswith(self._marker):
            with contextlib.suppress(ValueError, IndexError):
                self.remote_pid = int(first.split()[-1])
        self._task = asyncio.create_task(self._run(), name="port-watch")

    async def stop(self) -> None:
        """Stop reading and end the remote loop."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
        if self._process is not None:
            self._process.close()
            self._process = None

    async def wait_stopped(self) -> None:
        """Wait until the reader ends by itself (connection lost, device killed the loop)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        assert self._process is not None
        stdout = self._process.stdout
        lines: list[str] = []
        size = 0
        while True:
            try:
                line = await stdout.readline()
            except (asyncssh.Error, OSError) as error:
                log.info("port watch ended: %s", error)
                return
            if not line:
                return  # the remote loop ended
            if line.rstrip("\n") == self._marker:
                await self._block("".join(lines))
                lines, size = [], 0
            elif size < MAX_BLOCK:
                lines.append(line)
                size += len(line)

    async def _block(self, text: str) -> None:
        ports = forwardable_ports(text, self.rules, ignore=self._ignore)
        if self.ports is not None and _same(ports, self.ports):
            return
        if self._name_processes:
            missing = [p.inode for p in ports if p.inode and p.inode not in self._owners]
            if missing:
                self._owners.update(await self._lookup_owners(missing))
        named = tuple(
            DetectedPort(p.port, p.address, p.family, _preset_name(p.port), self._owners.get(p.inode), p.inode)
            for p in ports
        )
        self.ports = named
        self._on_ports(named)

    async def _lookup_owners(self, inodes: list[int]) -> dict[int, str]:
        try:
            result = await asyncio.wait_for(self._conn.run(_owner_script(inodes), check=False), 10)
        except (asyncssh.Error, OSError, asyncio.TimeoutError):
            return {}
        return parse_owners(str(result.stdout or ""))


def _same(a: tuple[DetectedPort, ...], b: tuple[DetectedPort, ...]) -> bool:
    return [(p.port, p.address, p.family, p.inode) for p in a] == [(p.port, p.address, p.family, p.inode) for p in b]


def _preset_name(port: int) -> str | None:
    preset = preset_for_port(port)
    return preset.name if preset else None


async def read_dashboard_ports(conn: asyncssh.SSHClientConnection, path: str = DASHBOARD_PORTS_FILE) -> tuple[int, ...]:
    """The per-user JupyterLab ports the DGX Dashboard lists on the device, or ``()``.

    A missing or unreadable file is not an error: the device is simply not a Spark with the
    Dashboard, or nobody has started JupyterLab.

    Raises:
        asyncssh.Error, OSError: The connection failed.
    """
    quoted = "'" + path.replace("'", "'\\''") + "'"
    result = await conn.run(f"cat {quoted} 2>/dev/null | head -c 65536", check=False)
    return parse_jupyterlab_ports(str(result.stdout or ""))


async def dashboard_preset(conn: asyncssh.SSHClientConnection, path: str = DASHBOARD_PORTS_FILE) -> Preset:
    """The DGX Dashboard preset including the device's JupyterLab ports (read over ``conn``).

    Raises:
        asyncssh.Error, OSError: The connection failed.
    """
    return dashboard_with_jupyterlab(await read_dashboard_ports(conn, path))
