"""``spark-tui tunnel NAME PORT... [--bind ADDR]``: run tunnels without the dashboard, until Ctrl-C.

Each PORT is ``REMOTE_PORT[:LOCAL_PORT]``, a preset name (``dgx-dashboard``, ``jupyterlab``,
``ollama`` ...) or the name of a tunnel saved in the device's profile. On a terminal one status
line is redrawn in place; otherwise a plain line is printed whenever a tunnel's state or error
changes, so logs stay readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from collections.abc import Sequence

from spark_tui.core.errors import DeviceNotFound, TunnelError
from spark_tui.core.models import DeviceProfile, TunnelSpec, TunnelStats
from spark_tui.core.presets import CATALOGUE, browser_url, preset_for_port, preset_named, specs_for


def parse_forward(text: str, profile: DeviceProfile, bind: str | None) -> tuple[TunnelSpec, ...]:
    """What one PORT argument asks for.

    Args:
        text: ``"8888"``, ``"8888:18888"``, a preset name or a saved tunnel's name.
        profile: The device (for its saved tunnels).
        bind: The local listen address from ``--bind``; ``None`` when not given (then
            127.0.0.1, or a saved tunnel's own address).

    Returns:
        One spec, or several for a preset bundle.

    Raises:
        TunnelError: The text is none of those, or a port is out of range.
    """
    asked, bind = bind, bind or "127.0.0.1"
    remote, sep, local = text.strip().partition(":")
    if remote.isdigit() and (not sep or local.isdigit()):
        remote_port, local_port = int(remote), int(local) if sep else None
        for port in (remote_port, local_port):
            if port is not None and not 0 < port < 65536:
                raise TunnelError(f"port {port} in {text!r} is out of range", "ports are 1-65535")
        preset = preset_for_port(remote_port)
        single = preset is not None and len(preset.ports) == 1
        name = preset.name if single else f"port-{remote_port}"
        path = preset.browser_path if single else None
        return (TunnelSpec(name, remote_port, local_port, bind_address=bind, browser_path=path),)
    saved = next((t for t in profile.tunnels if t.name == text), None)
    if saved is not None:
        return (_rebind(saved, asked) if asked else saved,)
    preset = preset_named(text)
    if preset is not None:
        return tuple(_rebind(spec, bind) for spec in specs_for(preset))
    raise TunnelError(
        f"{text!r} is not a port (8888 or 8888:18888), a preset or a tunnel saved for {profile.name}",
        "presets: " + ", ".join(p.name for p in CATALOGUE),
    )


def _rebind(spec: TunnelSpec, bind: str) -> TunnelSpec:
    from dataclasses import replace

    return replace(spec, bind_address=bind)


def human_bytes(count: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"  # pragma: no cover


def status_line(stats: Sequence[TunnelStats]) -> str:
    """One line for all tunnels: state, open/total connections, bytes and rate each way."""
    parts = []
    for s in stats:
        part = (
            f"{s.spec.name} :{s.local_port} {s.state.value} {s.connections}/{s.total_connections} conn "
            f"up {human_bytes(s.bytes_up)} ({human_bytes(s.rate_up)}/s) "
            f"down {human_bytes(s.bytes_down)} ({human_bytes(s.rate_down)}/s)"
        )
        parts.append(part)
    return " | ".join(parts)


def change_line(stat: TunnelStats) -> str:
    """A plain log line for a state or error change of one tunnel."""
    line = f"{stat.spec.name}: {stat.state.value} on {stat.spec.bind_address}:{stat.local_port}"
    return f"{line} ({stat.last_error})" if stat.last_error else line


class StatusPrinter:
    """Turns published stats into terminal output: an in-place line on a TTY, log lines otherwise."""

    def __init__(self, out, tty: bool, raw=None) -> None:
        self.out = out
        self.raw = raw if raw is not None else out  # for our own cursor controls only
        self.tty = tty
        self._seen: dict[str, tuple] = {}

    def __call__(self, stats: tuple[TunnelStats, ...]) -> None:
        if self.tty:
            width = shutil.get_terminal_size((120, 24)).columns
            self.raw.write("\r\x1b[2K")
            self.out.write(status_line(stats)[: max(width - 1, 20)])
            self.out.flush()
            return
        for stat in stats:
            key = (stat.state, stat.last_error, stat.local_port)
            if self._seen.get(stat.spec.name) != key:
                self._seen[stat.spec.name] = key
                print(change_line(stat), file=self.out, flush=True)


def run(args, ctx) -> int:
    """Entry point of ``spark-tui tunnel``.

    Returns:
        0 after Ctrl-C (or SIGTERM) stopped the tunnels.

    Raises:
        DeviceNotFound: No saved device has that name.
        PortInUse: A local port is taken (the message names a free one).
        TunnelError: A PORT argument is invalid or a tunnel could not start.
        ConnectError: The device could not be reached.
    """
    config = ctx.store().load()
    profile = config.device(args.name)
    if profile is None:
        raise DeviceNotFound(f"no saved device named {args.name!r}", "see: spark-tui device list")
    specs: list[TunnelSpec] = []
    for text in args.ports:
        specs.extend(parse_forward(text, profile, args.bind))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise TunnelError("the same tunnel is asked for twice", "list each port once")
    from spark_tui.services import event_loop

    from spark_tui.commands.host_trust import confirm_host_key

    confirm = confirm_host_key(ctx, trust=getattr(args, "trust", None), device=profile.name)
    return event_loop.run(_serve(profile, specs, ctx, config.device, confirm))


async def _serve(profile: DeviceProfile, specs: list[TunnelSpec], ctx, profiles, confirm=None) -> int:
    from spark_tui.services.ssh import ConnectionService
    from spark_tui.services.tunnels import TunnelService, dashboard_preset, master_factory

    connections = ConnectionService(profiles=profiles, confirm_host_key=confirm)
    tty = bool(getattr(ctx.stdout, "isatty", lambda: False)())
    printer = StatusPrinter(ctx.stdout, tty, raw=ctx.raw_stdout)
    service = TunnelService(
        lambda: connections.connect(profile), profile.name, on_stats=printer, stats_interval=0.5,
        openssh=master_factory(lambda: profile, connections.known_hosts.path),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if any(s.name == "dgx-dashboard" for s in specs):
            extra = await _dashboard_extras(connections, profile, specs, dashboard_preset)
            specs = specs + extra
        for spec in specs:
            stats = await service.start(spec)
            preset = preset_named(spec.name)
            url = browser_url(preset, stats.local_port) if preset and spec.browser_path is not None else None
            where = f"{stats.spec.bind_address}:{stats.local_port}"
            warn = "  (EXPOSED beyond this computer)" if stats.spec.exposed else ""
            print(f"{spec.name}: {where} -> {profile.name} {spec.remote_host}:{spec.remote_port}"
                  + (f"  {url}" if url else "") + warn, file=ctx.stdout, flush=True)
        printer(service.stats())
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await service.close()
        with contextlib.suppress(Exception):
            await connections.close()
        if tty:
            print(file=ctx.stdout)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    return 0


async def _dashboard_extras(connections, profile, specs, dashboard_preset) -> list[TunnelSpec]:
    """The Dashboard's JupyterLab ports not already asked for, read from the device."""
    conn = await connections.connect(profile)
    dashboard = next(s for s in specs if s.name == "dgx-dashboard")
    preset = await dashboard_preset(conn)
    taken = {s.remote_port for s in specs}
    return [_rebind(s, dashboard.bind_address) for s in specs_for(preset)[1:] if s.remote_port not in taken]
