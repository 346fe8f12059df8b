"""The dashboard: the one place where services meet widgets.

The app owns the services' lifecycle, runs their calls in workers, turns their callbacks
into messages and routes the results to widgets. Logic about devices, tunnels or sessions
lives in the services; drawing lives in the widgets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, ComposeResult
from textual.notifications import SeverityLevel
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header

from spark_tui.app_apps import AppRouting
from spark_tui.app_devices import DeviceRouting
from spark_tui.app_files import FileRouting
from spark_tui.app_shells import ShellRouting
from spark_tui.app_themes import ThemeAndPalette
from spark_tui.app_tunnels import TunnelRouting
from spark_tui.core.device_listing import diagnostics_text
from spark_tui.core.devices import DeviceRow, merge_devices
from spark_tui.core.errors import SparkError
from spark_tui.core.untrusted import display_safe, display_safe_lines
from spark_tui.core.models import (
    Config,
    ConnectionState,
    ConnectionStatus,
    DeviceProfile,
)
from spark_tui.events import (
    ConnectionChanged,
    DiscoveryChanged,
    PortsDetected,
    ProbesChanged,
    TelemetryArrived,
    TunnelsChanged,
    while_running,
)
from spark_tui.theming import WIDGETS_CSS, apply_theme, user_themes
from spark_tui.widgets.device_list import DeviceList
from spark_tui.widgets.fleet_grid import FleetGrid
from spark_tui.widgets.shell_tabs import ShellTabs
from spark_tui.widgets.tunnel_list import TunnelList

if TYPE_CHECKING:  # types only: the app's first paint does not wait for these imports
    from spark_tui.config.store import ProfileStore
    from spark_tui.services.contracts import DeviceDiscovery, DiscoveryFactory, ProberFactory, Reachability
    from spark_tui.services.fleet import Fleet
    from spark_tui.services.shell import ShellSession

def _spark_commands():
    """The palette's provider, imported when the palette first opens (not at start-up)."""
    from spark_tui.palette import SparkCommands

    return SparkCommands


log = logging.getLogger(__name__)
APP_CSS = Path(__file__).parent / "themes" / "app.tcss"


@dataclass
class Services:
    """What the app drives, built by the CLI (tests pass real loopback ones).

    Attributes:
        store: The profile store: the app reloads it and saves settings, devices and tunnels.
        fleet: Connections and per-device services (telemetry, tunnels, shells, commands).
        discovery: Makes the mDNS browser given its snapshot callback; ``None`` disables it.
            What the app calls on it: ``services.contracts.DeviceDiscovery``.
        prober: Makes the reachability prober given its result callback; ``None`` disables it.
            What the app calls on it: ``services.contracts.Reachability``.
    """

    store: ProfileStore
    fleet: Fleet
    discovery: DiscoveryFactory | None = None
    prober: ProberFactory | None = None


