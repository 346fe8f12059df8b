"""Apps of one device: run the start script in its own process group, wait for the port, tunnel.

:class:`AppService` is NVIDIA Sync's custom apps done over one shared SSH connection:

* ``start(spec)`` sends the script (inline or read from a local file) and starts it with
  ``setsid`` (see :mod:`.remote`); its output streams back line by line (``on_output`` and
  :meth:`output`), then the device's ``/proc/net/tcp`` is polled until something listens on
  ``spec.port``, then the tunnel opens through the ``open_tunnel`` callable (the dashboard's
  Fleet or the CLI's own TunnelService, so an app's tunnel is a tunnel like any other).
* A script that ends before its port listens, or a port that never comes, raises
  :class:`AppError` carrying the script's last lines.
* ``stop(name)`` sends SIGTERM to the whole group, SIGKILL after ``grace`` seconds, and closes
  the tunnel. A script that ends by itself marks the app stopped with its exit status.
* ``close()`` stops every app this service started, except those marked ``leave_running``.

No UI here: callbacks and return values only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncssh

from spark_tui.core.apps import AppSpec, AppState, AppStatus, local_url
from spark_tui.core.errors import AppError, SparkError
from spark_tui.core.models import TunnelSpec
from spark_tui.core.proc_net import parse_listening, reachable_through_tunnel
from spark_tui.core.untrusted import display_safe
from spark_tui.services.apps import remote
from spark_tui.services.event_loop import cancel_and_wait

log = logging.getLogger(__name__)

KEEP_LINES = 500
"""Lines of output kept per app (the dashboard's log view and the CLI's failure report)."""


@dataclass
class _Running:
    spec: AppSpec
    status: AppStatus
    lines: deque = field(default_factory=lambda: deque(maxlen=KEEP_LINES))
    follower: asyncio.Task | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    exit_word: str = ""  # what the device said when the script ended: a status or "killed"
    tunnel: str | None = None


class AppService:
    """Start, follow and stop the apps of one device.

    Args:
        connect: Returns the device's (shared) asyncssh connection.
        device: Device name (copied into every status).
        open_tunnel: Opens a tunnel and returns the local port it bound.
        close_tunnel: Closes the tunnel of that name.
        on_status: Receives every status change.
        on_output: Receives ``(app, line)`` for each line the script prints (already made safe).
        port_timeout: Seconds to wait for the app's port.
        grace: Seconds between SIGTERM and SIGKILL on stop.
        poll: Seconds between port checks.
    """

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncssh.SSHClientConnection]],
        device: str,
        *,
        open_tunnel: Callable[[TunnelSpec], Awaitable[int]],
        close_tunnel: Callable[[str], Awaitable[None]],
        on_status: Callable[[AppStatus], None] | None = None,
        on_output: Callable[[str, str], None] | None = None,
        port_timeout: float = 120.0,
        grace: float = 10.0,
        poll: float = 0.5,
    ) -> None:
        self._connect = connect
        self.device = device
        self._open_tunnel = open_tunnel
        self._close_tunnel = close_tunnel
        self._on_status = on_status or (lambda status: None)
        self._on_output = on_output or (lambda app, line: None)
        self.port_timeout = port_timeout
        self.grace = grace
        self.poll = poll
        self._apps: dict[str, _Running] = {}

    # ------------------------------------------------------------------ public API

    def status(self, name: str) -> AppStatus | None:
        """The app's last status, or ``None`` when this service never started it."""
        running = self._apps.get(name)
        return running.status if running else None

    def statuses(self) -> tuple[AppStatus, ...]:
        """Every app this service started, in start order."""
        return tuple(r.status for r in self._apps.values())

    def output(self, name: str) -> tuple[str, ...]:
        """The lines the app's script printed (the last ``KEEP_LINES``)."""
        running = self._apps.get(name)
        return tuple(running.lines) if running else ()

    def leave_running(self, name: str, leave: bool = True) -> None:
        """Keep (or no longer keep) the app running when :meth:`close` runs."""
        running = self._apps.get(name)
        if running is not None:
            self._set(running, leave_running=leave)

    async def start(self, spec: AppSpec, *, on_progress: Callable[[str], None] | None = None) -> AppStatus:
        """Start the app and return once its tunnel is up (state ``running``, ``local_url`` set).

        Raises:
            AppError: It is already running, its script file cannot be read, the script ended
                before the port listened, or the port did not listen within ``port_timeout``
                (the error's ``output`` has the script's last lines; the app is stopped).
            ConnectError: The device cannot be reached.
            PortInUse, TunnelError: The tunnel could not open (the app is stopped).
        """
        progress = on_progress or (lambda text: None)
        current = self._apps.get(spec.name)
        if current is not None and current.status.state in (AppState.STARTING, AppState.RUNNING, AppState.STOPPING):
            raise AppError(f"{spec.name} is already {current.status.state.value}", f"stop it first: spark-tui app stop {self.device}/{spec.name}")
        script = _script_text(spec)
        running = _Running(spec, AppStatus(self.device, spec.name, AppState.STARTING, message="starting"))
        self._apps[spec.name] = running
        self._on_status(running.status)
        try:
            conn = await self._connect()
            if script is not None:
                progress(f"starting {spec.name} on {self.device}")
                await self._launch(conn, running, script)
            else:
                await self._check_not_running(conn, spec.name)
            progress(f"waiting for {self.device} to listen on port {spec.port}")
            await self._wait_for_port(conn, running, progress)
            local_port = await self._open_tunnel(self._tunnel_spec(spec))
            running.tunnel = spec.name
        except BaseException as error:
            message = error.message if isinstance(error, SparkError) else str(error) or type(error).__name__
            await self._abort(running, message)
            raise
        self._set(running, state=AppState.RUNNING, local_url=local_url(local_port, spec.browser_path), message="running")
        return running.status

    async def stop(self, name: str) -> AppStatus | None:
        """Stop the app's whole process group on the device and close its tunnel.

        Returns:
            The final status, or ``None`` when this service did not start it.

        Raises:
            ConnectError: The device cannot be reached (the tunnel is closed anyway).
        """
        running = self._apps.get(name)
        if running is None:
            return None
        if running.status.state in (AppState.STOPPED, AppState.FAILED) and running.follower is None:
            await self._drop_tunnel(running)
            return running.status
        self._set(running, state=AppState.STOPPING, message="stopping")
        try:
            if running.spec.has_script:
                conn = await self._connect()
                word = await stop_on_device(conn, name, self.grace)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(running.ended.wait(), 5.0)
                message = {"killed": "killed after the grace period", "none": "was not running"}.get(word, "stopped")
            else:
                message = "stopped"
        finally:
            await self._drop_tunnel(running)
            if running.follower is not None:
                await cancel_and_wait(running.follower)
                running.follower = None
        self._set(running, state=AppState.STOPPED, local_url="", message=message)
        return running.status

    async def wait_ended(self, name: str) -> AppStatus | None:
        """Wait until the app's script ends (by itself or by :meth:`stop`)."""
        running = self._apps.get(name)
        if running is None:
            return None
        await running.ended.wait()
        return running.status

    async def close(self) -> list[str]:
        """Stop every app not marked ``leave_running``.

        Returns:
            The names of the apps left running on the device.
        """
        left = []
        for name, running in list(self._apps.items()):
            if running.status.state in (AppState.STOPPED, AppState.FAILED):
                continue
            if running.status.leave_running:
                left.append(name)
                await self._drop_tunnel(running)
                if running.follower is not None:
                    await cancel_and_wait(running.follower)
                continue
            try:
                await self.stop(name)
            except Exception as error:  # one app must not keep the others running
                log.warning("stopping app %s on %s failed: %s", name, self.device, error)
        return left

    # ------------------------------------------------------------------ internals

    def _tunnel_spec(self, spec: AppSpec) -> TunnelSpec:
        local = spec.local_port
        if local is None:
            from spark_tui.services.tunnels import next_free_port

            local = next_free_port(spec.port) or 0  # the same number when free, as Sync does
        return TunnelSpec(name=spec.name, remote_port=spec.port, local_port=local, browser_path=spec.browser_path)

    async def _launch(self, conn: asyncssh.SSHClientConnection, running: _Running, script: str) -> None:
        marker = "@@spark-tui-" + secrets.token_hex(8)
        process = await conn.create_process(remote.start_command(running.spec.name, marker, with_script=True), encoding=None)
        process.stdin.write(script.encode())
        process.stdin.write_eof()
        first = await _read_line(process.stdout)
        parsed = remote.parse_marker(first, marker)
        if parsed is None or parsed[0] != "pid":
            err = ""
            if parsed is None:
                with contextlib.suppress(asyncio.TimeoutError, asyncssh.Error, OSError):
                    err = (await asyncio.wait_for(process.stderr.read(4096), 5.0)).decode(errors="replace")
            process.close()
            if parsed and parsed[0] == "running":
                raise AppError(f"{running.spec.name} is already running on {self.device} (process group {parsed[1]})",
                               f"stop it first: spark-tui app stop {self.device}/{running.spec.name}")
            raise AppError(f"could not start {running.spec.name} on {self.device}: {display_safe(err.strip() or first, 200)}",
                           "does the device have setsid and GNU tail (util-linux, coreutils)?")
        running.follower = asyncio.create_task(self._follow(process, running, marker), name=f"app-log:{running.spec.name}")

    async def _check_not_running(self, conn: asyncssh.SSHClientConnection, name: str) -> None:
        """An app without a script starts nothing; still refuse when a scripted run of it is alive."""
        marker = "@@spark-tui-" + secrets.token_hex(8)
        result = await conn.run(remote.start_command(name, marker, with_script=False), check=False)
        parsed = remote.parse_marker(str(result.stdout or "").strip(), marker)
        if parsed and parsed[0] == "running":
            raise AppError(f"{name} is already running on {self.device}", f"stop it first: spark-tui app stop {self.device}/{name}")

    async def _follow(self, process: asyncssh.SSHClientProcess, running: _Running, marker: str) -> None:
        name = running.spec.name
        try:
            while True:
                line = await _read_line(process.stdout)
                if not line and process.stdout.at_eof():
                    break
                parsed = remote.parse_marker(line, marker)
                if parsed is not None and parsed[0] == "exit":
                    running.exit_word = parsed[1]
                    break
                line = _terminal_free(line)
                if line:
                    safe = display_safe(line, 400)
                    running.lines.append(safe)
                    self._on_output(name, safe)
        except (asyncssh.Error, OSError) as error:
            log.info("log of %s on %s ended: %s", name, self.device, error)
        finally:
            process.close()
            running.ended.set()
            running.follower = None
        if running.exit_word and running.status.state in (AppState.RUNNING, AppState.STARTING):
            status = int(running.exit_word) if running.exit_word.isdigit() else None
            text = f"exited with status {status}" if status is not None else "ended by a signal"
            self._set(running, state=AppState.STOPPED, exit_status=status, local_url="", message=text)
            if running.tunnel is not None:
                asyncio.get_running_loop().create_task(self._after_exit(running))

    async def _after_exit(self, running: _Running) -> None:
        """The script ended by itself: close the tunnel and end what is left of its group."""
        await self._drop_tunnel(running)
        with contextlib.suppress(Exception):
            await stop_on_device(await self._connect(), running.spec.name, self.grace)

    async def _wait_for_port(self, conn: asyncssh.SSHClientConnection, running: _Running, progress: Callable[[str], None]) -> None:
        spec = running.spec
        began = time.monotonic()
        while True:
            result = await conn.run("cat /proc/net/tcp /proc/net/tcp6 2>/dev/null", check=False)
            text = result.stdout if isinstance(result.stdout, str) else ""
            if any(p.port == spec.port and reachable_through_tunnel(p.address) for p in parse_listening(text)):
                return
            if running.ended.is_set():
                word = running.exit_word
                how = f"exited with status {word}" if word.isdigit() else "was killed"
                raise AppError(f"the start script of {spec.name} {how} before port {spec.port} listened",
                               "its last output is shown; fix the script and start again", tuple(running.lines)[-20:])
            waited = time.monotonic() - began
            if waited > self.port_timeout:
                last = running.lines[-1] if running.lines else "(nothing)"
                raise AppError(f"{spec.name} did not listen on port {spec.port} within {self.port_timeout:g} s; it printed last: {last}",
                               "check the port in the app's settings, or give it longer", tuple(running.lines)[-20:])
            self._set(running, message=f"waiting for port {spec.port} ({waited:.0f} s)")
            progress(f"waiting for port {spec.port} ({waited:.0f} s)")
            await asyncio.sleep(self.poll)

    async def _abort(self, running: _Running, message: str) -> None:
        with contextlib.suppress(Exception):
            if running.spec.has_script and running.follower is not None:
                await stop_on_device(await self._connect(), running.spec.name, self.grace)
        if running.follower is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(running.ended.wait()), 3.0)
            if running.follower is not None:
                await cancel_and_wait(running.follower)
        await self._drop_tunnel(running)
        status = int(running.exit_word) if running.exit_word.isdigit() else None
        self._set(running, state=AppState.FAILED, exit_status=status, local_url="", message=message)

    async def _drop_tunnel(self, running: _Running) -> None:
        name, running.tunnel = running.tunnel, None
        if name is not None:
            with contextlib.suppress(Exception):
                await self._close_tunnel(name)

    def _set(self, running: _Running, **changes) -> None:
        running.status = replace(running.status, **changes)
        self._on_status(running.status)


