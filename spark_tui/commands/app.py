"""``spark-tui app list|add|remove|start|stop``: a device's saved apps, NVIDIA Sync's custom apps.

``app start NAME/APP`` runs the app's start script on the device in its own process group,
waits for its port, opens the tunnel, prints the local URL and the script's output, and runs
until Ctrl-C (or until the script ends), then stops the app: SIGTERM to its process group,
SIGKILL after a grace period, tunnel closed. ``app stop NAME/APP`` stops an app another
spark-tui started, through the pid record the start left on the device
(``~/.cache/spark-tui/apps/APP.pid``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path

from spark_tui.core.apps import AppSpec, AppState
from spark_tui.core.errors import AppError, AppNotFound, DeviceNotFound, SparkError
from spark_tui.core.models import Config, DeviceProfile


def _device(config: Config, name: str) -> DeviceProfile:
    device = config.device(name)
    if device is None:
        raise DeviceNotFound(f"no saved device named {name!r}", "see: spark-tui device list")
    return device


def _target(config: Config, text: str) -> tuple[DeviceProfile, AppSpec]:
    device_name, sep, app_name = text.partition("/")
    if not sep or not device_name or not app_name:
        raise SparkError(f"{text!r} is not NAME/APP", "e.g. spark-tui app start spark-1a2b/open-webui")
    device = _device(config, device_name)
    app = next((a for a in device.apps if a.name == app_name), None)
    if app is None:
        names = ", ".join(a.name for a in device.apps) or "none yet"
        raise AppNotFound(f"{device_name} has no app named {app_name!r}", f"its apps: {names}; add one with spark-tui app add")
    return device, app


def app_to_json(app: AppSpec) -> dict:
    """The ``--json`` form of one app (stable keys)."""
    return {
        "name": app.name,
        "port": app.port,
        "local_port": app.local_port,
        "browser_path": app.browser_path,
        "auto_open": app.auto_open,
        "start_script": app.start_script,
        "script_file": app.script_file,
    }


def list_apps(args, ctx) -> int:
    """``spark-tui app list NAME [--json]``: the device's saved apps.

    Raises:
        DeviceNotFound: No saved device has that name.
    """
    device = _device(ctx.store().load(), args.name)
    if args.json:
        json.dump([app_to_json(a) for a in device.apps], ctx.stdout, indent=2)
        ctx.stdout.write("\n")
        return 0
    if not device.apps:
        print(f"{device.name} has no apps yet; add one with: spark-tui app add {device.name} APP --port P", file=ctx.stdout)
        return 0
    print(f"{'APP':<20} {'PORT':>5} {'LOCAL':>5}  {'OPEN':<4}  SCRIPT", file=ctx.stdout)
    for app in device.apps:
        script = f"file {app.script_file}" if app.script_file else ("inline" if app.start_script else "none (tunnel only)")
        local = str(app.local_port) if app.local_port else "same"
        opens = app.browser_path if app.auto_open else "-"
        print(f"{app.name:<20} {app.port:>5} {local:>5}  {opens:<4}  {script}", file=ctx.stdout)
    return 0


def add_app(args, ctx) -> int:
    """``spark-tui app add NAME APP --port P [--script FILE] [--path /] [--open] [--preset P]``.

    Returns:
        0, or 2 when neither --port nor --preset is given.

    Raises:
        DeviceNotFound, InvalidProfile, ConfigError: as the profile store says.
        SparkError: The preset is unknown or the script file does not exist.
    """
    from dataclasses import replace

    from spark_tui.core.app_presets import APP_PRESETS, app_preset

    base = AppSpec(name=args.app, port=args.port or 1)
    if args.preset:
        preset = app_preset(args.preset)
        if preset is None:
            raise SparkError(f"no app preset named {args.preset!r}", "presets: " + ", ".join(p.name for p in APP_PRESETS))
        base = replace(preset, name=args.app)
    elif args.port is None:
        print("spark-tui app add: error: --port is required (or name a --preset)", file=ctx.stderr)
        return 2
    changes: dict = {}
    if args.port is not None:
        changes["port"] = args.port
    if args.local_port is not None:
        changes["local_port"] = args.local_port
    if args.script:
        path = Path(args.script).expanduser().resolve()
        if not path.is_file():
            raise SparkError(f"script file {path} does not exist", "give the path of a shell script on this computer")
        changes.update(script_file=str(path), start_script=None)
    if args.path:
        changes["browser_path"] = args.path
    if args.open:
        changes["auto_open"] = True
    app = replace(base, **changes)
    store = ctx.store()
    _device(store.load(), args.name)
    store.save_app(args.name, app)
    print(f"saved app {app.name} (port {app.port}) for {args.name}; start it with: spark-tui app start {args.name}/{app.name}", file=ctx.stdout)
    return 0


def remove_app(args, ctx) -> int:
    """``spark-tui app remove NAME APP``.

    Raises:
        DeviceNotFound, AppNotFound, ConfigError: as the profile store says.
    """
    ctx.store().remove_app(args.name, args.app)
    print(f"removed app {args.app} from {args.name}", file=ctx.stdout)
    return 0


def stop_app(args, ctx) -> int:
    """``spark-tui app stop NAME/APP``: stop the app's process group through its record on the device.

    Raises:
        DeviceNotFound, AppNotFound: Unknown device or app.
        ConnectError: The device cannot be reached.
        AppError: The app's processes survived SIGKILL.
    """
    config = ctx.store().load()
    device, app = _target(config, args.target)
    from spark_tui.services import event_loop

    async def run() -> str:
        from spark_tui.services.apps import stop_on_device
        from spark_tui.commands.host_trust import confirm_for
        from spark_tui.services.ssh import ConnectionService

        connections = ConnectionService(profiles=config.device, confirm_host_key=confirm_for(ctx, args, device.name))
        try:
            return await stop_on_device(await connections.connect(device), app.name, args.grace)
        finally:
            await connections.close()

    word = event_loop.run(run())
    text = {"none": "was not running", "stopped": "stopped", "killed": f"killed (did not stop within {args.grace:g} s of SIGTERM)"}[word]
    print(f"{device.name}/{app.name}: {text}", file=ctx.stdout)
    return 0


def start_app(args, ctx) -> int:
    """``spark-tui app start NAME/APP``: start, print the URL, run until Ctrl-C, then stop.

    Returns:
        0 after Ctrl-C, or when the script ended by itself with status 0; 1 when it ended with
        another status.

    Raises:
        AppError: The app could not start (its last output is printed first).
        DeviceNotFound, AppNotFound, ConnectError, PortInUse, TunnelError: as named.
    """
    config = ctx.store().load()
    device, app = _target(config, args.target)
    from spark_tui.services import event_loop

    try:
        return event_loop.run(_serve(device, app, config, ctx, args))
    except AppError as error:
        if error.output:
            print(f"{app.name} printed last:", file=ctx.stderr)
            for line in error.output[-15:]:
                print(f"  | {line}", file=ctx.stderr)
        raise


async def _first(work, stop: asyncio.Event):
    """Run ``work`` until it ends or ``stop`` is set (then cancel it). Returns its result or ``None``."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def _serve(device: DeviceProfile, app: AppSpec, config: Config, ctx, args) -> int:
    from spark_tui.services.apps import AppService
    from spark_tui.commands.host_trust import confirm_for
    from spark_tui.services.ssh import ConnectionService
    from spark_tui.services.tunnels import TunnelService, master_factory

    connections = ConnectionService(profiles=config.device, confirm_host_key=confirm_for(ctx, args, device.name))
    tunnels = TunnelService(
        lambda: connections.connect(device), device.name,
        openssh=master_factory(lambda: device, connections.known_hosts.path),
    )

    async def open_tunnel(spec) -> int:
        return (await tunnels.start(spec)).local_port

    def show(name: str, line: str) -> None:
        print(f"[{name}] {line}", file=ctx.stdout, flush=True)

    seen: list[str] = []

    def progress(text: str) -> None:
        if not seen or seen[-1].split(" (")[0] != text.split(" (")[0]:
            print(text, file=ctx.stdout, flush=True)
        seen.append(text)

    service = AppService(
        lambda: connections.connect(device), device.name, open_tunnel=open_tunnel, close_tunnel=tunnels.stop,
        on_output=show, port_timeout=args.timeout, grace=args.grace,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        status = await _first(service.start(app, on_progress=progress), stop)
        if status is None:  # Ctrl-C while starting: the start was cancelled and the app stopped
            print(f"{app.name}: start interrupted; stopped", file=ctx.stderr, flush=True)
            return 130
        print(f"{app.name} is up: {status.local_url}  (Ctrl-C stops it)", file=ctx.stdout, flush=True)
        if app.auto_open and not args.no_open:
            import webbrowser

            webbrowser.open(status.local_url)
        if app.has_script:
            await _first(service.wait_ended(app.name), stop)
        final = service.status(app.name)
        if not stop.is_set() and final is not None and final.state is AppState.STOPPED:  # the script ended by itself
            print(f"{app.name} {final.message}", file=ctx.stdout, flush=True)
            return 0 if final.exit_status == 0 else 1
        if not stop.is_set():  # the log stream ended with the connection; the app runs on
            print(f"{app.name}: lost its output (connection dropped); it keeps running; Ctrl-C stops it", file=ctx.stdout, flush=True)
            await stop.wait()
        if args.leave_running:
            service.leave_running(app.name)
        left = await service.close()
        if left:
            print(f"{app.name} keeps running on {device.name}; stop it with: spark-tui app stop {device.name}/{app.name}", file=ctx.stdout, flush=True)
        else:
            final = service.status(app.name)
            print(f"{app.name}: {final.message if final else 'stopped'}", file=ctx.stdout, flush=True)
        return 0
    finally:
        with contextlib.suppress(Exception):
            await service.close()
        with contextlib.suppress(Exception):
            await tunnels.close()
        with contextlib.suppress(Exception):
            await connections.close()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