class SparkApp(DeviceRouting, TunnelRouting, ShellRouting, AppRouting, FileRouting, ThemeAndPalette, App[None]):
    """spark-tui's dashboard: Devices, Tunnels and Shell panes, all from the keyboard."""

    TITLE = "spark-tui"
    CSS_PATH = [APP_CSS, WIDGETS_CSS]
    COMMANDS = App.COMMANDS | {_spark_commands}
    BINDINGS = [
        Binding("question_mark", "help", "Keys", id="app.help", tooltip="Show every key binding"),
        Binding("1", "focus_pane('device-table')", "Devices", id="app.devices", tooltip="Go to the Devices pane", show=False),
        Binding("2", "focus_pane('tunnel-table')", "Tunnels", id="app.tunnels", tooltip="Go to the Tunnels pane", show=False),
        Binding("3", "focus_pane('shell')", "Shell", id="app.shell", tooltip="Go to the Shell pane", show=False),
        Binding("t", "open_shell", "Shell", id="app.open_shell", tooltip="Open a shell tab on the selected device"),
        Binding("f", "open_files", "Files", id="app.files", tooltip="Copy files to and from the selected device", show=False),
        Binding("e", "run_command", "Run", id="app.run_command", tooltip="Run a command on one or more devices and see each output"),
        Binding("T", "external_terminal", "Terminal", id="app.external_terminal", tooltip="Open the selected device in your own terminal (OpenSSH)", show=False),
        Binding("A", "apps", "Apps", id="app.apps", tooltip="Start and stop the selected device's apps (script, port, browser)", show=False),
        Binding("D", "containers", "Containers", id="app.containers", tooltip="Docker containers on the selected device", show=False),
        Binding("v", "open_editor", "Editor", id="app.open_editor", tooltip="Open the selected device in VS Code (Remote-SSH)", show=False),
        Binding("f2", "next_theme", "Theme", id="app.theme", tooltip="Switch to the next theme", show=False),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Close tunnels and shells, then quit"),
    ]

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification of the dashboard, from any widget or screen, comes through here.

        Notifications often quote a device (a disconnect reason, a tunnel's error, a process
        name), so the text never goes through Textual's markup parser (``[/x]`` would crash
        the app, ``[@click=app.quit]`` would become an action) and control, format and bidi
        characters are shown as escapes, within a length cap. ``markup`` is accepted for
        Textual's signature and ignored.
        """
        safe = display_safe_lines(str(message), 1500, 400, escape_backslash=False)
        super().notify(safe, title=display_safe(str(title), 120), severity=severity, timeout=timeout, markup=False)

    def __init__(
        self, services: Services, config: Config, *, open_shell: str | None = None, connect: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.services = services
        self.config = config
        self._open_shell_on = open_shell
        self._connect_at_start = tuple(connect)  # saved devices to connect once the first frame is drawn
        self._discovery: DeviceDiscovery | None = None
        self._prober: Reachability | None = None
        self._discovered: tuple = ()
        self._probes: dict = {}
        self._states: dict[str, ConnectionStatus] = {}
        self._ports: dict[str, tuple] = {}
        self._selected: DeviceRow | None = None
        self._sessions: dict[str, ShellSession] = {}
        self._refresh_pending = False
        # The theme is chosen before the stylesheet is first built: switching it in on_mount
        # made Textual parse and apply every style twice before the first paint.
        self._theme_problem = ""
        try:
            apply_theme(self, config.settings.theme)
        except SparkError as error:
            self._theme_problem = str(error)
            apply_theme(self, None)
        self._advertised: set[str] = set()  # saved devices advertised in the last snapshot  # shell tab id -> services.shell.ShellSession
        self.started = time.monotonic()

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # The panes are kept as attributes: handlers run while a dialog or the palette is the
        # active screen, where app.query_one() would search the dialog instead.
        self.device_list = DeviceList(id="devices")
        self.device_list.border_title = "Devices"
        self.fleet_grid = FleetGrid(id="telemetry")
        self.fleet_grid.border_title = "Telemetry"
        self.tunnel_list = TunnelList(id="tunnels")
        self.tunnel_list.border_title = "Tunnels"
        self.shell_tabs = ShellTabs(id="shell")
        self.shell_tabs.border_title = "Shell"
        yield Header(show_clock=False, icon="⚡")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield self.device_list
                yield self.fleet_grid
            with Vertical(id="right"):
                yield self.tunnel_list
                yield self.shell_tabs
        yield Footer()

    def on_mount(self) -> None:
        for problem in user_themes().problems:  # broken or unsafe theme files, with path and line
            self.notify(problem, title="Theme file skipped", severity="warning", timeout=12)
        if self._theme_problem:
            self.notify(self._theme_problem, severity="warning")
        if self.config.settings.keys:
            self.set_keymap(dict(self.config.settings.keys))
        self.sub_title = f"{len(self.config.devices)} saved device(s)"
        self.services.fleet.on_event = self._service_event
        self.services.fleet.confirm_host_key = self._confirm_host_key
        # Drawn now, not on the coalescing timer: the first frame lists the saved devices, and a
        # key pressed at once finds its row (enter 50 ms after start hit an empty table).
        self._redraw_devices()
        self.device_list.query_one("#device-table").focus()
        # Paint first: the network work (zeroconf's import and sockets, probes) starts after.
        self.call_after_refresh(self._start_background)

    def _start_background(self) -> None:
        if self.services.prober is not None:
            self._prober = self.services.prober(lambda key, result: self.post_message(ProbesChanged({key: result})))
            self._prober.start()
            self._prober.set_targets(self._probe_targets())
        if self.services.discovery is not None:
            self._start_discovery()
        self.set_interval(1.0, self._watch_profile_file)
        for name in self._connect_at_start:
            self.connect(name)
        if self._open_shell_on:
            self.action_open_shell(self._open_shell_on)

    @work(thread=True, group="discovery", exit_on_error=False)
    def _start_discovery(self) -> None:
        """Open zeroconf's sockets off the UI thread (start() blocks until browsing runs)."""
        discovery = self.services.discovery(lambda services: self.post_message(DiscoveryChanged(services)))
        try:
            discovery.start()
        except OSError as error:
            self.call_from_thread(self.notify, f"mDNS discovery is off: {error}", severity="warning")
            return
        self._discovery = discovery

    async def on_unmount(self) -> None:
        if self._discovery is not None:
            self._discovery.close()
        if self._prober is not None:
            await self._prober.close()
        await self.close_apps()  # before the Fleet: stopping an app needs its connection
        await self.services.fleet.close()

    # -- service events in ---------------------------------------------------------------

    def _service_event(self, event: object) -> None:
        """Fleet's callback: wrap each core value in its message (thread-safe)."""
        from spark_tui.core.models import DevicePorts, DeviceTunnels, TelemetrySample

        if isinstance(event, ConnectionStatus):
            self.post_message(ConnectionChanged(event))
        elif isinstance(event, DeviceTunnels):
            self.post_message(TunnelsChanged(event.device, event.stats))
        elif isinstance(event, TelemetrySample):
            self.post_message(TelemetryArrived(event))
        elif isinstance(event, DevicePorts):
            self.post_message(PortsDetected(event.device, event.ports))

    @while_running
    def on_discovery_changed(self, message: DiscoveryChanged) -> None:
        self._discovered = message.services
        rows = self._rows()
        self._notify_online(rows)
        self._refresh_devices()
        if self._prober is not None:
            self._prober.set_targets({row.key: row.probe_target for row in rows})

    def _notify_online(self, rows: list[DeviceRow]) -> None:
        """Tell the user when a saved device starts or stops being advertised (not at start-up)."""
        now = {row.name for row in rows if row.profile is not None and row.advertised}
        before, self._advertised = self._advertised, now
        if time.monotonic() - self.started < 5.0:
            return  # the first answers after start are not news
        for name in sorted(now - before):
            self.notify(f"{name} is online (seen on the network)", timeout=4)
        for name in sorted(before - now):
            self.notify(f"{name} went offline (no longer advertised)", severity="warning", timeout=6)

    @while_running
    def on_probes_changed(self, message: ProbesChanged) -> None:
        # A probe every few seconds per device: redraw only when reachability flips (the
        # latency is shown for the highlighted device and refreshed with the next redraw).
        flipped = False
        for key, result in message.probes.items():
            previous = self._probes.get(key)
            flipped |= previous is None or previous.reachable != result.reachable
            self._probes[key] = result
        if flipped:
            self._refresh_devices()

    @while_running
    def on_connection_changed(self, message: ConnectionChanged) -> None:
        status = message.status
        previous = self._states.get(status.device)
        self._states[status.device] = status
        self._refresh_devices()
        if status.state is ConnectionState.LOST:
            self.notify(f"{status.device}: connection lost. {status.message}", severity="warning")
            self.shell_tabs.mark_device_lost(status.device)
        elif status.state is ConnectionState.CONNECTED and previous is not None and previous.state is ConnectionState.LOST:
            self.notify(f"{status.device}: connection back")
        elif status.state is ConnectionState.DISCONNECTED:
            self.fleet_grid.remove_device(status.device)

    @while_running
    def on_telemetry_arrived(self, message: TelemetryArrived) -> None:
        self.fleet_grid.update_sample(message.sample)

    @while_running
    def on_ports_detected(self, message: PortsDetected) -> None:
        self._ports[message.device] = message.ports

    # -- devices -------------------------------------------------------------------------

    def _rows(self) -> list[DeviceRow]:
        seen = self._discovery.last_seen() if self._discovery is not None else None
        return merge_devices(self.config.devices, self._discovered, self._probes, time.time(), seen=seen)

    def _refresh_devices(self) -> None:
        """Redraw the Devices pane soon: events that arrive together cost one redraw."""
        if not self._refresh_pending:
            self._refresh_pending = True
            self.set_timer(0.05, self._redraw_devices)

    def _redraw_devices(self) -> None:
        self._refresh_pending = False
        rows = self._rows()
        empty = "No saved devices and nothing found on the network yet."
        if not rows and self._discovery is not None:
            stats = self._discovery.stats()
            empty = diagnostics_text(stats, time.time() - stats.started_at)
        self.device_list.show(rows, self._states, empty + "\n\nPress a to add a device by host name or IP.")

    def _probe_targets(self) -> dict[str, tuple[str, int]]:
        return {row.key: row.probe_target for row in self._rows()}

    def _watch_profile_file(self) -> None:
        if not self.config.devices and not self._discovered:
            self._refresh_devices()  # the diagnostics count seconds and answers
        try:
            config = self.services.store.reload_if_changed()
        except SparkError as error:
            self.notify(f"{error.message}\n{error.hint}", title="Profile file not reloaded", severity="error", timeout=8)
            return
        if config is not None:
            self._set_config(config)
            self.notify("Profile file changed on disk: reloaded", timeout=2)

    def _set_config(self, config: Config) -> None:
        self.config = config
        self.sub_title = f"{len(config.devices)} saved device(s)"
        self._refresh_devices()

    def profile(self, name: str) -> DeviceProfile | None:
        """The saved profile called ``name`` (the demo device is one too)."""
        return self.config.device(name)

    # -- app-wide keys ---------------------------------------------------------------------

    # Textual's own priority keys that a shell needs too (bash history, emacs quoted-insert).
    _SHELL_KEEPS = frozenset({"command_palette", "quit"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Inside a terminal every key but the escape key belongs to the remote program."""
        if action in self._SHELL_KEEPS and self.focused is not None and self.focused.has_class("terminal-view"):
            return False
        return True

    def action_focus_pane(self, target: str) -> None:
        self.screen_stack[0].query_one(f"#{target}").focus()

    def action_help(self) -> None:
        from spark_tui.screens.help import toggle_keys

        toggle_keys(self)