async def stop_on_device(conn: asyncssh.SSHClientConnection, name: str, grace: float) -> str:
    """Stop app ``name``'s process group through its record on the device.

    Returns:
        ``none`` (nothing was running), ``stopped`` or ``killed``.

    Raises:
        AppError: The group survived SIGKILL (it printed ``still-running``).
    """
    result = await conn.run(remote.stop_command(name, grace), check=False)
    word = str(result.stdout or "").strip().splitlines()[-1:] or ["none"]
    if word[0] not in ("none", "stopped", "killed"):
        raise AppError(f"{name} on the device did not stop", "look for its processes with: ps -eo pid,pgid,cmd")
    return word[0]


async def app_record_status(conn: asyncssh.SSHClientConnection, name: str) -> tuple[str, str]:
    """What the device's record says of app ``name``: ``("running", PGID)``, ``("exited", STATUS)``
    or ``("none", "")``."""
    result = await conn.run(remote.status_command(name), check=False)
    words = str(result.stdout or "").split()
    if len(words) == 2 and words[0] in ("running", "exited") and words[1].isdigit():
        return words[0], words[1]
    return "none", ""


def _script_text(spec: AppSpec) -> str | None:
    if spec.script_file is not None:
        path = Path(spec.script_file).expanduser()
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise AppError(f"cannot read the start script {path}: {getattr(error, 'strerror', None) or error}",
                           "fix script_file in the app's settings") from None
    if spec.start_script and spec.start_script.strip():
        return spec.start_script
    return None


_CSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]")


def _terminal_free(line: str) -> str:
    """A log line as a person reads it: colours dropped, only what a progress bar left after its last
    carriage return, tabs expanded (``display_safe`` then escapes anything else)."""
    return _CSI.sub("", line.rsplit("\r", 1)[-1]).expandtabs(4)


async def _read_line(stream) -> str:
    data = await stream.readline()
    return data.decode("utf-8", errors="replace").rstrip("\r\n") if isinstance(data, bytes) else str(data).rstrip("\r\n")
