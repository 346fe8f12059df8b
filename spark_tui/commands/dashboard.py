"""Running the dashboard: build the services from the profile file, then hand them to the app."""

from __future__ import annotations

from spark_tui.cli import CliContext


def run(args, ctx: CliContext) -> int:
    """``spark-tui``: the dashboard on the saved profiles."""
    return run_dashboard(ctx, log_level=args.log_level)


def shell(args, ctx: CliContext) -> int:
    """``spark-tui shell NAME``: the dashboard, straight into a shell tab on NAME."""
    from spark_tui.core.errors import DeviceNotFound

    if ctx.store().load().device(args.name) is None:
        raise DeviceNotFound(f"no saved device called {args.name!r}", "see `spark-tui device list`")
    return run_dashboard(ctx, open_shell=args.name, log_level=args.log_level)


def check_terminal_core() -> str:
    """The Shell pane's terminal core, checked before anything starts (see widgets/terminal/core)."""
    from spark_tui.core.errors import SparkError
    from spark_tui.widgets.terminal.core import CoreUnavailable, core_name

    try:
        return core_name()
    except CoreUnavailable as error:
        raise SparkError(str(error), "unset SPARK_TUI_TERMINAL_CORE to use the best core available") from None


def run_dashboard(
    ctx: CliContext, *, demo: bool = False, open_shell: str | None = None, log_level: str | None = None,
    connect: tuple[str, ...] = (),
) -> int:
    """Load the profiles, build the services and run the app until the user quits.

    Args:
        ctx: CLI context (the profile file in force).
        demo: Demo mode: mDNS only on 127.0.0.1 (the demo device advertises there).
        open_shell: Open a shell tab on this device once the dashboard is up.
        connect: Saved devices to connect once the dashboard is up (the demo's own device).
        log_level: Overrides the settings' log level.

    Raises:
        ConfigError: the profile file is unreadable; it is left untouched.
        SparkError: ``SPARK_TUI_TERMINAL_CORE`` asks for a terminal core that cannot run here.
    """
    check_terminal_core()
    store = ctx.store()
    config = store.load()
    from spark_tui import logs

    logs.setup(log_level or config.settings.log_level)
    from spark_tui.app import Services, SparkApp
    from spark_tui.services.fleet import Fleet

    interfaces = ("127.0.0.1",) if demo else tuple(config.settings.discovery_interfaces)
    fleet = Fleet(
        telemetry_interval=config.settings.telemetry_interval,
        # Read the file when a jump host names another device, so hand edits count too.
        profiles=lambda name: store.load().device(name),
        mdns_interfaces=interfaces,
    )

    def discovery(on_change):
        from spark_tui.services.discovery import DiscoveryService

        return DiscoveryService(
            on_change,
            interfaces=interfaces,
            service_types=config.settings.discovery_types,
            sweep=config.settings.discovery_sweep and not demo,
        )

    def prober(on_result):
        from spark_tui.services.ssh import Prober

        return Prober(on_result)

    from spark_tui.services import event_loop

    app = SparkApp(Services(store, fleet, discovery, prober), config, open_shell=open_shell, connect=connect)
    loop = event_loop.new_event_loop()
    try:
        app.run(loop=loop)
    finally:
        event_loop.close(loop)
    for note in getattr(app, "exit_notes", ()):
        print(note, file=ctx.stdout)
    return int(app.return_code or 0)
