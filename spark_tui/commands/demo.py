"""``spark-tui demo``: the dashboard on the built-in demo device, or just the device.

``spark-tui demo --serve`` starts the demo device, prints how to reach it (host, port, user,
key, password, the known_hosts line, the web pages and a ready-to-paste ``ssh`` command) and
runs until Ctrl-C or SIGTERM, then exits 0.

``spark-tui demo`` makes a throwaway folder, points ``XDG_CONFIG_HOME``/``XDG_DATA_HOME``/
``XDG_STATE_HOME`` and ``SPARK_TUI_CONFIG`` into it (the user's real profiles, keys and
known_hosts are never read or written), starts the device on its own thread, trusts its host
key in that folder's known_hosts, seeds a profile file holding only ``spark-demo``, runs the
dashboard connected to it from the start, and removes the folder afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from spark_tui.config.trust import make_private_folder
from spark_tui.core.errors import SparkError
from spark_tui.core.models import Config, Settings
from spark_tui.services.owned_folders import make_owned_folder

#: The environment variables the demo points into its own folder while it runs.
ISOLATED_VARIABLES = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "SPARK_TUI_CONFIG")


def run(args, ctx) -> int:
    """Entry point of ``spark-tui demo [--serve]``.

    Raises:
        SparkError: The demo device could not start, or the demo could not keep its files
            apart from the user's.
    """
    if getattr(args, "serve", False):
        return serve(ctx)
    return run_demo_dashboard(ctx, log_level=getattr(args, "log_level", None))


# --- spark-tui demo --serve ----------------------------------------------------------------------


def serve(ctx) -> int:
    """Run the demo device in the foreground until SIGINT/SIGTERM; print how to reach it.

    Raises:
        SparkError: The device could not start (a port could not be bound, ...).
    """
    folder = make_owned_folder("spark-tui-demo-")  # swept by a later run if this one is killed
    try:
        return asyncio.run(_serve(folder, ctx.stdout))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _serve(folder: Path, out: TextIO) -> int:
    from spark_tui.services.demo import DemoDevice

    with _stop_signals() as stopped:  # installed first: a signal during start-up stops cleanly too
        device = DemoDevice(folder / "device")
        try:
            await device.start()
        except OSError as error:
            raise SparkError(f"the demo device could not start: {error}", "is loopback (127.0.0.1) available?") from error
        try:
            known_hosts = folder / "known_hosts"
            _write_private(known_hosts, device.known_hosts_line() + "\n")
            await device.advertised()
            describe(device, known_hosts, out)
            await stopped.wait()
        finally:
            await device.stop()
    print("demo device stopped", file=out, flush=True)
    return 0


def _is_terminal(out) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False


def describe(device, known_hosts: Path, out: TextIO) -> None:
    """Print the ``key: value`` lines that say how to reach a running demo device."""
    mdns = f"{device.mdns_instance} on 127.0.0.1" if device.mdns_instance else f"not advertised ({device.mdns_error or 'off'})"
    lines = [
        "spark-tui demo device: a stand-in DGX Spark on this computer's loopback (Ctrl-C stops it)",
        f"host: {device.host}",
        f"port: {device.port}",
        f"user: {device.user}",
        f"key: {device.client_key_path}",
        # Only to a person at a terminal: a redirected stdout ends up in logs and CI output
        # that others read, and the key above is what scripts should use anyway.
        f"password: {device.password}" if _is_terminal(out) else "password: (shown only on a terminal)",
        f"fingerprint: {device.host_key_fingerprint}",
        f"known_hosts: {device.known_hosts_line()}",
        f"known_hosts_file: {known_hosts}",
        f"dashboard: http://{device.host}:{device.dashboard_port}/",
        f"jupyter: http://{device.host}:{device.jupyter_port}/lab",
        f"mdns: {mdns}",
        f"ssh: {device.ssh_command(known_hosts)}",
        "The password works for one login (five wrong ones end it) and is never written to disk.",
    ]
    print("\n".join(lines), file=out, flush=True)


@contextlib.contextmanager
def _stop_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (main thread only)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (ValueError, RuntimeError, NotImplementedError):
            pass  # not the main thread: the caller stops us by cancelling
    try:
        yield stop
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


# --- spark-tui demo ------------------------------------------------------------------------------


def run_demo_dashboard(ctx, *, log_level: str | None = None) -> int:
    """Run the dashboard against the demo device, in a throwaway folder.

    Raises:
        SparkError: The device could not start or the folder could not be isolated.
    """
    from spark_tui.services.demo import DemoDeviceThread

    folder = make_owned_folder("spark-tui-demo-")  # swept by a later run if this one is killed
    try:
        with isolated_environment(folder) as config_path:
            try:
                thread = DemoDeviceThread(folder / "device")
                device = thread.start()
            except (OSError, TimeoutError) as error:
                raise SparkError(f"the demo device could not start: {error}", "is loopback (127.0.0.1) available?") from error
            try:
                seed_demo_profile(device, config_path, folder)
                from spark_tui.commands.dashboard import run_dashboard

                # The demo device is ours, trusted and on loopback: connect at once, so a
                # first-time user sees telemetry, its dashboard tunnel and discovery live
                # without knowing to press Enter.
                return run_dashboard(
                    ctx.with_config(config_path), demo=True, log_level=log_level, connect=(device.profile().name,),
                )
            finally:
                thread.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def isolated_environment(folder: Path) -> Iterator[Path]:
    """Point spark-tui's folders into ``folder`` for the duration; yields the profile file path.

    The previous values of :data:`ISOLATED_VARIABLES` are restored afterwards.
    """
    saved = {name: os.environ.get(name) for name in ISOLATED_VARIABLES}
    config_path = folder / "config" / "spark-tui" / "profiles.toml"
    try:
        for name, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                          ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):
            os.environ[name] = str(folder / sub)
        os.environ["SPARK_TUI_CONFIG"] = str(config_path)
        yield config_path
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def seed_demo_profile(device, config_path: Path, folder: Path) -> Config:
    """Trust the demo's host key and write a profile file holding only the demo device.

    Args:
        device: The running :class:`~spark_tui.services.demo.device.DemoDevice`.
        config_path: The (throwaway) profile file to create.
        folder: The throwaway folder; spark-tui's known_hosts must resolve inside it.

    Returns:
        The seeded configuration.

    Raises:
        SparkError: The platform's data folder ignores ``XDG_DATA_HOME`` (macOS, Windows), so
            the demo would touch the user's real known_hosts; nothing is written then.
        ConfigError: The profile file cannot be written.
    """
    from spark_tui.config.locations import known_hosts_path
    from spark_tui.config.store import ProfileStore

    known_hosts = known_hosts_path()
    if not known_hosts.resolve().is_relative_to(folder.resolve()):
        raise SparkError(
            "the demo cannot keep its files apart from yours on this platform",
            "run `spark-tui demo --serve` and connect to it by hand",
        )
    _append_private(known_hosts, device.known_hosts_line() + "\n")
    config = Config(devices=(device.profile(),), settings=Settings(discovery_interfaces=("127.0.0.1",)))
    ProfileStore.create_seeded(config_path, config, overwrite=True)
    return config


def _write_private(path: Path, text: str) -> None:
    make_private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)


def _append_private(path: Path, text: str) -> None:
    make_private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(text)
    os.chmod(path, 0o600)
